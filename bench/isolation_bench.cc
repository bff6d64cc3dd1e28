// isolation_bench: what isolating a service costs the node's supervisor, and how fast it gets rid
// of a service that made many processes, measured in the same run.
//
//   BM_Deploy/plain      Supervisor::Start of `hostile idle` with a plain spec (no user, no
//                        cgroups, no sandbox, no check) until it returned (exec confirmed;
//                        counter start_ms), and until the service printed "ready" to its stdout
//                        log (the iteration time). Then, untimed, Stop (grace 0) and Forget.
//   BM_Deploy/isolated   the same with everything the node now does for an isolated service: a
//                        supervisor with cgroups (CgroupHost::SetUp("sitechain-bench.<pid>"); a
//                        cgroup made per instance at Start), the service user kUid:kUid, a private
//                        /tmp, the root read-only but a writable directory (its working dir,
//                        chowned to kUid), and check_before_exec hashing the descriptor (SHA-256,
//                        as nlsm/deployer.cc does; its own time is counter check_ms).
//   BM_StopToEmpty/procs-100  `hostile procs 100` (isolated as above) is started and left until
//                        its v2 cgroup.procs lists 100 processes, untimed; then Stop(grace 0)
//                        until it returns (SIGKILL, cgroup.kill, the cgroup's events say
//                        "populated 0", the leader reaped). cgroup.procs is then checked empty.
//   BM_StopToEmpty/forkbomb   `hostile forkbomb` (isolated, limits.pids = 512) is left to run at
//                        least 300 ms and until pids.current is at 90 % of the limit (counter
//                        pids_at_stop), untimed; then Stop(grace 0) as above.
//
// The isolated figures need root (setresuid, mount namespaces, cgroups): without it they are
// skipped. The goal of issue 16 is stop-to-empty under 1 s. `hostile` (examples/hostile) is
// looked for beside this program, or in $SITECHAIN_BIN_DIR. The files live in a temporary
// directory under /var/tmp, mode 0711 so that the service user can reach its working directory; it
// is removed at exit, and so is the cgroup scope. Times are wall clock (manual time), one deploy or
// stop per iteration.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_main.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "nlsm/cgroups.h"
#include "nlsm/child_exec.h"
#include "nlsm/service_users.h"
#include "nlsm/supervisor.h"
#include "pki/hash.h"

