// The load test of issue 7: one real `slsm serve` process and 200 nodes x 30 services (6000
// instances) at an accelerated Cert_site lifetime. The nodes are 200 real nlsm::NodeManager
// instances in this process (node_fleet.h): the real renewal loop, the real gRPC client over real
// mutual TLS (one channel per node), the real verification of rules 1-8 before every start and
// after every renewal; only the processes are not exec'd (a recording runner). The 30 services
// are 30 releases (30 distinct small executables) that the real devkit signed and published to a
// real store, installed in the slsm and deployed to all 200 nodes with the real admin CLI.
//
// The node state directories live in /dev/shm: 200 nodes write ~8 files per renewal with fsync,
// which a shared CI disk would turn into a test of the disk; the slsm's state (what is measured)
// stays on the test's ordinary temporary directory.
//
// The suite shares one site (built by the first test, torn down after the last):
//   LoadTest.SteadyRenewals             several renewal rounds: no failure, no expired
//                                       certificate on a connected node, latency, rate, CPU, RSS.
//   LoadTest.SiteWideRestartAndPolicy   every node manager stopped at once and the slsm restarted,
//                                       a new policy for half of the services while the nodes are
//                                       down and for the other half as they come back: issuance
//                                       stays under the rate limit, refusals are retried, every
//                                       instance converges to the new policy in bounded time.
// Figures are printed on lines starting with "[figure] ".

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/time_format.h"
#include "nlsm/grpc_site_client.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/node_fleet.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/site_server.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kNodes = 200;
constexpr int kServices = 30;
constexpr int kLifetimeSeconds = 60;  // Cert_site
// The slsm's issuance limit: the steady load is ~6000 / (0.625 * 60 s) = 160/s.
constexpr double kRate = 400;
constexpr double kBurst = 100;
constexpr seconds kSteadyRun{90};  // 1.5 lifetimes: every instance renews 2-3 times
constexpr seconds kConvergeDeadline{120};
constexpr char kSite[] = "site-load";

std::string NodeName(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "node-%03d", i);
  return name;
}
std::string ServiceName(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "svc-%02d", i);
  return name;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t at = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - 1);
  return v[p <= 0 ? 0 : at];
}

// utime + stime of a process, in seconds; -1 if unreadable.
double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// What every node manager runs with: the defaults but for short retries, heartbeats and batching
// (the lifetime is 60 s instead of 5000 s).
nlsm::NodeOptions FleetOptions() {
  nlsm::NodeOptions o;
  o.batch_interval = Seconds(2);
  o.heartbeat_interval = Seconds(5);
  o.reconnect_initial = Seconds(1);
  o.reconnect_max = Seconds(4);
  o.renewal.retry_initial = Seconds(1);
  o.renewal.retry_max = Seconds(5);
  return o;
}

// One observation of the whole fleet, from the node managers' status snapshots.
struct Observation {
  int nodes_connected = 0;
  int instances = 0;
  int running = 0;
  int expired_on_connected = 0;  // state "expired", or a running instance past its notAfter
  int with_policy = 0;           // instances whose Cert_site carries the expected policy
  TimePoint oldest_not_after = TimePoint::max();
  std::string first_bad;
};

// The site every test of the suite shares.
struct Site {
  TempDir work;  // the store and the slsm (and the programs' working directory)
  ProgramWorld world{work.path(), "store", "Load store"};  // the store, the developer, the releases
  std::string node_root;
  std::unique_ptr<SiteServer> slsm;
  RenewalLog log;
  SystemClock clock;
  std::mutex fleet_mu;  // held while nodes are stopped or started, and while observing them
  std::vector<std::unique_ptr<FleetNode>> nodes;
  std::shared_ptr<CountingSink> sink;
  std::shared_ptr<spdlog::logger> previous_logger;
  std::string error;  // what went wrong while building it

  ~Site() {
    {
      std::lock_guard lock(fleet_mu);
      nodes.clear();
    }
    slsm.reset();
    world.store().reset();
    if (previous_logger) spdlog::set_default_logger(previous_logger);
    std::error_code ec;
    if (!node_root.empty()) std::filesystem::remove_all(node_root, ec);
  }

