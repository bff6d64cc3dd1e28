// renewal-sim: the renewal-traffic simulator. Parses the command line and hands over to
// sim/sweep.h; docs/simulator.md is the guide.
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/cli.h"
#include "pki/key.h"
#include "sim/message_sizes.h"
#include "sim/policies.h"
#include "sim/report.h"
#include "sim/sweep.h"

using namespace sitechain;
using namespace sitechain::sim;

namespace {

// "30:600:30" (from:to:step) or "30,60,450" or "450".
Result<std::vector<uint32_t>> ParseAmounts(const std::string& text) {
  std::vector<uint32_t> out;
  try {
    if (text.find(':') != std::string::npos) {
      std::vector<long> parts;
      std::stringstream ss(text);
      for (std::string p; std::getline(ss, p, ':');) parts.push_back(std::stol(p));
      if (parts.size() != 3 || parts[0] < 1 || parts[1] < parts[0] || parts[2] < 1) {
        return InvalidArgument("--services range must be from:to:step with 1 <= from <= to");
      }
      for (long v = parts[0]; v <= parts[1]; v += parts[2]) out.push_back(static_cast<uint32_t>(v));
    } else {
      std::stringstream ss(text);
      for (std::string p; std::getline(ss, p, ',');) {
        const long v = std::stol(p);
        if (v < 1 || v > 100000000) return InvalidArgument("--services values must be >= 1");
        out.push_back(static_cast<uint32_t>(v));
      }
    }
  } catch (const std::exception&) {
    return InvalidArgument("--services must be from:to:step or a comma-separated list");
  }
  if (out.empty()) return InvalidArgument("--services names no amount");
  return out;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ',');) {
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "renewal-sim - simulate the network traffic of a site's Cert_site renewals (the paper's "
      "Sec. IV and Fig. 3, and better policies).\n\n"
      "Each (policy, amount of services) cell is run --runs times for --duration simulated "
      "seconds; the traffic of every second with traffic (request + reply bytes of the real "
      "sitechain.v1 Renew messages) is summarised as boxplot statistics, written as CSV (and "
      "JSON). Defaults are the paper's setup. Example, the paper's Fig. 3:\n"
      "  renewal-sim --csv fig3.csv && /usr/bin/python3 sim/plot_fig3.py fig3.csv -o fig3.png\n"
      "Every policy at 600 services:\n"
      "  renewal-sim --policies all --services 600 --csv table.csv",
      "renewal-sim"};
  app.set_version_flag("--version", "sitechain renewal-sim 0.1.0");
  app.get_formatter()->column_width(38);

  std::string policies_text = "at-expiry,paper-backoff";
  std::string services_text = "30:600:30";
  uint32_t runs = 20;
  uint64_t seed = 1;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::string csv_path = "-";
  std::string json_path;
  bool quiet = false;
  bool list_policies = false;
  bool sizes_only = false;

  ModelConfig base;
  int64_t duration = base.duration.count();
  int64_t lifetime = base.lifetime.count();
  std::string lifetime_from = "renewal";
  int64_t start_spread = base.start_spread.count();
  int64_t offline_min = base.offline_min.count();
  int64_t offline_max = base.offline_max.count();
  std::string site_key = "rsa-2048";
  std::string instance_key = "rsa-2048";
  uint32_t overhead = 0;

  // Policy overrides: applied after the preset, only when given.
  double backoff_fraction = base.policy.backoff_fraction;
  int64_t backoff = 0;
  double window_start = base.policy.window_start;
  double window_end = base.policy.window_end;
  int64_t retry_initial = base.policy.retry_initial.count();
  int64_t retry_max = base.policy.retry_max.count();
  std::string reconnect = "all";
  double reconnect_spacing = 0;
  int64_t batch_horizon = 0;
  bool slsm_windows = false;
  int64_t policy_change_at = -1;
  int64_t renew_now_window = 0;

  app.add_option("--policies,-p", policies_text,
                 "comma-separated policies to compare, or 'all' (see --list-policies)")
      ->capture_default_str();
  app.add_flag("--list-policies", list_policies, "list the policies and exit");
  app.add_option("--services,-n", services_text,
                 "amounts of services: from:to:step or a list (the paper: 30:600:30)")
      ->capture_default_str();
  app.add_option("--services-per-node", base.services_per_node, "services on each node")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--runs,-r", runs, "runs per (policy, amount)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--duration,-d", duration, "simulated seconds per run (a week: 604800)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lifetime", lifetime, "Cert_site lifetime in seconds")->capture_default_str();
  app.add_option("--lifetime-from", lifetime_from,
                 "a renewed certificate's validity starts at the 'renewal' or at the "
                 "'previous-expiry'")
      ->capture_default_str();
  app.add_option("--start-spread", start_spread,
                 "services start uniformly within this many seconds (power cut: about at once)")
      ->capture_default_str();
  app.add_option("--churn-rate", base.churn_rate,
                 "drop-outs per online node per second (the paper's 0.001 %)")
      ->capture_default_str();
  app.add_option("--offline-min", offline_min, "shortest offline time, s")->capture_default_str();
  app.add_option("--offline-max", offline_max, "longest offline time, s")->capture_default_str();
  app.add_option("--payload-min", base.payload_min, "smallest extra sitePolicy payload, bytes")
      ->capture_default_str();
  app.add_option("--payload-max", base.payload_max, "largest extra sitePolicy payload, bytes")
      ->capture_default_str();
  app.add_option("--site-key", site_key,
                 "key type that signs Cert_site: ed25519 | ecdsa-p256 | "
                 "rsa-2048 | rsa-3072")
      ->capture_default_str();
  app.add_option("--instance-key", instance_key, "key type of the service instance (in the CSR)")
      ->capture_default_str();
  app.add_option("--tls-overhead", overhead,
                 "bytes added per Renew call for TLS records, HTTP/2 and gRPC framing "
                 "(docs/simulator.md suggests 160)")
      ->capture_default_str();

  auto* o_backoff_fraction = app.add_option("--backoff-fraction", backoff_fraction,
                                            "paper-backoff: B as a fraction of the lifetime");
  auto* o_backoff = app.add_option("--backoff", backoff, "paper-backoff: B in seconds");
  auto* o_window_start =
      app.add_option("--window-start", window_start, "window policies: start, fraction of life");
  auto* o_window_end =
      app.add_option("--window-end", window_end, "window policies: end, fraction of life");
  auto* o_retry_initial = app.add_option("--retry-initial", retry_initial, "first retry delay, s");
  auto* o_retry_max = app.add_option("--retry-max", retry_max, "longest retry delay, s");
  auto* o_reconnect = app.add_option("--reconnect", reconnect,
                                     "what a reconnecting node renews: all | expired | due");
  auto* o_reconnect_spacing = app.add_option("--reconnect-spacing", reconnect_spacing,
                                             "due: seconds between reconnect renewals");
  auto* o_batch = app.add_option("--batch-horizon", batch_horizon,
                                 "per-node batching: also renew what is due within this many s");
  auto* o_slsm = app.add_option("--slsm-windows", slsm_windows,
                                "slsm suggests load-levelled windows (true/false)");
  app.add_option("--slsm-window-choices", base.slsm_window_choices,
                 "seconds the slsm samples per suggestion")
      ->capture_default_str();
  auto* o_change = app.add_option("--policy-change-at", policy_change_at,
                                  "a site-wide sitePolicy change at this second (default: none)");
  auto* o_renew_now = app.add_option("--renew-now-window", renew_now_window,
                                     "online nodes renew a changed policy within this many s");
  app.add_option("--renew-failure-prob", base.renew_failure_prob,
                 "probability that the slsm refuses a call (retried with backoff)")
      ->capture_default_str();

  app.add_option("--seed", seed, "seed of every run (runs derive theirs from it)")
      ->capture_default_str();
  app.add_option("--threads,-j", threads, "worker threads")->capture_default_str();
  app.add_option("--csv", csv_path, "CSV output file, - for stdout")->capture_default_str();
  app.add_option("--json", json_path, "also write JSON (with the message sizes) to this file");
  app.add_flag("--sizes", sizes_only, "measure and print the message sizes, then exit");
  app.add_flag("--quiet,-q", quiet, "no progress on stderr");

  if (auto code = ParseCli(app, argc, argv)) return *code;
  const std::string program = "renewal-sim";

  if (list_policies) {
    for (const PolicyPreset& p : PolicyPresets()) {
      std::cout << p.name << (p.paper ? " (paper)" : "") << "\n    " << p.summary << "\n";
    }
    return kExitOk;
  }

  auto usage = [&](const Status& s) {
    std::cerr << program << ": " << s.message() << "\nRun 'renewal-sim --help' for usage.\n";
    return kExitUsage;
  };
  Result<std::vector<uint32_t>> amounts = ParseAmounts(services_text);
  if (!amounts.ok()) return usage(amounts.status());
  Result<LifetimeFrom> from = ParseLifetimeFrom(lifetime_from);
  if (!from.ok()) return usage(from.status());
  Result<pki::KeyType> site_type = pki::ParseKeyType(site_key);
  if (!site_type.ok()) return usage(site_type.status());
  Result<pki::KeyType> instance_type = pki::ParseKeyType(instance_key);
  if (!instance_type.ok()) return usage(instance_type.status());
  Result<nlsm::ReconnectRule> rule = nlsm::ParseReconnectRule(reconnect);
  if (!rule.ok()) return usage(rule.status());

  base.duration = Seconds(duration);
  base.lifetime = Seconds(lifetime);
  base.lifetime_from = *from;
  base.start_spread = Seconds(start_spread);
  base.offline_min = Seconds(offline_min);
  base.offline_max = Seconds(offline_max);
  auto* o_start = app.get_option("--start-spread");

  std::vector<std::string> names = SplitComma(policies_text);
  if (names.size() == 1 && names[0] == "all") {
    names.clear();
    for (const PolicyPreset& p : PolicyPresets()) names.emplace_back(p.name);
  }
  SweepSpec spec;
  spec.services = *amounts;
  spec.runs = runs;
  spec.seed = seed;
  spec.threads = threads;
  for (const std::string& name : names) {
    Result<const PolicyPreset*> preset = FindPolicyPreset(name);
    if (!preset.ok()) return usage(preset.status());
    ModelConfig c = base;
    (*preset)->apply(c);
    if (o_start->count() > 0) c.start_spread = Seconds(start_spread);
    if (o_backoff_fraction->count() > 0) c.policy.backoff_fraction = backoff_fraction;
    if (o_backoff->count() > 0) c.policy.backoff = Seconds(backoff);
    if (o_window_start->count() > 0) c.policy.window_start = window_start;
    if (o_window_end->count() > 0) c.policy.window_end = window_end;
    if (o_retry_initial->count() > 0) c.policy.retry_initial = Seconds(retry_initial);
    if (o_retry_max->count() > 0) c.policy.retry_max = Seconds(retry_max);
    if (o_reconnect->count() > 0) c.reconnect = *rule;
    if (o_reconnect_spacing->count() > 0) {
      c.reconnect_spacing =
          std::chrono::milliseconds(static_cast<int64_t>(reconnect_spacing * 1000));
    }
    if (o_batch->count() > 0) c.batch_horizon = Seconds(batch_horizon);
    if (o_slsm->count() > 0) c.slsm_windows = slsm_windows;
    if (o_change->count() > 0 && policy_change_at >= 0)
      c.policy_change_at = Seconds(policy_change_at);
    if (o_renew_now->count() > 0) c.renew_now_window = Seconds(renew_now_window);
    if (Status s = c.Validate(); !s.ok()) return usage(s.WithContext(name));
    spec.policies.push_back({name, c});
  }

  MessageSizeOptions size_options;
  size_options.site_key = *site_type;
  size_options.instance_key = *instance_type;
  size_options.max_payload = base.payload_max;
  size_options.lifetime = base.lifetime;
  size_options.overhead_per_call = overhead;
  size_options.seed = seed;
  const auto t0 = std::chrono::steady_clock::now();
  Result<MessageSizes> sizes = MessageSizes::Measure(size_options);
  if (!sizes.ok()) return ReportStatus(program, sizes.status().WithContext("measuring messages"));
  const double measure_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ostringstream size_line;
  size_line << "message sizes (" << site_key << " site key, " << instance_key
            << " instance key): RenewRequest entry " << sizes->request_entry() << " B (CSR "
            << sizes->csr_der().size() << " B), RenewResponse entry " << sizes->response_entry(0)
            << ".." << sizes->response_entry(sizes->max_payload()) << " B (Cert_site "
            << sizes->cert_site_der(0).size() << ".."
            << sizes->cert_site_der(sizes->max_payload()).size() << " B) for payload 0.."
            << sizes->max_payload() << ", +" << overhead << " B per call; one renewal "
            << sizes->SingleCall(0) << ".." << sizes->SingleCall(sizes->max_payload())
            << " B; measured in " << measure_s << " s";
  if (sizes_only) {
    std::cout << size_line.str() << "\n";
    return kExitOk;
  }
  if (!quiet) std::cerr << size_line.str() << "\n";

  const size_t cells = spec.policies.size() * spec.services.size();
  const auto start = std::chrono::steady_clock::now();
  std::vector<CellResult> results =
      RunSweep(spec, *sizes, [&](const CellResult& c, size_t done, size_t total) {
        if (quiet) return;
        const double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cerr << "[" << done << "/" << total << " " << t << " s] " << c.policy << ", "
                  << c.services << " services: median " << c.bytes.median << " B/s, q3 "
                  << c.bytes.q3 << " B/s, peak " << c.bytes.max << " B/s\n";
      });
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t events = 0;
  for (const CellResult& c : results) events += c.events;
  if (!quiet) {
    std::cerr << "sweep: " << cells << " cells x " << runs << " runs, " << events << " events in "
              << wall << " s (" << static_cast<double>(events) / std::max(wall, 1e-9)
              << " events/s, " << threads << " threads)\n";
  }

  if (csv_path == "-") {
    WriteCsv(std::cout, results);
  } else {
    std::ofstream out(csv_path);
    WriteCsv(out, results);
    if (!out) return ReportStatus(program, Internal("cannot write " + csv_path));
  }
  if (!json_path.empty()) {
    nlohmann::json settings = {
        {"policies", names},
        {"services", spec.services},
        {"runs", runs},
        {"seed", seed},
        {"duration_s", duration},
        {"lifetime_s", lifetime},
        {"lifetime_from", lifetime_from},
        {"start_spread_s", start_spread},
        {"services_per_node", base.services_per_node},
        {"churn_rate_per_node_s", base.churn_rate},
        {"offline_s", {offline_min, offline_max}},
        {"payload_bytes", {base.payload_min, base.payload_max}},
        {"site_key", site_key},
        {"instance_key", instance_key},
        {"tls_overhead_per_call", overhead},
        {"renew_failure_prob", base.renew_failure_prob},
        {"policy_change_at_s", policy_change_at},
        {"sweep_wall_s", wall},
        {"events", events},
    };
    std::ofstream out(json_path);
    WriteJson(out, results, *sizes, settings.dump());
    if (!out) return ReportStatus(program, Internal("cannot write " + json_path));
  }
  return kExitOk;
}
