#include "sim/sweep.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace sitechain::sim {

uint64_t RunSeed(uint64_t sweep_seed, uint32_t services, uint32_t run) {
  uint64_t z = sweep_seed * 0x9e3779b97f4a7c15ULL + (uint64_t{services} << 32) + run;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

// What a cell collects from its runs until the last one is in.
struct CellAccumulator {
  std::mutex mu;
  uint32_t finished = 0;                  // guarded by mu
  std::vector<uint64_t> bytes;            // guarded by mu: one value per second with traffic
  std::vector<uint64_t> renewals;         // guarded by mu: the same seconds
  CellResult result;                      // guarded by mu
  uint64_t expired_online_ms = 0;         // guarded by mu
  uint64_t stale_after_reconnect_ms = 0;  // guarded by mu
};

}  // namespace

std::vector<CellResult> RunSweep(const SweepSpec& spec, const MessageSizes& sizes,
                                 const CellCallback& on_cell) {
  const size_t cells = spec.policies.size() * spec.services.size();
  std::vector<CellAccumulator> acc(cells);
  for (size_t p = 0; p < spec.policies.size(); ++p) {
    for (size_t a = 0; a < spec.services.size(); ++a) {
      CellResult& r = acc[p * spec.services.size() + a].result;
      ModelConfig c = spec.policies[p].config;
      c.services = spec.services[a];
      r.policy = spec.policies[p].name;
      r.services = c.services;
      r.nodes = c.nodes();
      r.runs = spec.runs;
      r.duration_s = static_cast<double>(c.duration.count());
    }
  }
  const size_t tasks = cells * spec.runs;
  std::atomic<size_t> next{0};
  std::mutex callback_mu;
  size_t done = 0;  // guarded by callback_mu

  auto worker = [&] {
    for (size_t task; (task = next.fetch_add(1)) < tasks;) {
      const size_t cell = task / spec.runs;
      const auto run = static_cast<uint32_t>(task % spec.runs);
      const size_t p = cell / spec.services.size();
      const size_t a = cell % spec.services.size();
      ModelConfig config = spec.policies[p].config;
      config.services = spec.services[a];
      RunResult r = RunModel(config, sizes, RunSeed(spec.seed, config.services, run));

      CellAccumulator& c = acc[cell];
      std::unique_lock lock(c.mu);
      for (size_t s = 0; s < r.bytes.size(); ++s) {
        if (r.bytes[s] == 0) continue;
        c.bytes.push_back(r.bytes[s]);
        c.renewals.push_back(r.renewals[s]);
      }
      CellResult& out = c.result;
      out.certificates += r.certificates;
      out.calls += r.calls;
      out.failed_calls += r.failed_calls;
      out.drops += r.drops;
      out.bytes_total += r.bytes_total;
      out.events += r.events;
      c.expired_online_ms += r.expired_online_ms;
      c.stale_after_reconnect_ms += r.stale_after_reconnect_ms;
      if (r.policy_reach_ms >= 0) {
        out.policy_reach_max_s =
            std::max(out.policy_reach_max_s, static_cast<double>(r.policy_reach_ms) / 1000.0);
      }
      if (++c.finished < spec.runs) continue;

      out.bytes = ComputeBoxStats(c.bytes);
      std::sort(c.renewals.begin(), c.renewals.end());
      out.renewals_peak = c.renewals.empty() ? 0 : static_cast<double>(c.renewals.back());
      out.renewals_p999 = Quantile(c.renewals, 0.999);
      out.mean_bytes_per_s =
          static_cast<double>(out.bytes_total) / (out.duration_s * static_cast<double>(spec.runs));
      out.expired_online_s = static_cast<double>(c.expired_online_ms) / 1000.0;
      out.stale_after_reconnect_s = static_cast<double>(c.stale_after_reconnect_ms) / 1000.0;
      std::vector<uint64_t>().swap(c.bytes);
      std::vector<uint64_t>().swap(c.renewals);
      lock.unlock();
      if (on_cell) {
        std::lock_guard cb(callback_mu);
        on_cell(out, ++done, cells);
      }
    }
  };
  const unsigned threads =
      std::max(1u, std::min<unsigned>(spec.threads, static_cast<unsigned>(tasks)));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  std::vector<CellResult> out;
  out.reserve(cells);
  for (auto& c : acc) out.push_back(std::move(c.result));
  return out;
}

}  // namespace sitechain::sim