  static std::string Bin(const std::string& program) { return BinDir() + "/" + program; }

  // Runs a program in the work directory; "" or what went wrong.
  std::string Run(std::vector<std::string> argv, std::string* out = nullptr) const {
    ProcessResult r = RunProcess(argv, work.path(), seconds(60));
    if (out != nullptr) *out = r.out;
    return r.exit_code == 0 ? std::string() : r.Describe();
  }
  std::string Slsm(std::vector<std::string> args, std::string* out = nullptr) const {
    args.insert(args.begin(), Bin("slsm"));
    args.insert(args.end(), {"--dir", "site"});
    return Run(std::move(args), out);
  }

  Observation Observe(const std::string& policy) {
    Observation o;
    const TimePoint now = clock.Now();
    std::lock_guard lock(fleet_mu);
    for (const auto& node : nodes) {
      if (!node->running()) continue;
      const nlsm::NodeStatusView view = node->Snapshot();
      if (!view.connected) continue;
      ++o.nodes_connected;
      for (const auto& i : view.instances) {
        ++o.instances;
        if (i.state == "running") ++o.running;
        if (i.not_after) o.oldest_not_after = std::min(o.oldest_not_after, *i.not_after);
        if (i.state == "expired" || (i.state == "running" && i.not_after && *i.not_after <= now)) {
          ++o.expired_on_connected;
          if (o.first_bad.empty()) {
            o.first_bad = view.node + "/" + i.service + " " + i.state + " " + i.last_error;
          }
        }
        if (!policy.empty() && i.policy_json == policy && i.state == "running") ++o.with_policy;
      }
    }
    return o;
  }

  // Stops, or starts, every node manager at once (one thread each).
  std::string ForAllNodes(bool start) {
    std::lock_guard lock(fleet_mu);
    std::vector<std::thread> threads;
    std::mutex mu;
    std::string failed;
    for (auto& node : nodes) {
      threads.emplace_back([&, n = node.get()] {
        if (!start) {
          n->Stop();
          return;
        }
        Status s = n->Start(clock, FleetOptions());
        if (!s.ok()) {
          std::lock_guard l(mu);
          failed += n->name() + ": " + s.ToString() + "\n";
        }
      });
    }
    for (auto& t : threads) t.join();
    return failed;
  }

