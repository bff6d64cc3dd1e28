#pragma once
// Runs a sweep: every (policy, amount of services) cell, `runs` runs each, and summarises each
// cell over all its runs. Runs are spread over worker threads; the result does not depend on
// the number of threads (each run's seed comes from the sweep seed, the amount and the run
// index, not the policy, so all policies of a cell see the same churn).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/message_sizes.h"
#include "sim/model.h"
#include "sim/statistics.h"

namespace sitechain::sim {

// A policy to sweep: its name and the configuration it runs with (services is overwritten by
// each amount of the sweep).
struct NamedConfig {
  std::string name;
  ModelConfig config;
};

struct SweepSpec {
  std::vector<NamedConfig> policies;
  std::vector<uint32_t> services;  // the amounts of services
  uint32_t runs = 20;
  uint64_t seed = 1;
  unsigned threads = 1;
};

// The summary of one cell over all its runs.
struct CellResult {
  std::string policy;
  uint32_t services = 0;
  uint32_t nodes = 0;
  uint32_t runs = 0;
  double duration_s = 0;  // per run
  // Bytes per second over the seconds with traffic (the paper's Fig. 3 boxes).
  BoxStats bytes;
  // Certificates issued per second, over the same seconds.
  double renewals_peak = 0;
  double renewals_p999 = 0;
  // Totals over all runs.
  uint64_t certificates = 0;
  uint64_t calls = 0;
  uint64_t failed_calls = 0;
  uint64_t drops = 0;
  uint64_t bytes_total = 0;
  uint64_t events = 0;
  double mean_bytes_per_s = 0;  // bytes_total over every simulated second, quiet ones included
  double expired_online_s = 0;  // summed over the runs (see RunResult)
  double stale_after_reconnect_s = 0;
  double policy_reach_max_s = -1;  // the worst run; -1 without a policy change
};

// Called once per finished cell, in completion order, from a worker thread (never two at once).
using CellCallback = std::function<void(const CellResult& cell, size_t done, size_t total)>;

// The cells in spec order (policy-major). Every config must be valid for `sizes`.
std::vector<CellResult> RunSweep(const SweepSpec& spec, const MessageSizes& sizes,
                                 const CellCallback& on_cell = {});

// The seed of one run.
uint64_t RunSeed(uint64_t sweep_seed, uint32_t services, uint32_t run);

}  // namespace sitechain::sim
