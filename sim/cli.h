#pragma once
// renewal-sim's command line: the options of a sweep (policies, amounts of services, runs, the
// model's settings and per-policy overrides) and the run that measures the Renew message sizes
// (sim/message_sizes.h), sweeps every (policy, amount) cell (sim/sweep.h) and writes the CSV
// and JSON (sim/report.h). main.cc makes the Commands, parses and hands over;
// docs/simulator.md is the guide.
//
// Commands adds its options to the CLI::App given to its constructor, which must outlive it; the
// options are bound to its members, so it is neither copied nor moved. Not thread-safe (main
// only). Run returns the process exit code (common/cli.h) after printing any error to stderr.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pki/key.h"
#include "sim/message_sizes.h"
#include "sim/model.h"
#include "sim/sweep.h"

namespace sitechain::sim {

class Commands final {
 public:
  explicit Commands(CLI::App& app);
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  // Lists the policies, prints the message sizes or runs the sweep, as the options say.
  int Run();

 private:
  int ListPolicies() const;
  // Checks the options and fills spec_, names_ and the key types; the exit code on bad usage.
  std::optional<int> BuildSpec();
  // The options given for one policy, over its preset.
  void ApplyOverrides(ModelConfig& c) const;
  // Measures the message sizes; `line` describes them.
  Result<MessageSizes> MeasureSizes(std::string& line) const;
  int Sweep(const MessageSizes& sizes) const;
  int WriteResults(const std::vector<CellResult>& results, const MessageSizes& sizes, double wall,
                   uint64_t events) const;

  std::string policies_text_ = "at-expiry,paper-backoff";
  std::string services_text_ = "30:600:30";
  uint32_t runs_ = 20;
  uint64_t seed_ = 1;
  unsigned threads_;
  std::string csv_path_ = "-";
  std::string json_path_;
  bool quiet_ = false;
  bool list_policies_ = false;
  bool sizes_only_ = false;

  ModelConfig base_;
  int64_t duration_ = base_.duration.count();
  int64_t lifetime_ = base_.lifetime.count();
  std::string lifetime_from_ = "renewal";
  int64_t start_spread_ = base_.start_spread.count();
  int64_t offline_min_ = base_.offline_min.count();
  int64_t offline_max_ = base_.offline_max.count();
  std::string site_key_ = "rsa-2048";
  std::string instance_key_ = "rsa-2048";
  uint32_t overhead_ = 0;

  // Policy overrides: applied after the preset, only when given.
  double backoff_fraction_ = base_.policy.backoff_fraction;
  int64_t backoff_ = 0;
  double window_start_ = base_.policy.window_start;
  double window_end_ = base_.policy.window_end;
  int64_t retry_initial_ = base_.policy.retry_initial.count();
  int64_t retry_max_ = base_.policy.retry_max.count();
  std::string reconnect_ = "all";
  double reconnect_spacing_ = 0;
  int64_t batch_horizon_ = 0;
  bool slsm_windows_ = false;
  int64_t policy_change_at_ = -1;
  int64_t renew_now_window_ = 0;

  CLI::Option* o_start_ = nullptr;
  CLI::Option* o_backoff_fraction_ = nullptr;
  CLI::Option* o_backoff_ = nullptr;
  CLI::Option* o_window_start_ = nullptr;
  CLI::Option* o_window_end_ = nullptr;
  CLI::Option* o_retry_initial_ = nullptr;
  CLI::Option* o_retry_max_ = nullptr;
  CLI::Option* o_reconnect_ = nullptr;
  CLI::Option* o_reconnect_spacing_ = nullptr;
  CLI::Option* o_batch_ = nullptr;
  CLI::Option* o_slsm_ = nullptr;
  CLI::Option* o_change_ = nullptr;
  CLI::Option* o_renew_now_ = nullptr;

  // Filled by BuildSpec.
  SweepSpec spec_;
  std::vector<std::string> names_;
  pki::KeyType site_type_ = pki::KeyType::kRsa2048;
  pki::KeyType instance_type_ = pki::KeyType::kRsa2048;
  nlsm::ReconnectRule rule_ = nlsm::ReconnectRule::kAll;
};

}  // namespace sitechain::sim