  std::string Build() {
    if (BinDir().empty()) return "SITECHAIN_BIN_DIR is not set; run the tests with ctest";
    for (const char* program : {"devkit", "store", "slsm"}) {
      if (!std::filesystem::exists(Bin(program))) return Bin(program) + " is missing";
    }
    // Node state on tmpfs (see the top of the file).
    std::string tmpl = "/dev/shm/sitechain-load-XXXXXX";
    if (!std::filesystem::is_directory("/dev/shm") || ::mkdtemp(tmpl.data()) == nullptr) {
      tmpl = work.Path("nodes-XXXXXX");
      if (::mkdtemp(tmpl.data()) == nullptr) return "cannot make the nodes' directory";
    }
    node_root = tmpl;

    // The store, a developer and 30 releases.
    std::vector<WorldRelease> releases;
    for (int s = 0; s < kServices; ++s) {
      const std::string name = ServiceName(s);
      // 30 distinct small executables (nothing is exec'd; each is hashed and verified).
      if (!WriteWholeFile(work.Path(name), "#!/bin/sh\necho " + name + "\n"))
        return "write " + name;
      releases.push_back({.file = name,
                          .name = name,
                          .cert_dev = name + ".cert.pem",
                          .cert_store = name + ".store.pem"});
    }
    if (Status s = world.Build("dev", releases); !s.ok()) return s.ToString();

    // The site manager, on a port the kernel chooses and it keeps over its restart (nodes keep
    // its address).
    if (Status s = world.InitSite("site", kSite); !s.ok()) return s.ToString();
    const json config = {{"listen", "127.0.0.1:0"},
                         {"cert_site_lifetime", std::to_string(kLifetimeSeconds) + "s"},
                         {"heartbeat_timeout", "20s"},
                         {"policy_push_window", "10s"},
                         {"max_issuance_per_second", kRate},
                         {"issuance_burst", kBurst}};
    slsm = world.NewSite("site", config);
    if (auto started = slsm->Start(); !started) return started.message();
    for (int s = 0; s < kServices; ++s) {
      if (auto e = Slsm({"install", ServiceName(s)}); !e.empty()) return e;
    }

    // 200 nodes: a join token each from the admin CLI, enrolled with the node's own code.
    if (!WriteWholeFile(work.Path("node-store-root.pem"),
                        ReadWholeFile(work.Path("store/root.pem")))) {
      return "cannot copy the store root";
    }
    std::vector<std::string> errors(kNodes);
    std::atomic<int> next{0};
    auto enroll = [&] {
      SystemRandom rng;
      for (int i = next++; i < kNodes; i = next++) {
        std::string out;
        if (auto e = Slsm({"tokens", "create", NodeName(i)}, &out); !e.empty()) {
          errors[i] = e;
          continue;
        }
        nlsm::EnrollOptions o;
        o.dir = node_root + "/" + NodeName(i);
        o.node = NodeName(i);
        o.slsm = slsm->address();
        o.token = Trim(out);
        o.store_root_path = work.Path("node-store-root.pem");
        auto enrolled = nlsm::EnrollNode(o, clock, rng);
        if (!enrolled.ok()) errors[i] = NodeName(i) + ": " + enrolled.status().ToString();
      }
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) workers.emplace_back(enroll);
    for (auto& t : workers) t.join();
    for (const auto& e : errors) {
      if (!e.empty()) return e;
    }

    // Quiet node managers: their warnings are counted, not printed.
    sink = std::make_shared<CountingSink>();
    sink->set_level(spdlog::level::warn);
    previous_logger = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("fleet", sink);
    logger->set_level(spdlog::level::warn);
    spdlog::set_default_logger(logger);

    for (int i = 0; i < kNodes; ++i) {
      nodes.push_back(std::make_unique<FleetNode>(NodeName(i), node_root + "/" + NodeName(i), log));
    }
    if (auto e = ForAllNodes(true); !e.empty()) return e;
    if (!WaitUntil([&] { return Observe("").nodes_connected == kNodes; }, seconds(60),
                   milliseconds(200))) {
      return "not every node connected: " + std::to_string(Observe("").nodes_connected);
    }

    // Deploy every service to every node and wait until all 6000 instances run.
    std::string all_nodes;
    for (int i = 0; i < kNodes; ++i) all_nodes += (i ? "," : "") + NodeName(i);
    const auto deploy_start = std::chrono::steady_clock::now();
    for (int s = 0; s < kServices; ++s) {
      if (auto e = Slsm({"deploy", ServiceName(s), "--nodes", all_nodes}); !e.empty()) return e;
    }
    if (!WaitUntil([&] { return Observe("").running == kNodes * kServices; }, seconds(180),
                   milliseconds(250))) {
      const Observation o = Observe("");
      return "after 180 s only " + std::to_string(o.running) + " of " +
             std::to_string(kNodes * kServices) + " instances run; " + o.first_bad;
    }
    const double deploy_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - deploy_start).count();
    std::printf("[figure] load: deploy of %d services to %d nodes (%d instances): %.1f s\n",
                kServices, kNodes, kNodes * kServices, deploy_s);
    return "";
  }
};

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (site_ == nullptr) {
      site_ = new Site();
      site_->error = site_->Build();
    }
    ASSERT_TRUE(site_->error.empty()) << site_->error;
  }
  static void TearDownTestSuite() {
    delete site_;
    site_ = nullptr;
  }

  // Samples the fleet every 250 ms until `done` holds or `deadline` passes; keeps the worst.
  struct Watch {
    int samples = 0;       // observations taken: the rest means nothing without them
    double watched_s = 0;  // how long it watched
    int min_connected = kNodes;
    int max_expired = 0;
    std::string first_bad;
    bool done = false;
    double done_after_s = 0;
  };
  Watch WatchFleet(const std::string& policy, std::chrono::milliseconds deadline,
                   const std::function<bool(const Observation&)>& done, bool watch_connected) {
    Watch w;
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < deadline) {
      const Observation o = site_->Observe(policy);
      ++w.samples;
      if (watch_connected) w.min_connected = std::min(w.min_connected, o.nodes_connected);
      if (o.expired_on_connected > w.max_expired) {
        w.max_expired = o.expired_on_connected;
        w.first_bad = o.first_bad;
      }
      w.watched_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (done && done(o)) {
        w.done = true;
        w.done_after_s = w.watched_s;
        return w;
      }
      std::this_thread::sleep_for(milliseconds(250));
    }
    return w;
  }
  // The watch saw the whole of its time: one observation every 250 ms plus its own time (a few
  // ms for 200 snapshots), so one per 5 s at the least even on a loaded machine.
  static ::testing::AssertionResult WatchedThroughout(const Watch& w) {
    if (w.samples >= 1 + static_cast<int>(w.watched_s / 5)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "the fleet was observed " << w.samples << " times in " << w.watched_s << " s";
  }

  static Site* site_;
};