namespace sitechain::nlsm {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr uint64_t kSeed = 0x150b'e7c0'0000'0001;
// The service user: inside the default service uid range (service_users.h), far from any
// allocated one.
constexpr uid_t kUid = 1900099990;
constexpr int kDeployIterations = 50;
constexpr int kStopIterations = 5;
constexpr int kProcs = 100;
constexpr uint32_t kPidsLimit = 512;
constexpr auto kForkBombRun = std::chrono::milliseconds(300);
constexpr double kForkBombFill = 0.9;  // of kPidsLimit, before Stop
// How long any wait may take before the benchmark gives up.
constexpr auto kDeadline = std::chrono::seconds(10);
// Polling the stdout log for "ready": every kPollMin at first, then at 0.5 % of the time waited,
// at most kPollMax (as nlsm_bench polls).
constexpr auto kPollMin = std::chrono::microseconds(50);
constexpr auto kPollMax = std::chrono::microseconds(1000);
constexpr int kPollFraction = 200;

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The built hostile: in $SITECHAIN_BIN_DIR (as the tests set it), else beside this program.
std::string HostilePath() {
  if (const char* dir = std::getenv("SITECHAIN_BIN_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/hostile";
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : self.parent_path()).string() + "/hostile";
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Non-empty lines of a file (cgroup.procs: one pid a line); -1 if it cannot be opened.
int CountLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return -1;
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

// Calls `done` until it returns true (OK) or kDeadline passes (UNAVAILABLE with `what`).
Status PollUntil(const std::function<bool()>& done, const std::string& what) {
  const SteadyTime start = std::chrono::steady_clock::now(), deadline = start + kDeadline;
  while (!done()) {
    const SteadyTime now = std::chrono::steady_clock::now();
    if (now > deadline) return Unavailable("gave up waiting for " + what);
    const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(now - start);
    std::this_thread::sleep_for(std::clamp(waited / kPollFraction, kPollMin, kPollMax));
  }
  return Status::Ok();
}

// The supervisors, the executable and the directories, made the first time a benchmark needs
// them and removed at exit: the instance cgroups with the isolated supervisor, then the scope.
class Fixtures final {
 public:
  Fixtures() = default;
  Fixtures(const Fixtures&) = delete;
  Fixtures& operator=(const Fixtures&) = delete;
  ~Fixtures() {
    plain_.reset();
    isolated_.reset();  // stops what runs; its instance cgroups go with its services
    if (host_) host_->RemoveScope();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // The temporary directory, the executable and its digest, the plain supervisor; false (the
  // benchmark skipped with the reason) if something failed.
  bool Base(benchmark::State& state) {
    if (!base_error_.empty()) return Skip(state, base_error_);
    if (exe_.valid()) return true;
    std::string tmpl = "/var/tmp/isolation_bench.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return Fail(state, "cannot make " + tmpl);
    dir_ = tmpl;
    // o+x: the service user must reach its working directory below.
    if (::chmod(dir_.c_str(), 0711) != 0) return Fail(state, "cannot chmod " + dir_);
    const std::string path = HostilePath();
    exe_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!exe_.valid()) return Fail(state, "cannot open " + path + " (build the hostile target)");
    auto digest = pki::HashFd(pki::HashAlgorithm::kSha256, exe_.get());
    if (!digest.ok()) return Fail(state, digest.status().ToString());
    digest_ = digest->bytes;
    auto plain = Supervisor::Create(SupervisorOptions{}, clock_, rng_);
    if (!plain.ok()) return Fail(state, plain.status().ToString());
    plain_ = std::move(*plain);
    return true;
  }

  // Base, plus the cgroup scope, the isolated supervisor and the service user's directory.
  bool Isolated(benchmark::State& state) {
    if (!Base(state)) return false;
    if (::geteuid() != 0) return Skip(state, "needs root");
    if (!isolated_error_.empty()) return Skip(state, isolated_error_);
    if (isolated_) return true;
    auto host = CgroupHost::SetUp("sitechain-bench." + std::to_string(::getpid()));
    if (!host.ok()) return FailIsolated(state, host.status().ToString());
    host_ = *host;
    SupervisorOptions options;
    options.cgroups = host_;
    auto sup = Supervisor::Create(std::move(options), clock_, rng_);
    if (!sup.ok()) return FailIsolated(state, sup.status().ToString());
    isolated_ = std::move(*sup);
    work_ = dir_ + "/work";
    if (::mkdir(work_.c_str(), 0700) != 0 || ::chown(work_.c_str(), kUid, kUid) != 0) {
      return FailIsolated(state, "cannot make " + work_ + " for uid " + std::to_string(kUid));
    }
    return true;
  }

  // A spec for `hostile <args>` as service `name`, plain or isolated.
  LaunchSpec Spec(const std::string& name, std::vector<std::string> args, bool isolated) {
    LaunchSpec spec;
    spec.service = name;
    spec.executable_fd = exe_.get();
    spec.args = std::move(args);
    spec.stdout_path = dir_ + "/" + name + ".out";
    spec.stderr_path = dir_ + "/" + name + ".err";
    spec.restart = RestartPolicy::kNever;
    if (!isolated) {
      spec.working_dir = dir_;
      return spec;
    }
    spec.working_dir = work_;
    spec.env["SITECHAIN_WORK_DIR"] = work_;
    spec.user = ServiceUser{kUid, kUid};
    spec.private_tmp = true;
    spec.read_only_root = true;
    spec.writable_dir = work_;
    spec.check_before_exec = [this](int fd) -> Status {
      const SteadyTime t0 = std::chrono::steady_clock::now();
      auto now = pki::HashFd(pki::HashAlgorithm::kSha256, fd);
      check_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();
      if (!now.ok()) return now.status();
      if (now->bytes != digest_) return FailedPrecondition("the executable's digest changed");
      return Status::Ok();
    };
    return spec;
  }

  Supervisor& plain() { return *plain_; }
  Supervisor& isolated() { return *isolated_; }
  const CgroupHost& host() const { return *host_; }
  // Nanoseconds spent in check_before_exec so far.
  int64_t check_ns() const { return check_ns_.load(); }

 private:
  static bool Skip(benchmark::State& state, const std::string& why) {
    state.SkipWithError(why.c_str());
    return false;
  }
  bool Fail(benchmark::State& state, const std::string& why) {
    base_error_ = why;
    return Skip(state, why);
  }
  bool FailIsolated(benchmark::State& state, const std::string& why) {
    isolated_error_ = why;
    isolated_.reset();
    return Skip(state, why);
  }

  SystemClock clock_;
  SeededRandom rng_{kSeed};
  std::string dir_, work_;
  UniqueFd exe_;
  std::vector<uint8_t> digest_;
  std::string base_error_, isolated_error_;
  std::optional<CgroupHost> host_;
  std::unique_ptr<Supervisor> plain_, isolated_;
  std::atomic<int64_t> check_ns_{0};
};

// True once the log holds a "ready" line.
bool PrintedReady(const std::string& log) {
  const std::string text = ReadText(log);
  return text.starts_with("ready\n") || text.find("\nready\n") != std::string::npos;
}

// Starts `spec` on `sup` and waits until it printed "ready" (its log is emptied first). The
// times of Start returning and of "ready" after the call, or the error.
struct Started {
  std::chrono::steady_clock::duration start, ready;
};
Result<Started> StartUntilReady(Supervisor& sup, const LaunchSpec& spec) {
  std::filesystem::remove(spec.stdout_path);
  const SteadyTime t0 = std::chrono::steady_clock::now();
  SITECHAIN_RETURN_IF_ERROR(sup.Start(spec));
  const SteadyTime t1 = std::chrono::steady_clock::now();
  SITECHAIN_RETURN_IF_ERROR(
      PollUntil([&] { return PrintedReady(spec.stdout_path); },
                "\"ready\" in " + spec.stdout_path + ": " + ReadText(spec.stderr_path)));
  return Started{t1 - t0, std::chrono::steady_clock::now() - t0};
}

Status StopAndForget(Supervisor& sup, const std::string& service) {
  SITECHAIN_RETURN_IF_ERROR(sup.Stop(service, std::chrono::milliseconds(0)));
  return sup.Forget(service);
}

void BM_Deploy(benchmark::State& state, Fixtures* fixtures, bool isolated) {
  if (!(isolated ? fixtures->Isolated(state) : fixtures->Base(state))) return;
  Supervisor& sup = isolated ? fixtures->isolated() : fixtures->plain();
  const std::string name = isolated ? "deploy-isolated" : "deploy-plain";
  const LaunchSpec spec = fixtures->Spec(name, {"idle"}, isolated);
  double start_ms = 0, stop_ms = 0;
  const int64_t check_before = fixtures->check_ns();
  for (auto _ : state) {
    auto started = StartUntilReady(sup, spec);
    if (!started.ok()) {
      (void)StopAndForget(sup, name);
      state.SkipWithError(started.status().ToString().c_str());
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(started->ready).count());
    start_ms += Ms(started->start);
    // Untimed: the service ran as it should (hostile's first line).
    const std::string whoami =
        "whoami uid " + std::to_string(isolated ? kUid : ::geteuid()) + " gid ";
    if (const std::string log = ReadText(spec.stdout_path); log.find(whoami) == std::string::npos) {
      (void)StopAndForget(sup, name);
      state.SkipWithError(("expected \"" + whoami + "...\" in its log: " + log).c_str());
      break;
    }
    const SteadyTime t0 = std::chrono::steady_clock::now();
    if (Status s = StopAndForget(sup, name); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    stop_ms += Ms(std::chrono::steady_clock::now() - t0);
  }
  const double n = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["start_ms"] = start_ms / n;
  state.counters["stop_ms"] = stop_ms / n;
  if (isolated) {
    state.counters["check_ms"] = static_cast<double>(fixtures->check_ns() - check_before) / 1e6 / n;
  }
}

// pids.current of the service's cgroup: the v1 pids hierarchy in the hybrid layout, else its v2
// cgroup. -1 if it cannot be read.
long PidsCurrent(const CgroupHost& host, const ProcessInfo& info) {
  const std::string dir =
      host.layout == CgroupHost::Layout::kHybrid ? host.pids_v1 + "/" + info.service : info.cgroup;
  const std::string text = ReadText(dir + "/pids.current");
  return text.empty() ? -1 : std::strtol(text.c_str(), nullptr, 10);
}

enum class Load { kManyProcs, kForkBomb };

void BM_StopToEmpty(benchmark::State& state, Fixtures* fixtures, Load load) {
  if (!fixtures->Isolated(state)) return;
  Supervisor& sup = fixtures->isolated();
  const bool bomb = load == Load::kForkBomb;
  const std::string name = bomb ? "stop-forkbomb" : "stop-procs";
  LaunchSpec spec = fixtures->Spec(name,
                                   bomb ? std::vector<std::string>{"forkbomb"}
                                        : std::vector<std::string>{"procs", std::to_string(kProcs)},
                                   true);
  if (bomb) spec.limits.pids = kPidsLimit;
  double procs_at_stop = 0, pids_at_stop = 0;
  for (auto _ : state) {
    auto started = StartUntilReady(sup, spec);
    std::optional<ProcessInfo> info = sup.Info(name);
    Status s = started.status();
    if (s.ok() && (!info || info->cgroup.empty())) s = Internal("the service has no cgroup");
    if (s.ok() && !bomb) {
      s = PollUntil([&] { return CountLines(info->cgroup + "/cgroup.procs") >= kProcs; },
                    std::to_string(kProcs) + " processes in " + info->cgroup);
    }
    if (s.ok() && bomb) {
      std::this_thread::sleep_for(kForkBombRun);
      s = PollUntil(
          [&] { return PidsCurrent(fixtures->host(), *info) >= kForkBombFill * kPidsLimit; },
          "pids.current near " + std::to_string(kPidsLimit));
    }
    if (!s.ok()) {
      (void)StopAndForget(sup, name);
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    const std::string procs = info->cgroup + "/cgroup.procs";
    procs_at_stop += CountLines(procs);
    if (bomb) pids_at_stop += static_cast<double>(PidsCurrent(fixtures->host(), *info));

    const SteadyTime t0 = std::chrono::steady_clock::now();
    s = sup.Stop(name, std::chrono::milliseconds(0));
    const SteadyTime t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    const int left = CountLines(procs);
    if (s.ok() && left != 0) {
      s = Internal(std::to_string(left) + " processes left in " + procs + " after Stop");
    }
    if (Status f = sup.Forget(name); s.ok()) s = f;
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  const double n = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["procs_at_stop"] = procs_at_stop / n;
  if (bomb) state.counters["pids_at_stop"] = pids_at_stop / n;
}

// The usual console table, then the summary. With --benchmark_repetitions the median stands for
// a name.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      Figure& f = figures_[run.run_name.function_name];
      if (f.from_median && !median) continue;
      // Manual time, in seconds per iteration.
      f = Figure{
          run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit), median, {}};
      for (const auto& [name, counter] : run.counters) f.counters[name] = counter.value;
    }
  }

  void Finalize() override {
    std::ostream& out = GetOutputStream();
    const auto plain = Lookup("BM_Deploy/plain"), isolated = Lookup("BM_Deploy/isolated");
    const auto procs = Lookup("BM_StopToEmpty/procs-100"), bomb = Lookup("BM_StopToEmpty/forkbomb");
    out << "\nSummary (ms; deploy = Supervisor::Start until \"ready\" in the stdout log, start = "
           "until Start returned;\nstop-to-empty = Stop(grace 0) until it returned with the "
           "cgroup empty):\n";
    out << "deploy-to-running: plain " << Ms(plain) << " (start " << Counter(plain, "start_ms")
        << "), isolated " << Ms(isolated) << " (start " << Counter(isolated, "start_ms")
        << ", of which check_before_exec " << Counter(isolated, "check_ms", "%.3f")
        << "), ratio isolated/plain "
        << (plain && isolated ? Format("%.2f", isolated->wall / plain->wall) : "-") << "\n";
    out << "stop-to-empty: " << kProcs << " procs " << Ms(procs) << ", fork bomb " << Ms(bomb)
        << " (" << Counter(bomb, "pids_at_stop", "%.0f") << " of " << kPidsLimit
        << " pids at stop); goal < 1000 ms: "
        << (procs && bomb ? (procs->wall < 1 && bomb->wall < 1 ? "met" : "NOT met") : "-") << "\n";
    out.flush();
  }

 private:
  struct Figure {
    double wall = 0;  // seconds per iteration
    bool from_median = false;
    std::map<std::string, double> counters;
  };

  std::optional<Figure> Lookup(const std::string& name) const {
    auto it = figures_.find(name);
    if (it == figures_.end() || it->second.wall <= 0) return std::nullopt;
    return it->second;
  }
  static std::string Format(const char* fmt, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
  }
  static std::string Ms(const std::optional<Figure>& f) {
    return f ? Format("%.2f", f->wall * 1e3) : "-";
  }
  static std::string Counter(const std::optional<Figure>& f, const std::string& name,
                             const char* fmt = "%.2f") {
    if (!f) return "-";
    auto it = f->counters.find(name);
    return it == f->counters.end() ? "-" : Format(fmt, it->second);
  }

  std::map<std::string, Figure> figures_;  // by benchmark name
};

void RegisterBenchmarks(Fixtures* fixtures) {
  // The benchmarks keep `fixtures`, which must outlive the run.
  for (const bool isolated : {false, true}) {
    benchmark::RegisterBenchmark(isolated ? "BM_Deploy/isolated" : "BM_Deploy/plain", BM_Deploy,
                                 fixtures, isolated)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime()
        ->Iterations(kDeployIterations);
  }
  for (const auto& [name, load] : {std::pair{"BM_StopToEmpty/procs-100", Load::kManyProcs},
                                   {"BM_StopToEmpty/forkbomb", Load::kForkBomb}}) {
    benchmark::RegisterBenchmark(name, BM_StopToEmpty, fixtures, load)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime()
        ->Iterations(kStopIterations);
  }
}

int RunIsolationBenchmarks(int argc, char** argv) {
  return bench::RunBenchmarks<SummaryReporter>(argc, argv, [](const bench::Run& run) {
    Fixtures fixtures;
    RegisterBenchmarks(&fixtures);
    return run();
  });
}

}  // namespace
}  // namespace sitechain::nlsm

int main(int argc, char** argv) { return sitechain::nlsm::RunIsolationBenchmarks(argc, argv); }
