#include "sim/report.h"

#include <iomanip>
#include <nlohmann/json.hpp>

#include "pki/key.h"

namespace sitechain::sim {

namespace {

std::string Sample(const std::vector<double>& values) {
  std::string out;
  char buf[32];
  for (double v : values) {
    if (!out.empty()) out += ';';
    std::snprintf(buf, sizeof buf, "%.0f", v);
    out += buf;
  }
  return out;
}

}  // namespace

void WriteCsv(std::ostream& out, std::span<const CellResult> cells) {
  out << "policy,services,nodes,runs,duration_s,seconds_with_traffic,min,q1,median,q3,"
         "whisker_low,whisker_high,max,outliers,mean,p999,renewals_peak,renewals_p999,"
         "certificates,calls,failed_calls,drops,bytes_total,mean_bytes_per_s,expired_online_s,"
         "stale_after_reconnect_s,policy_reach_max_s,events,outlier_sample\n";
  out << std::fixed;
  for (const CellResult& c : cells) {
    const BoxStats& b = c.bytes;
    out << c.policy << ',' << c.services << ',' << c.nodes << ',' << c.runs << ','
        << std::setprecision(0) << c.duration_s << ',' << b.count << ',' << std::setprecision(1)
        << b.min << ',' << b.q1 << ',' << b.median << ',' << b.q3 << ',' << b.whisker_low << ','
        << b.whisker_high << ',' << b.max << ',' << b.outliers << ',' << b.mean << ',' << b.p999
        << ',' << std::setprecision(0) << c.renewals_peak << ',' << std::setprecision(1)
        << c.renewals_p999 << ',' << c.certificates << ',' << c.calls << ',' << c.failed_calls
        << ',' << c.drops << ',' << c.bytes_total << ',' << std::setprecision(2)
        << c.mean_bytes_per_s << ',' << std::setprecision(3) << c.expired_online_s << ','
        << c.stale_after_reconnect_s << ',' << c.policy_reach_max_s << ',' << c.events << ','
        << Sample(b.outlier_sample) << '\n';
  }
}

void WriteJson(std::ostream& out, std::span<const CellResult> cells, const MessageSizes& sizes,
               const std::string& settings_json) {
  nlohmann::json j;
  j["settings"] = nlohmann::json::parse(settings_json, nullptr, false);
  const MessageSizeOptions& o = sizes.options();
  nlohmann::json& m = j["message_sizes"];
  m["site_key"] = std::string(pki::KeyTypeName(o.site_key));
  m["instance_key"] = std::string(pki::KeyTypeName(o.instance_key));
  m["csr_der_bytes"] = sizes.csr_der().size();
  m["request_entry_bytes"] = sizes.request_entry();
  m["response_entry_bytes_payload_0"] = sizes.response_entry(0);
  m["response_entry_bytes_payload_max"] = sizes.response_entry(sizes.max_payload());
  m["cert_site_der_bytes_payload_0"] = sizes.cert_site_der(0).size();
  m["cert_site_der_bytes_payload_max"] = sizes.cert_site_der(sizes.max_payload()).size();
  m["max_payload"] = sizes.max_payload();
  m["overhead_per_call"] = o.overhead_per_call;
  m["single_call_bytes_payload_0"] = sizes.SingleCall(0);
  m["single_call_bytes_payload_max"] = sizes.SingleCall(sizes.max_payload());
  nlohmann::json& rows = j["cells"];
  rows = nlohmann::json::array();
  for (const CellResult& c : cells) {
    const BoxStats& b = c.bytes;
    rows.push_back({
        {"policy", c.policy},
        {"services", c.services},
        {"nodes", c.nodes},
        {"runs", c.runs},
        {"duration_s", c.duration_s},
        {"bytes_per_s",
         {{"seconds_with_traffic", b.count},
          {"min", b.min},
          {"q1", b.q1},
          {"median", b.median},
          {"q3", b.q3},
          {"whisker_low", b.whisker_low},
          {"whisker_high", b.whisker_high},
          {"max", b.max},
          {"outliers", b.outliers},
          {"mean", b.mean},
          {"p999", b.p999},
          {"outlier_sample", b.outlier_sample}}},
        {"renewals_per_s", {{"peak", c.renewals_peak}, {"p999", c.renewals_p999}}},
        {"certificates", c.certificates},
        {"calls", c.calls},
        {"failed_calls", c.failed_calls},
        {"drops", c.drops},
        {"bytes_total", c.bytes_total},
        {"mean_bytes_per_s", c.mean_bytes_per_s},
        {"expired_online_s", c.expired_online_s},
        {"stale_after_reconnect_s", c.stale_after_reconnect_s},
        {"policy_reach_max_s", c.policy_reach_max_s},
        {"events", c.events},
    });
  }
  out << j.dump(2) << '\n';
}

}  // namespace sitechain::sim