Site* LoadTest::site_ = nullptr;

struct RenewalFigures {
  uint64_t calls = 0, entries = 0, ok = 0, rate_limited = 0, failed = 0;
  uint64_t failed_calls = 0;  // whole calls that failed (their entries are in `failed`)
  uint64_t refused = 0;       // entries the slsm refused for another reason than the rate
  double rpc_p50 = 0, rpc_p99 = 0, instance_p50 = 0, instance_p99 = 0;
  double max_per_second = 0;  // certificates received per second of the steady clock (client)
};

RenewalFigures Summarise(const std::vector<RenewalLog::Call>& calls) {
  RenewalFigures f;
  std::vector<double> rpc, per_instance;
  std::map<int64_t, double> per_second;
  for (const auto& c : calls) {
    ++f.calls;
    f.entries += c.entries;
    f.ok += c.ok;
    f.rate_limited += c.rate_limited;
    f.failed += c.failed;
    f.failed_calls += c.call_failed ? 1 : 0;
    f.refused += c.call_failed ? 0 : c.failed;
    rpc.push_back(c.latency_ms);
    for (uint32_t i = 0; i < c.ok; ++i) per_instance.push_back(c.latency_ms);
    per_second[static_cast<int64_t>(std::floor(c.end_s))] += c.ok;
  }
  f.rpc_p50 = Percentile(rpc, 0.50);
  f.rpc_p99 = Percentile(rpc, 0.99);
  f.instance_p50 = Percentile(per_instance, 0.50);
  f.instance_p99 = Percentile(per_instance, 0.99);
  for (const auto& [second, n] : per_second) f.max_per_second = std::max(f.max_per_second, n);
  return f;
}

// Site certificates per second of the slsm's own issuance log (issued_at, whole seconds) since
// `since` (unix seconds): {max, seconds counted}; {-1, 0} if the log cannot be read.
std::pair<long, long> IssuedPerSecond(const std::string& db, int64_t since) {
  ProcessResult r = RunProcess(
      {"sqlite3", db,
       "SELECT COUNT(*) FROM issued WHERE kind = 'site' AND issued_at >= " + std::to_string(since) +
           " GROUP BY issued_at"});
  if (r.exit_code != 0) return {-1, 0};
  long max = 0, n = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    max = std::max(max, std::atol(line.c_str()));
    ++n;
  }
  return {max, n};
}

