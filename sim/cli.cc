// renewal-sim's options and run (sim/cli.h).

#include "sim/cli.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/cli.h"
#include "sim/policies.h"
#include "sim/report.h"

namespace sitechain::sim {
namespace {

constexpr char kProgram[] = "renewal-sim";

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

int Usage(const Status& s) {
  std::cerr << kProgram << ": " << s.message() << "\nRun 'renewal-sim --help' for usage.\n";
  return kExitUsage;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Commands::Commands(CLI::App& app) : threads_(std::max(1u, std::thread::hardware_concurrency())) {
  app.add_option("--policies,-p", policies_text_,
                 "comma-separated policies to compare, or 'all' (see --list-policies)")
      ->capture_default_str();
  app.add_flag("--list-policies", list_policies_, "list the policies and exit");
  app.add_option("--services,-n", services_text_,
                 "amounts of services: from:to:step or a list (the paper: 30:600:30)")
      ->capture_default_str();
  app.add_option("--services-per-node", base_.services_per_node, "services on each node")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--runs,-r", runs_, "runs per (policy, amount)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--duration,-d", duration_, "simulated seconds per run (a week: 604800)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lifetime", lifetime_, "Cert_site lifetime in seconds")->capture_default_str();
  app.add_option("--lifetime-from", lifetime_from_,
                 "a renewed certificate's validity starts at the 'renewal' or at the "
                 "'previous-expiry'")
      ->capture_default_str();
  o_start_ =
      app.add_option("--start-spread", start_spread_,
                     "services start uniformly within this many seconds (power cut: about at once)")
          ->capture_default_str();
  app.add_option("--churn-rate", base_.churn_rate,
                 "drop-outs per online node per second (the paper's 0.001 %)")
      ->capture_default_str();
  app.add_option("--offline-min", offline_min_, "shortest offline time, s")->capture_default_str();
  app.add_option("--offline-max", offline_max_, "longest offline time, s")->capture_default_str();
  app.add_option("--payload-min", base_.payload_min, "smallest extra sitePolicy payload, bytes")
      ->capture_default_str();
  app.add_option("--payload-max", base_.payload_max, "largest extra sitePolicy payload, bytes")
      ->capture_default_str();
  app.add_option("--site-key", site_key_,
                 "key type that signs Cert_site: ed25519 | ecdsa-p256 | "
                 "rsa-2048 | rsa-3072")
      ->capture_default_str();
  app.add_option("--instance-key", instance_key_, "key type of the service instance (in the CSR)")
      ->capture_default_str();
  app.add_option("--tls-overhead", overhead_,
                 "bytes added per Renew call for TLS records, HTTP/2 and gRPC framing "
                 "(docs/simulator.md suggests 160)")
      ->capture_default_str();

  o_backoff_fraction_ = app.add_option("--backoff-fraction", backoff_fraction_,
                                       "paper-backoff: B as a fraction of the lifetime");
  o_backoff_ = app.add_option("--backoff", backoff_, "paper-backoff: B in seconds");
  o_window_start_ =
      app.add_option("--window-start", window_start_, "window policies: start, fraction of life");
  o_window_end_ =
      app.add_option("--window-end", window_end_, "window policies: end, fraction of life");
  o_retry_initial_ = app.add_option("--retry-initial", retry_initial_, "first retry delay, s");
  o_retry_max_ = app.add_option("--retry-max", retry_max_, "longest retry delay, s");
  o_reconnect_ = app.add_option("--reconnect", reconnect_,
                                "what a reconnecting node renews: all | expired | due");
  o_reconnect_spacing_ = app.add_option("--reconnect-spacing", reconnect_spacing_,
                                        "due: seconds between reconnect renewals");
  o_batch_ = app.add_option("--batch-horizon", batch_horizon_,
                            "per-node batching: also renew what is due within this many s");
  o_slsm_ = app.add_option("--slsm-windows", slsm_windows_,
                           "slsm suggests load-levelled windows (true/false)");
  app.add_option("--slsm-window-choices", base_.slsm_window_choices,
                 "seconds the slsm samples per suggestion")
      ->capture_default_str();
  o_change_ = app.add_option("--policy-change-at", policy_change_at_,
                             "a site-wide sitePolicy change at this second (default: none)");
  o_renew_now_ = app.add_option("--renew-now-window", renew_now_window_,
                                "online nodes renew a changed policy within this many s");
  app.add_option("--renew-failure-prob", base_.renew_failure_prob,
                 "probability that the slsm refuses a call (retried with backoff)")
      ->capture_default_str();

  app.add_option("--seed", seed_, "seed of every run (runs derive theirs from it)")
      ->capture_default_str();
  app.add_option("--threads,-j", threads_, "worker threads")->capture_default_str();
  app.add_option("--csv", csv_path_, "CSV output file, - for stdout")->capture_default_str();
  app.add_option("--json", json_path_, "also write JSON (with the message sizes) to this file");
  app.add_flag("--sizes", sizes_only_, "measure and print the message sizes, then exit");
  app.add_flag("--quiet,-q", quiet_, "no progress on stderr");
}

int Commands::Run() {
  if (list_policies_) return ListPolicies();
  if (auto code = BuildSpec()) return *code;

  std::string size_line;
  Result<MessageSizes> sizes = MeasureSizes(size_line);
  if (!sizes.ok()) return ReportStatus(kProgram, sizes.status().WithContext("measuring messages"));
  if (sizes_only_) {
    std::cout << size_line << "\n";
    return kExitOk;
  }
  if (!quiet_) std::cerr << size_line << "\n";
  return Sweep(*sizes);
}

int Commands::ListPolicies() const {
  for (const PolicyPreset& p : PolicyPresets()) {
    std::cout << p.name << (p.paper ? " (paper)" : "") << "\n    " << p.summary << "\n";
  }
  return kExitOk;
}

std::optional<int> Commands::BuildSpec() {
  Result<std::vector<uint32_t>> amounts = ParseAmounts(services_text_);
  if (!amounts.ok()) return Usage(amounts.status());
  Result<LifetimeFrom> from = ParseLifetimeFrom(lifetime_from_);
  if (!from.ok()) return Usage(from.status());
  Result<pki::KeyType> site_type = pki::ParseKeyType(site_key_);
  if (!site_type.ok()) return Usage(site_type.status());
  Result<pki::KeyType> instance_type = pki::ParseKeyType(instance_key_);
  if (!instance_type.ok()) return Usage(instance_type.status());
  Result<nlsm::ReconnectRule> rule = nlsm::ParseReconnectRule(reconnect_);
  if (!rule.ok()) return Usage(rule.status());
  site_type_ = *site_type;
  instance_type_ = *instance_type;
  rule_ = *rule;

  base_.duration = Seconds(duration_);
  base_.lifetime = Seconds(lifetime_);
  base_.lifetime_from = *from;
  base_.start_spread = Seconds(start_spread_);
  base_.offline_min = Seconds(offline_min_);
  base_.offline_max = Seconds(offline_max_);

  names_ = SplitComma(policies_text_);
  if (names_.size() == 1 && names_[0] == "all") {
    names_.clear();
    for (const PolicyPreset& p : PolicyPresets()) names_.emplace_back(p.name);
  }
  spec_.services = *amounts;
  spec_.runs = runs_;
  spec_.seed = seed_;
  spec_.threads = threads_;
  for (const std::string& name : names_) {
    Result<const PolicyPreset*> preset = FindPolicyPreset(name);
    if (!preset.ok()) return Usage(preset.status());
    ModelConfig c = base_;
    (*preset)->apply(c);
    ApplyOverrides(c);
    if (Status s = c.Validate(); !s.ok()) return Usage(s.WithContext(name));
    spec_.policies.push_back({name, c});
  }
  return std::nullopt;
}

void Commands::ApplyOverrides(ModelConfig& c) const {
  if (o_start_->count() > 0) c.start_spread = Seconds(start_spread_);
  if (o_backoff_fraction_->count() > 0) c.policy.backoff_fraction = backoff_fraction_;
  if (o_backoff_->count() > 0) c.policy.backoff = Seconds(backoff_);
  if (o_window_start_->count() > 0) c.policy.window_start = window_start_;
  if (o_window_end_->count() > 0) c.policy.window_end = window_end_;
  if (o_retry_initial_->count() > 0) c.policy.retry_initial = Seconds(retry_initial_);
  if (o_retry_max_->count() > 0) c.policy.retry_max = Seconds(retry_max_);
  if (o_reconnect_->count() > 0) c.reconnect = rule_;
  if (o_reconnect_spacing_->count() > 0) {
    c.reconnect_spacing =
        std::chrono::milliseconds(static_cast<int64_t>(reconnect_spacing_ * 1000));
  }
  if (o_batch_->count() > 0) c.batch_horizon = Seconds(batch_horizon_);
  if (o_slsm_->count() > 0) c.slsm_windows = slsm_windows_;
  if (o_change_->count() > 0 && policy_change_at_ >= 0)
    c.policy_change_at = Seconds(policy_change_at_);
  if (o_renew_now_->count() > 0) c.renew_now_window = Seconds(renew_now_window_);
}

Result<MessageSizes> Commands::MeasureSizes(std::string& line) const {
  MessageSizeOptions size_options;
  size_options.site_key = site_type_;
  size_options.instance_key = instance_type_;
  size_options.max_payload = base_.payload_max;
  size_options.lifetime = base_.lifetime;
  size_options.overhead_per_call = overhead_;
  size_options.seed = seed_;
  const auto t0 = std::chrono::steady_clock::now();
  Result<MessageSizes> sizes = MessageSizes::Measure(size_options);
  if (!sizes.ok()) return sizes;
  const double measure_s = SecondsSince(t0);
  std::ostringstream size_line;
  size_line << "message sizes (" << site_key_ << " site key, " << instance_key_
            << " instance key): RenewRequest entry " << sizes->request_entry() << " B (CSR "
            << sizes->csr_der().size() << " B), RenewResponse entry " << sizes->response_entry(0)
            << ".." << sizes->response_entry(sizes->max_payload()) << " B (Cert_site "
            << sizes->cert_site_der(0).size() << ".."
            << sizes->cert_site_der(sizes->max_payload()).size() << " B) for payload 0.."
            << sizes->max_payload() << ", +" << overhead_ << " B per call; one renewal "
            << sizes->SingleCall(0) << ".." << sizes->SingleCall(sizes->max_payload())
            << " B; measured in " << measure_s << " s";
  line = size_line.str();
  return sizes;
}

int Commands::Sweep(const MessageSizes& sizes) const {
  const size_t cells = spec_.policies.size() * spec_.services.size();
  const auto start = std::chrono::steady_clock::now();
  std::vector<CellResult> results =
      RunSweep(spec_, sizes, [&](const CellResult& c, size_t done, size_t total) {
        if (quiet_) return;
        const double t = SecondsSince(start);
        std::cerr << "[" << done << "/" << total << " " << t << " s] " << c.policy << ", "
                  << c.services << " services: median " << c.bytes.median << " B/s, q3 "
                  << c.bytes.q3 << " B/s, peak " << c.bytes.max << " B/s\n";
      });
  const double wall = SecondsSince(start);
  uint64_t events = 0;
  for (const CellResult& c : results) events += c.events;
  if (!quiet_) {
    std::cerr << "sweep: " << cells << " cells x " << runs_ << " runs, " << events << " events in "
              << wall << " s (" << static_cast<double>(events) / std::max(wall, 1e-9)
              << " events/s, " << threads_ << " threads)\n";
  }
  return WriteResults(results, sizes, wall, events);
}

int Commands::WriteResults(const std::vector<CellResult>& results, const MessageSizes& sizes,
                           double wall, uint64_t events) const {
  if (csv_path_ == "-") {
    WriteCsv(std::cout, results);
  } else {
    std::ofstream out(csv_path_);
    WriteCsv(out, results);
    if (!out) return ReportStatus(kProgram, Internal("cannot write " + csv_path_));
  }
  if (!json_path_.empty()) {
    nlohmann::json settings = {
        {"policies", names_},
        {"services", spec_.services},
        {"runs", runs_},
        {"seed", seed_},
        {"duration_s", duration_},
        {"lifetime_s", lifetime_},
        {"lifetime_from", lifetime_from_},
        {"start_spread_s", start_spread_},
        {"services_per_node", base_.services_per_node},
        {"churn_rate_per_node_s", base_.churn_rate},
        {"offline_s", {offline_min_, offline_max_}},
        {"payload_bytes", {base_.payload_min, base_.payload_max}},
        {"site_key", site_key_},
        {"instance_key", instance_key_},
        {"tls_overhead_per_call", overhead_},
        {"renew_failure_prob", base_.renew_failure_prob},
        {"policy_change_at_s", policy_change_at_},
        {"sweep_wall_s", wall},
        {"events", events},
    };
    std::ofstream out(json_path_);
    WriteJson(out, results, sizes, settings.dump());
    if (!out) return ReportStatus(kProgram, Internal("cannot write " + json_path_));
  }
  return kExitOk;
}

}  // namespace sitechain::sim