TEST_F(LoadTest, SteadyRenewals) {
  Site& s = *site_;
  const pid_t slsm_pid = s.slsm->process().pid();
  const size_t mark = s.log.size();
  const uint64_t expired_before = s.sink->expired();
  const double cpu_before = ProcessCpuSeconds(slsm_pid);
  const TimePoint start = s.clock.Now();
  const auto wall_start = std::chrono::steady_clock::now();

  const Watch w = WatchFleet("", kSteadyRun, nullptr, /*watch_connected=*/true);

  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double cpu = ProcessCpuSeconds(slsm_pid) - cpu_before;
  const long hwm = ProcessStatusKb(slsm_pid, "VmHWM");
  const RenewalFigures f = Summarise(s.log.Since(mark));
  const Observation end = s.Observe("");

  std::printf("[figure] load steady: %d nodes x %d services, Cert_site lifetime %d s, %.0f s run\n",
              kNodes, kServices, kLifetimeSeconds, elapsed);
  std::printf(
      "[figure] load steady: renewals ok %llu, failed %llu, rate-limited %llu, in %llu "
      "calls (%.1f instances per call)\n",
      static_cast<unsigned long long>(f.ok), static_cast<unsigned long long>(f.failed),
      static_cast<unsigned long long>(f.rate_limited), static_cast<unsigned long long>(f.calls),
      f.calls ? static_cast<double>(f.entries) / f.calls : 0.0);
  std::printf("[figure] load steady: renewals/s %.1f (max in one second %.0f; limit %.0f/s)\n",
              f.ok / elapsed, f.max_per_second, kRate);
  std::printf(
      "[figure] load steady: renewal latency per RPC p50 %.1f ms p99 %.1f ms; per "
      "instance p50 %.1f ms p99 %.1f ms\n",
      f.rpc_p50, f.rpc_p99, f.instance_p50, f.instance_p99);
  std::printf(
      "[figure] load steady: slsm CPU %.1f s in %.0f s (%.0f%% of one core), peak RSS "
      "(VmHWM) %.1f MiB\n",
      cpu, elapsed, 100 * cpu / elapsed, hwm / 1024.0);
  std::printf(
      "[figure] load steady: expired on a connected node: max %d at once, %llu expiries "
      "logged; min nodes connected %d (%d observations of the fleet)\n",
      w.max_expired, static_cast<unsigned long long>(s.sink->expired() - expired_before),
      w.min_connected, w.samples);

  EXPECT_TRUE(WatchedThroughout(w));
  EXPECT_EQ(f.failed, 0u) << "first failures:\n"
                          << [&] {
                               std::string t;
                               for (const auto& l : s.log.failures()) t += l + "\n";
                               return t;
                             }();
  EXPECT_EQ(w.max_expired, 0) << w.first_bad;
  EXPECT_EQ(s.sink->expired() - expired_before, 0u);
  EXPECT_EQ(w.min_connected, kNodes);
  EXPECT_EQ(end.running, kNodes * kServices) << end.first_bad;
  // Every instance renewed during the run (its window ends at 75 % of the lifetime).
  EXPECT_GT(end.oldest_not_after, start + Seconds(kLifetimeSeconds))
      << "an instance was not renewed during the run: oldest notAfter "
      << FormatTime(end.oldest_not_after);
  EXPECT_GE(f.ok, static_cast<uint64_t>(kNodes * kServices));
  EXPECT_GT(cpu, 0);
  EXPECT_GT(hwm, 0);
}

TEST_F(LoadTest, SiteWideRestartAndPolicy) {
  Site& s = *site_;
  const json policy = {{"env", {{"LOAD_POLICY", "v2"}}}};
  const std::string compact = policy.dump();
  ASSERT_TRUE(WriteWholeFile(s.work.Path("policy-v2.json"), compact));
  const size_t mark = s.log.size();
  const uint64_t expired_before = s.sink->expired();
  const int64_t since = ToUnixSeconds(s.clock.Now());
  const auto start = std::chrono::steady_clock::now();

  // Every node manager at once, and the slsm.
  ASSERT_EQ(s.ForAllNodes(false), "");
  ASSERT_TRUE(s.slsm->Restart(SIGTERM)) << s.slsm->log();
  const pid_t slsm_pid = s.slsm->process().pid();
  const double cpu_before = ProcessCpuSeconds(slsm_pid);
  // Half of the services change policy while every node is down (side by side: the outage stays
  // short against the 15 s a certificate has left at least) ...
  auto set_policies = [&](int from, int to) {
    std::vector<std::string> errors(kServices);
    std::vector<std::thread> threads;
    for (int i = from; i < to; ++i) {
      threads.emplace_back([&, i] {
        errors[i] = s.Slsm({"policy", "set", ServiceName(i), "policy-v2.json"});
      });
    }
    for (auto& t : threads) t.join();
    std::string all;
    for (const auto& e : errors) all += e;
    return all;
  };
  ASSERT_EQ(set_policies(0, kServices / 2), "");
  const auto restart = std::chrono::steady_clock::now();
  ASSERT_EQ(s.ForAllNodes(true), "");
  const double outage_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // ... the other half as they come back.
  ASSERT_EQ(set_policies(kServices / 2, kServices), "");

  const Watch w = WatchFleet(
      compact, kConvergeDeadline,
      [](const Observation& o) {
        return o.nodes_connected == kNodes && o.with_policy == kNodes * kServices;
      },
      /*watch_connected=*/false);
  const double since_restart =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restart).count();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = ProcessCpuSeconds(slsm_pid) - cpu_before;
  const long hwm = ProcessStatusKb(slsm_pid, "VmHWM");
  const RenewalFigures f = Summarise(s.log.Since(mark));
  const auto [max_issued, issued_seconds] = IssuedPerSecond(s.work.Path("site/slsm.db"), since);
  const Observation end = s.Observe(compact);

  std::printf(
      "[figure] load restart+policy: all %d instances carry the new policy %.1f s after "
      "the nodes restarted (%.1f s after the restart began)%s\n",
      kNodes * kServices, since_restart, elapsed, w.done ? "" : " -- NOT CONVERGED");
  std::printf(
      "[figure] load restart+policy: issuance max %ld/s in the slsm's log (over %ld s), "
      "max %.0f/s received by the nodes; configured %.0f/s, burst %.0f\n",
      max_issued, issued_seconds, f.max_per_second, kRate, kBurst);
  std::printf(
      "[figure] load restart+policy: renewals ok %llu, refused by the rate limit %llu "
      "(retried), refused otherwise %llu, in %llu calls of which %llu failed whole (deadline, "
      "retried; %llu instances)\n",
      static_cast<unsigned long long>(f.ok), static_cast<unsigned long long>(f.rate_limited),
      static_cast<unsigned long long>(f.refused), static_cast<unsigned long long>(f.calls),
      static_cast<unsigned long long>(f.failed_calls),
      static_cast<unsigned long long>(f.failed - f.refused));
  std::printf(
      "[figure] load restart+policy: renewal latency per RPC p50 %.1f ms p99 %.1f ms; per "
      "instance p50 %.1f ms p99 %.1f ms\n",
      f.rpc_p50, f.rpc_p99, f.instance_p50, f.instance_p99);
  std::printf("[figure] load restart+policy: slsm CPU %.1f s, peak RSS (VmHWM) %.1f MiB\n", cpu,
              hwm / 1024.0);
  std::printf(
      "[figure] load restart+policy: node managers down %.1f s (stop, slsm restart, 15 "
      "policy changes, start with re-verification of every instance); %llu instances "
      "failed closed at expiry meanwhile and after (max %d at once on connected nodes), "
      "every one renewed and running again\n",
      outage_s, static_cast<unsigned long long>(s.sink->expired() - expired_before), w.max_expired);

  EXPECT_TRUE(WatchedThroughout(w));
  EXPECT_TRUE(w.done) << end.with_policy << " of " << kNodes * kServices
                      << " instances carry the new policy, " << end.nodes_connected
                      << " nodes connected";
  // Calls that time out while 200 node managers re-verify 6000 instances at once are retried
  // like any failed attempt (a figure); a refusal other than the rate limit would be a bug.
  EXPECT_EQ(f.refused, 0u) << "first failures:\n"
                           << [&] {
                                std::string t;
                                for (const auto& l : s.log.failures()) t += l + "\n";
                                return t;
                              }();
  // Certificates with less validity left than the site-wide outage (plus the catch-up) expire
  // and their services stop (fail closed, by design): a figure, not a failure, as long as every
  // one of them is renewed and runs again (the convergence above and `end.running` below).
  // The token bucket's promise: at most the burst plus one second's rate in any second.
  ASSERT_GE(max_issued, 0) << "cannot read the issuance log with sqlite3";
  EXPECT_LE(max_issued, static_cast<long>(kRate + kBurst));
  EXPECT_EQ(end.running, kNodes * kServices) << end.first_bad;
}

}  // namespace
}  // namespace sitechain::testutil
