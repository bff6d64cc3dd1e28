// Supervisor tests with real child processes: the example services (echo-service, crasher, found
// through SITECHAIN_BIN_DIR) and /bin/sh, always started from open descriptors. Nothing waits on
// a fixed sleep: conditions are polled with a deadline.
#include "nlsm/supervisor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sitechain::nlsm {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{10000};

bool WaitUntil(const std::function<bool()>& condition, milliseconds deadline = kDeadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return condition();
    std::this_thread::sleep_for(milliseconds(2));
  }
}

std::string BinDir() {
  const char* dir = std::getenv("SITECHAIN_BIN_DIR");
  return dir != nullptr ? dir : "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

size_t CountOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The values of the lines starting with `prefix`, in order.
std::vector<std::string> LinesWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

// Copies a file with descriptors that are close-on-exec, so that no child forked meanwhile can
// hold it open for writing (ETXTBSY at exec).
void CopyExecutable(const std::string& from, const std::string& to) {
  const std::string data = ReadFile(from);
  ASSERT_FALSE(data.empty()) << from;
  UniqueFd fd(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755));
  ASSERT_TRUE(fd.valid()) << to;
  ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

bool Gone(pid_t pid) { return !ProcessStartTime(pid).ok(); }

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(BinDir().empty()) << "set SITECHAIN_BIN_DIR to the build's bin directory";
    echo_ = BinDir() + "/echo-service";
    crasher_ = BinDir() + "/crasher";
    ASSERT_TRUE(fs::exists(echo_)) << echo_;
    ASSERT_TRUE(fs::exists(crasher_)) << crasher_;
    std::string tmpl = (fs::path(::testing::TempDir()) / "supervisor-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    sup_.reset();
    fs::remove_all(dir_);
  }

  SupervisorOptions FastOptions() {
    SupervisorOptions o;
    o.initial_backoff = milliseconds(20);
    o.max_backoff = milliseconds(80);
    o.crash_loop_limit = 1000;
    o.stop_grace = milliseconds(2000);
    o.pid_dir = dir_ + "/run";
    return o;
  }

  Supervisor& Make(SupervisorOptions o, const Clock* clock = nullptr) {
    auto s = Supervisor::Create(std::move(o), clock != nullptr ? *clock : clock_, rng_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    sup_ = std::move(s).value();
    return *sup_;
  }
  Supervisor& Make() { return Make(FastOptions()); }

  // A spec for `service` running `exe` (opened here; the descriptor stays open for the test).
  LaunchSpec Spec(const std::string& service, const std::string& exe,
                  std::vector<std::string> args = {},
                  RestartPolicy restart = RestartPolicy::kOnFailure) {
    UniqueFd fd(::open(exe.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << exe;
    LaunchSpec spec;
    spec.service = service;
    spec.executable_fd = fd.get();
    spec.args = std::move(args);
    spec.working_dir = dir_;
    spec.stdout_path = Out(service);
    spec.stderr_path = Err(service);
    spec.restart = restart;
    fds_.push_back(std::move(fd));
    return spec;
  }
  std::string Out(const std::string& service) const { return dir_ + "/" + service + ".out"; }
  std::string Err(const std::string& service) const { return dir_ + "/" + service + ".err"; }
  std::string Record(const std::string& service) const { return dir_ + "/run/" + service + ".pid"; }

  ProcessInfo InfoOf(const std::string& service) {
    std::optional<ProcessInfo> info = sup_->Info(service);
    EXPECT_TRUE(info.has_value()) << service;
    return info.value_or(ProcessInfo{});
  }
  bool StateIs(const std::string& service, ProcessState state) {
    std::optional<ProcessInfo> info = sup_->Info(service);
    return info && info->state == state;
  }
  bool OutputHas(const std::string& service, const std::string& what, size_t times = 1) {
    return CountOf(ReadFile(Out(service)), what) >= times;
  }

  std::string echo_, crasher_, dir_;
  SystemClock clock_;
  ManualClock manual_{TimePoint(std::chrono::seconds(1767225600))};
  SeededRandom rng_{7};
  std::vector<UniqueFd> fds_;
  // What on_state_change callbacks record; declared before sup_, so it outlives the watcher.
  std::mutex states_mu_;
  std::vector<ProcessState> states_;
  std::unique_ptr<Supervisor> sup_;  // last: destroyed first
};

TEST_F(SupervisorTest, RunsWithExactlyTheGivenArgvAndEnvironment) {
  ::setenv("LEAKED_FROM_THE_DAEMON", "1", 1);
  Supervisor& sup = Make();
  LaunchSpec spec =
      Spec("echo", echo_, {"--print-env", "--heartbeat-ms", "100000", "two words", ""});
  spec.env = {{"FOO", "bar"}, {"SITECHAIN_CERT", "/run/x/cert.pem"}, {"EMPTY", ""}};
  ASSERT_TRUE(sup.Start(spec).ok());
  ::unsetenv("LEAKED_FROM_THE_DAEMON");
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "ready"); })) << ReadFile(Out("echo"));

  const std::string out = ReadFile(Out("echo"));
  EXPECT_EQ(LinesWith(out, "argv0: "), std::vector<std::string>{"echo"});
  EXPECT_EQ(LinesWith(out, "arg: "), (std::vector<std::string>{"two words", ""}));
  EXPECT_EQ(LinesWith(out, "env: "),
            (std::vector<std::string>{"EMPTY=", "FOO=bar", "PATH=/usr/bin:/bin",
                                      "SITECHAIN_CERT=/run/x/cert.pem"}));

  const ProcessInfo info = InfoOf("echo");
  EXPECT_EQ(info.state, ProcessState::kRunning);
  EXPECT_EQ(info.detail, "running");
  ASSERT_GT(info.pid, 0);
  EXPECT_EQ(::getpgid(info.pid), info.pid) << "the service leads its own process group";
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(info.pid) + "/cwd"), fs::path(dir_));
  EXPECT_EQ(fs::status(Out("echo")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(SupervisorTest, AGivenPathReplacesTheDefault) {
  Supervisor& sup = Make();
  LaunchSpec spec = Spec("echo", echo_, {"--print-env", "--heartbeat-ms", "100000"});
  spec.env = {{"PATH", "/opt/bin"}};
  ASSERT_TRUE(sup.Start(spec).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "ready"); }));
  EXPECT_EQ(LinesWith(ReadFile(Out("echo")), "env: "), std::vector<std::string>{"PATH=/opt/bin"});
}

TEST_F(SupervisorTest, AppendsStdoutAndStderrToTheirFiles) {
  Supervisor& sup = Make();
  { std::ofstream(Out("c")) << "earlier run\n"; }
  ASSERT_TRUE(
      sup.Start(Spec("c", crasher_, {"--after-ms", "0", "--code", "0"}, RestartPolicy::kNever))
          .ok());
  ASSERT_TRUE(WaitUntil([&] { return StateIs("c", ProcessState::kExited); }));
  const std::string out = ReadFile(Out("c"));
  EXPECT_EQ(out.rfind("earlier run\ncrasher start ", 0), 0u) << out;
  const std::string err = ReadFile(Err("c"));
  EXPECT_NE(err.find("crasher start "), std::string::npos) << err;
  EXPECT_NE(err.find("crasher: exiting with code 0"), std::string::npos) << err;
  EXPECT_EQ(out.find("exiting with code"), std::string::npos) << "stderr went to stdout";
  EXPECT_EQ(fs::status(Err("c")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(SupervisorTest, GivesTheServiceOnlyStdinStdoutAndStderr) {
  // Descriptors the daemon holds without close-on-exec must not reach the service.
  int leaky[2];
  ASSERT_EQ(::pipe(leaky), 0);
  const int leaky_file = ::open(echo_.c_str(), O_RDONLY);
  ASSERT_GE(leaky_file, 0);
  Supervisor& sup = Make();
  ASSERT_TRUE(sup.Start(Spec("echo", echo_, {"--print-fds", "--heartbeat-ms", "100000"})).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "ready"); }));
  const std::string out = ReadFile(Out("echo"));
  EXPECT_EQ(LinesWith(out, "fds:"), std::vector<std::string>{" 0 1 2"}) << out;
  EXPECT_EQ(LinesWith(out, "stdin: "), std::vector<std::string>{"/dev/null"}) << out;
  ::close(leaky[0]);
  ::close(leaky[1]);
  ::close(leaky_file);
}

TEST_F(SupervisorTest, ResetsSignalDispositionsAndMaskInherited) {
  // The daemon ignores SIGTERM; the service must not inherit that. A shell cannot un-ignore a
  // signal ignored on entry, so it survives its own SIGTERM only if the supervisor leaks it.
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGTERM, &ignore, &old), 0);
  Supervisor& sup = Make();
  ASSERT_TRUE(sup.Start(Spec("sh", "/bin/sh", {"-c", "kill -TERM $$; echo survived"},
                             RestartPolicy::kNever))
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return StateIs("sh", ProcessState::kExited); }));
  ::sigaction(SIGTERM, &old, nullptr);
  const ProcessInfo info = InfoOf("sh");
  EXPECT_EQ(info.last_exit_signal, SIGTERM) << ReadFile(Out("sh"));
  EXPECT_FALSE(info.last_exit_code.has_value());
  EXPECT_EQ(ReadFile(Out("sh")), "");
  EXPECT_NE(info.detail.find("killed by SIGTERM"), std::string::npos) << info.detail;
}

TEST_F(SupervisorTest, ExecsTheVerifiedDescriptorAfterItsPathIsReplacedOrUnlinked) {
  const std::string replaced = dir_ + "/replaced", unlinked = dir_ + "/unlinked";
  CopyExecutable(echo_, replaced);
  CopyExecutable(echo_, unlinked);
  CopyExecutable(crasher_, dir_ + "/evil");
  Supervisor& sup = Make();
  // The service exits with 1 after 30 ms, so every restart execs the kept descriptor again.
  const std::vector<std::string> args = {"--exit-after-ms", "30", "--exit-code", "1"};
  LaunchSpec a = Spec("replaced", replaced, args);
  LaunchSpec b = Spec("unlinked", unlinked, args);
  fs::rename(dir_ + "/evil", replaced);  // what was verified is not at the path any more
  fs::remove(unlinked);
  ASSERT_TRUE(sup.Start(a).ok());
  ASSERT_TRUE(sup.Start(b).ok());
  fds_.clear();  // the caller may close its descriptors: the supervisor has its own
  for (const char* service : {"replaced", "unlinked"}) {
    ASSERT_TRUE(WaitUntil([&] {
      return OutputHas(service, "echo-service pid=", 3) && InfoOf(service).restarts >= 2;
    })) << service;
    const std::string out = ReadFile(Out(service));
    EXPECT_EQ(out.find("crasher"), std::string::npos) << out;
  }
}

TEST_F(SupervisorTest, RestartsACrashingServiceWithGrowingCappedBackoff) {
  SupervisorOptions o = FastOptions();
  o.initial_backoff = milliseconds(40);
  o.max_backoff = milliseconds(160);
  o.on_state_change = [this](const ProcessInfo& info) {
    std::lock_guard<std::mutex> lock(states_mu_);
    states_.push_back(info.state);
  };
  Supervisor& sup = Make(std::move(o));
  {
    Status st = sup.Start(Spec("c", crasher_, {"--after-ms", "0", "--code", "3"}));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // Five spawns, each seen to print (a restart counts at exec, before the output).
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("c", "crasher start", 5); }));
  ASSERT_TRUE(sup.Stop("c").ok());

  // The n-th restart waited at least d/2, d = min(160, 40 * 2^(n-1)) ms.
  std::vector<long long> starts;
  for (const auto& v : LinesWith(ReadFile(Out("c")), "crasher start ")) {
    starts.push_back(std::stoll(v));
  }
  ASSERT_GE(starts.size(), 5u);
  const long long min_gap[] = {20, 40, 80, 80};
  for (size_t n = 0; n < 4; ++n) {
    EXPECT_GE(starts[n + 1] - starts[n], min_gap[n]) << "restart " << n + 1;
  }
  EXPECT_EQ(InfoOf("c").state, ProcessState::kStopped);
  // Notifications are delivered on the watcher thread, a moment after the change.
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard<std::mutex> lock(states_mu_);
    return !states_.empty() && states_.back() == ProcessState::kStopped;
  }));
  std::lock_guard<std::mutex> lock(states_mu_);
  ASSERT_GE(states_.size(), 4u);
  EXPECT_EQ(states_[0], ProcessState::kStarting);
  EXPECT_EQ(states_[1], ProcessState::kRunning);
  EXPECT_EQ(states_[2], ProcessState::kBackoff);
  EXPECT_EQ(states_[3], ProcessState::kStarting);
}

TEST_F(SupervisorTest, ReportsBackoffAndCancelsTheRestartOnStop) {
  SupervisorOptions o = FastOptions();
  o.initial_backoff = o.max_backoff = milliseconds(60000);
  Supervisor& sup = Make(std::move(o));
  {
    Status st = sup.Start(Spec("c", crasher_, {"--after-ms", "0", "--code", "3"}));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ASSERT_TRUE(WaitUntil([&] { return StateIs("c", ProcessState::kBackoff); }));
  ProcessInfo info = InfoOf("c");
  EXPECT_EQ(info.pid, 0);
  EXPECT_EQ(info.last_exit_code, 3);
  ASSERT_TRUE(info.restart_at.has_value());
  EXPECT_GE(*info.restart_at, info.started_at + std::chrono::seconds(30));
  EXPECT_NE(info.detail.find("exit code 3; restart 1 in "), std::string::npos) << info.detail;
  ASSERT_TRUE(sup.Stop("c").ok());
  info = InfoOf("c");
  EXPECT_EQ(info.state, ProcessState::kStopped);
  EXPECT_EQ(info.restarts, 0);
}

TEST_F(SupervisorTest, RestartBackoffIsJitteredDoublingAndCapped) {
  SupervisorOptions o;
  o.initial_backoff = milliseconds(1000);
  o.max_backoff = milliseconds(60000);
  SeededRandom rng(3);
  for (int n = 1; n <= 12; ++n) {
    const milliseconds d =
        std::min(milliseconds(60000), milliseconds(1000 * (int64_t{1} << (n - 1))));
    milliseconds lo = d, hi{0};
    for (int i = 0; i < 200; ++i) {
      const milliseconds b = RestartBackoff(o, n, rng);
      ASSERT_GE(b, d / 2) << n;
      ASSERT_LE(b, d) << n;
      lo = std::min(lo, b);
      hi = std::max(hi, b);
    }
    EXPECT_LT(lo, hi) << "no jitter at n=" << n;
  }
  EXPECT_LE(RestartBackoff(o, 1000, rng), milliseconds(60000));
}

TEST_F(SupervisorTest, ACrashLoopIsReportedAndNotRestarted) {
  SupervisorOptions o = FastOptions();
  o.crash_loop_limit = 3;
  Supervisor& sup = Make(std::move(o));
  {
    Status st = sup.Start(Spec("c", crasher_, {"--after-ms", "0", "--code", "3"}));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ASSERT_TRUE(WaitUntil([&] { return StateIs("c", ProcessState::kCrashLoop); }));
  const ProcessInfo info = InfoOf("c");
  EXPECT_EQ(info.restarts, 2);
  EXPECT_EQ(info.pid, 0);
  EXPECT_EQ(info.last_exit_code, 3);
  EXPECT_NE(info.detail.find("3 exits within 60.0 s (last: exit code 3)"), std::string::npos)
      << info.detail;
  EXPECT_EQ(CountOf(ReadFile(Out("c")), "crasher start"), 3u);
  EXPECT_FALSE(fs::exists(Record("c")));
  // A crash-looping service can be started afresh (e.g. after a fixed release).
  ASSERT_TRUE(sup.Start(Spec("c", echo_, {"--heartbeat-ms", "100000"})).ok());
  EXPECT_EQ(InfoOf("c").restarts, 0);
  EXPECT_EQ(InfoOf("c").state, ProcessState::kRunning);
}

TEST_F(SupervisorTest, TheCrashLoopWindowIsMeasuredWithTheInjectedClock) {
  // Each exit happens "two seconds" after the previous one by the injected clock, so a window of
  // one second never holds two of them, however fast they come in real time.
  SupervisorOptions o = FastOptions();
  o.crash_loop_limit = 2;
  o.crash_loop_window = milliseconds(1000);
  o.on_state_change = [this](const ProcessInfo& info) {
    if (info.state == ProcessState::kRunning) manual_.Advance(std::chrono::seconds(2));
  };
  Supervisor& sup = Make(std::move(o), &manual_);
  {
    Status st = sup.Start(Spec("c", crasher_, {"--after-ms", "0", "--code", "3"}));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ASSERT_TRUE(WaitUntil([&] { return InfoOf("c").restarts >= 4; }));
  EXPECT_NE(InfoOf("c").state, ProcessState::kCrashLoop);
  EXPECT_GE(InfoOf("c").started_at, TimePoint(std::chrono::seconds(1767225600 + 8)));
}

TEST_F(SupervisorTest, RestartPolicies) {
  Supervisor& sup = Make();
  ASSERT_TRUE(sup.Start(Spec("never", crasher_, {"--after-ms", "0"}, RestartPolicy::kNever)).ok());
  ASSERT_TRUE(sup.Start(Spec("clean", crasher_, {"--after-ms", "0", "--code", "0"},
                             RestartPolicy::kOnFailure))
                  .ok());
  ASSERT_TRUE(sup.Start(Spec("killed", crasher_, {"--after-ms", "0", "--signal", "9"},
                             RestartPolicy::kOnFailure))
                  .ok());
  ASSERT_TRUE(sup.Start(Spec("always", crasher_, {"--after-ms", "0", "--code", "0"},
                             RestartPolicy::kAlways))
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return StateIs("never", ProcessState::kExited); }));
  ASSERT_TRUE(WaitUntil([&] { return StateIs("clean", ProcessState::kExited); }));
  ASSERT_TRUE(WaitUntil([&] { return InfoOf("killed").restarts >= 1; }));
  ASSERT_TRUE(WaitUntil([&] { return InfoOf("always").restarts >= 2; }));

  ProcessInfo never = InfoOf("never");
  EXPECT_EQ(never.restarts, 0);
  EXPECT_EQ(never.last_exit_code, 3);
  EXPECT_EQ(never.detail, "exit code 3; not restarted (restart policy never)");
  EXPECT_EQ(InfoOf("clean").restarts, 0);
  EXPECT_EQ(InfoOf("clean").last_exit_code, 0);
  EXPECT_EQ(InfoOf("killed").last_exit_signal, SIGKILL);
  EXPECT_EQ(InfoOf("always").last_exit_code, 0);
  EXPECT_EQ(CountOf(ReadFile(Out("never")), "crasher start"), 1u);
}

TEST_F(SupervisorTest, StopSendsSigtermAndDoesNotRestart) {
  Supervisor& sup = Make();
  ASSERT_TRUE(
      sup.Start(Spec("echo", echo_, {"--heartbeat-ms", "100000"}, RestartPolicy::kAlways)).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "ready"); }));
  const pid_t pid = InfoOf("echo").pid;
  ASSERT_TRUE(fs::exists(Record("echo")));
  ASSERT_TRUE(sup.Stop("echo", milliseconds(10000)).ok());
  const ProcessInfo info = InfoOf("echo");
  EXPECT_EQ(info.state, ProcessState::kStopped);
  EXPECT_EQ(info.pid, 0);
  EXPECT_EQ(info.restarts, 0);
  EXPECT_EQ(info.last_exit_code, 0);
  EXPECT_EQ(info.detail, "stopped: exit code 0 after SIGTERM");
  EXPECT_TRUE(Gone(pid));
  EXPECT_TRUE(OutputHas("echo", "got SIGTERM, exiting"));
  EXPECT_FALSE(fs::exists(Record("echo")));
  // Stopping again is fine; the state stays.
  EXPECT_TRUE(sup.Stop("echo").ok());
  EXPECT_EQ(InfoOf("echo").state, ProcessState::kStopped);
}

// The renewal signal: sent to the running process only, through its pidfd.
TEST_F(SupervisorTest, SignalReachesTheRunningServiceOnly) {
  Supervisor& sup = Make();
  EXPECT_EQ(sup.Signal("echo", SIGHUP).code(), StatusCode::kNotFound);
  ASSERT_TRUE(sup.Start(Spec("echo", echo_, {"--heartbeat-ms", "100000"})).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "ready"); }));
  const pid_t pid = InfoOf("echo").pid;
  ASSERT_TRUE(sup.Signal("echo", SIGHUP).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "got SIGHUP 1"); }));
  ASSERT_TRUE(sup.Signal("echo", SIGHUP).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "got SIGHUP 2"); }));
  EXPECT_EQ(InfoOf("echo").pid, pid);  // still the same process
  EXPECT_EQ(InfoOf("echo").restarts, 0);
  ASSERT_TRUE(sup.Stop("echo").ok());
  EXPECT_EQ(sup.Signal("echo", SIGHUP).code(), StatusCode::kFailedPrecondition);
}

TEST_F(SupervisorTest, StopSendsSigkillAfterTheGraceToAServiceIgnoringSigterm) {
  Supervisor& sup = Make();
  ASSERT_TRUE(
      sup.Start(Spec("stubborn", echo_, {"--ignore-term", "--heartbeat-ms", "100000"})).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("stubborn", "ready"); }));
  const pid_t pid = InfoOf("stubborn").pid;
  const auto before = std::chrono::steady_clock::now();
  ASSERT_TRUE(sup.Stop("stubborn", milliseconds(300)).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - before, milliseconds(300));
  const ProcessInfo info = InfoOf("stubborn");
  EXPECT_EQ(info.state, ProcessState::kStopped);
  EXPECT_EQ(info.last_exit_signal, SIGKILL);
  EXPECT_NE(info.detail.find("SIGKILL after the grace period"), std::string::npos) << info.detail;
  EXPECT_TRUE(OutputHas("stubborn", "got SIGTERM, ignoring it"));
  EXPECT_TRUE(Gone(pid));
}

TEST_F(SupervisorTest, StopWithoutGraceKillsAtOnce) {
  Supervisor& sup = Make();
  ASSERT_TRUE(
      sup.Start(Spec("stubborn", echo_, {"--ignore-term", "--heartbeat-ms", "100000"})).ok());
  ASSERT_TRUE(sup.Stop("stubborn", milliseconds(0)).ok());
  EXPECT_EQ(InfoOf("stubborn").last_exit_signal, SIGKILL);
}

TEST_F(SupervisorTest, WhatIsLeftOfTheProcessGroupIsKilledWhenTheLeaderExits) {
  Supervisor& sup = Make();
  const std::string child_file = dir_ + "/child.pid";
  ASSERT_TRUE(
      sup.Start(Spec("parent", echo_, {"--child-pid-file", child_file, "--heartbeat-ms", "100000"}))
          .ok());
  pid_t child = 0;
  ASSERT_TRUE(WaitUntil([&] {
    child = std::atoi(ReadFile(child_file).c_str());
    return child > 0 && CountOf(ReadFile(Out("parent")), "ready") >= 2;  // both are set up
  }));
  ASSERT_TRUE(WaitUntil([&] { return ProcessStartTime(child).ok(); }));
  // The leader exits on SIGTERM; its child ignores SIGTERM and would linger without the kill.
  const auto before = std::chrono::steady_clock::now();
  ASSERT_TRUE(sup.Stop("parent", milliseconds(20000)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - before, milliseconds(10000));
  EXPECT_TRUE(WaitUntil([&] { return Gone(child); }));
}

TEST_F(SupervisorTest, TheServiceOutlivesTheThreadThatStartedIt) {
  // PR_SET_PDEATHSIG fires when the forking thread exits: forks must not happen on callers.
  Supervisor& sup = Make();
  LaunchSpec spec = Spec("echo", echo_, {"--heartbeat-ms", "20"});
  Status started;
  std::thread caller([&] { started = sup.Start(spec); });
  caller.join();
  ASSERT_TRUE(started.ok()) << started.ToString();
  const size_t beats = CountOf(ReadFile(Out("echo")), "heartbeat");
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("echo", "heartbeat", beats + 3); }));
  EXPECT_EQ(InfoOf("echo").state, ProcessState::kRunning);
  EXPECT_FALSE(OutputHas("echo", "got SIGTERM"));
}

TEST_F(SupervisorTest, RefusesBadSpecsAndReportsExecFailures) {
  Supervisor& sup = Make();
  const auto code = [&](const LaunchSpec& s) { return sup.Start(s).code(); };
  LaunchSpec ok = Spec("echo", echo_, {"--heartbeat-ms", "100000"});

  LaunchSpec bad = ok;
  for (const char* name : {"", "Echo", "a/b", ".hidden", "-x"}) {
    bad.service = name;
    EXPECT_EQ(code(bad), StatusCode::kInvalidArgument) << name;
  }
  bad = ok;
  bad.executable_fd = -1;
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);
  UniqueFd dir_fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  bad.executable_fd = dir_fd.get();
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);
  bad = ok;
  bad.env = {{"A=B", "c"}};
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);
  bad = ok;
  bad.args = {std::string("a\0b", 3)};
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);
  bad = ok;
  bad.stdout_path = "";
  EXPECT_EQ(code(bad), StatusCode::kInvalidArgument);

  // Failures of the spawn itself: nothing is kept.
  const std::string text = dir_ + "/text", script = dir_ + "/script";
  { std::ofstream(text) << "not a program\n"; }
  { std::ofstream(script) << "#!/bin/sh\necho hi\n"; }
  fs::permissions(script, fs::perms::owner_all);
  Status s = sup.Start(Spec("text", text));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();  // no execute permission
  fs::permissions(text, fs::perms::owner_all);
  s = sup.Start(Spec("text", text));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();  // ENOEXEC
  EXPECT_NE(s.message().find("not an executable format"), std::string::npos) << s.ToString();
  s = sup.Start(Spec("script", script));  // close-on-exec descriptor: /dev/fd/N is gone
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_FALSE(sup.Info("text").has_value());
  EXPECT_FALSE(sup.Info("script").has_value());
  EXPECT_FALSE(fs::exists(Record("text")));

  bad = ok;
  bad.working_dir = dir_ + "/missing";
  EXPECT_EQ(code(bad), StatusCode::kNotFound);
  bad = ok;
  fs::create_symlink(dir_ + "/elsewhere", dir_ + "/link.out");
  bad.stdout_path = dir_ + "/link.out";
  EXPECT_FALSE(sup.Start(bad).ok()) << "a log path that is a symlink is refused";
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere"));
  EXPECT_FALSE(sup.Info("echo").has_value());

  // Duplicates, unknown services, Forget.
  ASSERT_TRUE(sup.Start(ok).ok());
  EXPECT_EQ(code(ok), StatusCode::kAlreadyExists);
  EXPECT_EQ(sup.Stop("nobody").code(), StatusCode::kNotFound);
  EXPECT_EQ(sup.Forget("nobody").code(), StatusCode::kNotFound);
  EXPECT_EQ(sup.Forget("echo").code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(sup.Stop("echo").ok());
  EXPECT_TRUE(sup.Forget("echo").ok());
  EXPECT_FALSE(sup.Info("echo").has_value());
}

TEST_F(SupervisorTest, RefusesInconsistentOptions) {
  SupervisorOptions o;
  o.initial_backoff = milliseconds(0);
  EXPECT_FALSE(Supervisor::Create(o, clock_, rng_).ok());
  o = SupervisorOptions{};
  o.initial_backoff = milliseconds(2000);
  o.max_backoff = milliseconds(1000);
  EXPECT_FALSE(Supervisor::Create(o, clock_, rng_).ok());
  o = SupervisorOptions{};
  o.crash_loop_limit = 0;
  EXPECT_FALSE(Supervisor::Create(o, clock_, rng_).ok());
  o = SupervisorOptions{};
  o.crash_loop_window = milliseconds(0);
  EXPECT_FALSE(Supervisor::Create(o, clock_, rng_).ok());
}

TEST_F(SupervisorTest, PidRecordsFollowTheProcess) {
  Supervisor& sup = Make();
  ASSERT_TRUE(sup.Start(Spec("echo", echo_, {"--exit-after-ms", "100", "--exit-code", "1"})).ok());
  const auto record_matches = [&] {
    const ProcessInfo info = InfoOf("echo");
    if (info.pid <= 0) return false;
    auto start = ProcessStartTime(info.pid);
    return start.ok() && ReadFile(Record("echo")) ==
                             std::to_string(info.pid) + " " + std::to_string(*start) + "\n";
  };
  ASSERT_TRUE(WaitUntil(record_matches));
  EXPECT_EQ(fs::status(Record("echo")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir_ + "/run").permissions() & fs::perms::all, fs::perms::owner_all);
  const pid_t first = InfoOf("echo").pid;
  ASSERT_TRUE(WaitUntil([&] { return InfoOf("echo").restarts >= 1 && record_matches(); }));
  EXPECT_NE(InfoOf("echo").pid, first);
  ASSERT_TRUE(sup.Stop("echo").ok());
  EXPECT_FALSE(fs::exists(Record("echo")));
}

TEST_F(SupervisorTest, ListsEveryServiceByName) {
  Supervisor& sup = Make();
  ASSERT_TRUE(sup.Start(Spec("zeta", echo_, {"--heartbeat-ms", "100000"})).ok());
  ASSERT_TRUE(sup.Start(Spec("alpha", crasher_, {"--after-ms", "0"}, RestartPolicy::kNever)).ok());
  ASSERT_TRUE(WaitUntil([&] { return StateIs("alpha", ProcessState::kExited); }));
  const std::vector<ProcessInfo> all = sup.List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].service, "alpha");
  EXPECT_EQ(all[0].state, ProcessState::kExited);
  EXPECT_EQ(all[1].service, "zeta");
  EXPECT_EQ(all[1].state, ProcessState::kRunning);
  EXPECT_EQ(ProcessStateName(ProcessState::kCrashLoop), "crash-loop");
}

TEST_F(SupervisorTest, TheDestructorStopsEverything) {
  SupervisorOptions o = FastOptions();
  o.stop_grace = milliseconds(200);
  Supervisor& sup = Make(std::move(o));
  ASSERT_TRUE(sup.Start(Spec("polite", echo_, {"--heartbeat-ms", "100000"})).ok());
  ASSERT_TRUE(
      sup.Start(Spec("stubborn", echo_, {"--ignore-term", "--heartbeat-ms", "100000"})).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("stubborn", "ready"); }));
  const pid_t a = InfoOf("polite").pid, b = InfoOf("stubborn").pid;
  sup_.reset();
  EXPECT_TRUE(Gone(a));
  EXPECT_TRUE(Gone(b));
  EXPECT_FALSE(fs::exists(Record("polite")));
  EXPECT_FALSE(fs::exists(Record("stubborn")));
}

// ---- Orphans of a previous run ----

// Runs `body` in a forked copy of this (single-threaded) test process, standing in for an nlsm
// that will be killed with SIGKILL. Returns its pid.
pid_t ForkOldDaemon(const std::function<bool()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!body()) ::_exit(1);
    while (true) ::pause();
  }
  return pid;
}

// Reaps `pid` (a child of this process) within the deadline; its wait status or -1.
int ReapWithin(pid_t pid, milliseconds deadline = kDeadline) {
  int status = -1;
  WaitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, deadline);
  return status;
}

TEST_F(SupervisorTest, KillOrphansKillsRecordedProcessesAndOnlyThose) {
  // This process adopts the orphans, so that it can see how they ended.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const std::string pid_dir = dir_ + "/run";
  LaunchSpec stubborn = Spec("stubborn", echo_, {"--ignore-term", "--heartbeat-ms", "100000"});
  LaunchSpec polite = Spec("polite", echo_, {"--heartbeat-ms", "100000"});
  SupervisorOptions options = FastOptions();
  const pid_t old_daemon = ForkOldDaemon([&] {
    auto sup = Supervisor::Create(options, clock_, rng_);
    return sup.ok() && sup.value()->Start(stubborn).ok() && sup.value()->Start(polite).ok() &&
           (sup.value().release(), true);  // never destroyed: the daemon is killed
  });
  ASSERT_GT(old_daemon, 0);
  ASSERT_TRUE(WaitUntil([&] {
    return OutputHas("stubborn", "ready") && OutputHas("polite", "ready") &&
           fs::exists(Record("stubborn")) && fs::exists(Record("polite"));
  }));
  const pid_t stubborn_pid = std::atoi(ReadFile(Record("stubborn")).c_str());
  const pid_t polite_pid = std::atoi(ReadFile(Record("polite")).c_str());
  ASSERT_EQ(::kill(old_daemon, SIGKILL), 0);
  const int old_status = ReapWithin(old_daemon);
  ASSERT_TRUE(WIFSIGNALED(old_status) && WTERMSIG(old_status) == SIGKILL) << old_status;

  // PR_SET_PDEATHSIG: the polite service went with its supervisor; the stubborn one is left.
  const int polite_status = ReapWithin(polite_pid);
  EXPECT_TRUE(WIFEXITED(polite_status) && WEXITSTATUS(polite_status) == 0) << polite_status;
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("stubborn", "got SIGTERM, ignoring it"); }));
  ASSERT_TRUE(ProcessStartTime(stubborn_pid).ok());

  // A record naming a live process with another starttime (its pid was recycled), a malformed
  // record, and one of a process that is gone.
  const pid_t innocent = ::fork();
  if (innocent == 0) {
    const int fd = ::open(Out("innocent").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0 || ::dup2(fd, 1) < 0) ::_exit(126);
    ::execl(echo_.c_str(), "innocent", "--heartbeat-ms", "100000", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(WaitUntil([&] { return ProcessStartTime(innocent).ok(); }));
  const uint64_t innocent_start = *ProcessStartTime(innocent);
  { std::ofstream(Record("recycled")) << innocent << " " << innocent_start + 1 << "\n"; }
  { std::ofstream(Record("junk")) << "12x 34\n"; }
  { std::ofstream(Record("gone")) << old_daemon << " 1\n"; }

  auto reports = Supervisor::KillOrphans(pid_dir, milliseconds(300));
  ASSERT_TRUE(reports.ok()) << reports.status().ToString();
  std::map<std::string, OrphanReport> by_service;
  for (const auto& r : *reports) by_service[r.service] = r;
  ASSERT_EQ(by_service.size(), 5u);
  EXPECT_EQ(by_service["stubborn"].outcome, "killed by SIGKILL");
  EXPECT_EQ(by_service["stubborn"].pid, stubborn_pid);
  EXPECT_FALSE(by_service["stubborn"].still_running);
  EXPECT_EQ(by_service["polite"].outcome, "not running");
  EXPECT_EQ(by_service["recycled"].outcome, "pid reused by another process");
  EXPECT_EQ(by_service["junk"].outcome, "malformed record");
  EXPECT_EQ(by_service["gone"].outcome, "not running");
  const int stubborn_status = ReapWithin(stubborn_pid);
  EXPECT_TRUE(WIFSIGNALED(stubborn_status) && WTERMSIG(stubborn_status) == SIGKILL);
  // The process whose pid matched but whose starttime did not is left alone.
  auto innocent_now = ProcessStartTime(innocent);
  ASSERT_TRUE(innocent_now.ok()) << "a process with a recycled pid was killed";
  EXPECT_EQ(*innocent_now, innocent_start);
  EXPECT_TRUE(fs::is_empty(pid_dir));

  ::kill(innocent, SIGKILL);
  ReapWithin(innocent);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(SupervisorTest, KillOrphansSendsSigtermFirst) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  // A service started by a previous run that has its own process: echo-service exits 0 on
  // SIGTERM. Its record is written by hand, as a Supervisor would.
  const std::string out = Out("old");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0 || ::dup2(fd, 1) < 0) ::_exit(126);
    ::execl(echo_.c_str(), "old", "--heartbeat-ms", "100000", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("old", "ready"); }));  // its handler is set
  fs::create_directories(dir_ + "/run");
  { std::ofstream(Record("old")) << pid << " " << *ProcessStartTime(pid) << "\n"; }
  auto reports = Supervisor::KillOrphans(dir_ + "/run", milliseconds(5000));
  ASSERT_TRUE(reports.ok());
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].outcome, "killed by SIGTERM");
  const int status = ReapWithin(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(fs::exists(Record("old")));
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(SupervisorTest, KillOrphansWithoutRecordsDoesNothing) {
  auto reports = Supervisor::KillOrphans(dir_ + "/missing", milliseconds(100));
  ASSERT_TRUE(reports.ok());
  EXPECT_TRUE(reports->empty());
}

// ---- Isolation: the check before every exec, limits, and (as root) users and cgroups ----

TEST_F(SupervisorTest, ACheckBeforeExecThatFailsEndsTheRestarts) {
  Supervisor& sup = Make();
  std::atomic<int> checks{0};
  LaunchSpec spec = Spec("c", crasher_, {"--after-ms", "0", "--code", "3"}, RestartPolicy::kAlways);
  // The first exec passes; from the first restart on, the executable "no longer verifies".
  spec.check_before_exec = [&checks](int fd) -> Status {
    EXPECT_GE(fd, 0);
    if (++checks == 1) return Status::Ok();
    return FailedPrecondition("DIGEST_MISMATCH: rewritten since it was verified");
  };
  ASSERT_TRUE(sup.Start(spec).ok());
  ASSERT_TRUE(WaitUntil([&] { return StateIs("c", ProcessState::kExited); })) << InfoOf("c").detail;
  const ProcessInfo info = InfoOf("c");
  EXPECT_NE(info.detail.find("not restarted: DIGEST_MISMATCH"), std::string::npos) << info.detail;
  EXPECT_EQ(checks.load(), 2);
  std::this_thread::sleep_for(milliseconds(300));  // (backoff is 20-80 ms: no later spawn)
  EXPECT_EQ(CountOf(ReadFile(Out("c")), "crasher start"), 1u);
  EXPECT_EQ(checks.load(), 2);
}

TEST_F(SupervisorTest, AFailingCheckBeforeTheFirstExecRefusesTheStart) {
  Supervisor& sup = Make();
  LaunchSpec spec = Spec("echo", echo_);
  spec.check_before_exec = [](int) { return FailedPrecondition("DIGEST_MISMATCH: no"); };
  const Status s = sup.Start(spec);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(sup.Info("echo").has_value());
  EXPECT_TRUE(ReadFile(Out("echo")).empty());
}

TEST_F(SupervisorTest, LimitsWithoutCgroupsAreRefused) {
  Supervisor& sup = Make();
  LaunchSpec spec = Spec("echo", echo_);
  spec.limits.pids = 16;
  const Status s = sup.Start(spec);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("\"limits\""), std::string::npos) << s.ToString();
  EXPECT_FALSE(sup.Info("echo").has_value());
}

TEST_F(SupervisorTest, EveryServiceGetsNoNewPrivs) {
  Supervisor& sup = Make();
  ASSERT_TRUE(sup.Start(Spec("h", BinDir() + "/hostile", {"idle"})).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("h", "ready"); })) << ReadFile(Out("h"));
  EXPECT_NE(ReadFile(Out("h")).find(" nnp 1 "), std::string::npos) << ReadFile(Out("h"));
}

// As root: services in cgroups of their own, under users of their own.
class SupervisorIsolationTest : public SupervisorTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "users and cgroups for services need root";
    SupervisorTest::SetUp();
    auto host = CgroupHost::SetUp("sitechain-test." + std::to_string(::getpid()));
    ASSERT_TRUE(host.ok()) << host.status().ToString();
    host_ = *host;
    hostile_ = BinDir() + "/hostile";
  }
  void TearDown() override {
    SupervisorTest::TearDown();
    if (host_) host_->RemoveScope();
  }
  SupervisorOptions Isolated() {
    SupervisorOptions o = FastOptions();
    o.cgroups = host_;
    return o;
  }
  // The pid in the "escaped pid N ..." line of the service's output, 0 if none yet.
  pid_t EscapedPid(const std::string& service) {
    const auto lines = LinesWith(ReadFile(Out(service)), "escaped pid ");
    return lines.empty() ? 0 : std::atoi(lines.front().c_str());
  }

  std::optional<CgroupHost> host_;
  std::string hostile_;
};

TEST_F(SupervisorIsolationTest, WithoutACgroupAProcessThatLeftItsGroupOutlivesTheStop) {
  // The hole a cgroup closes, shown: setsid + double fork escapes the process-group kill.
  Supervisor& sup = Make();
  ASSERT_TRUE(sup.Start(Spec("h", hostile_, {"escape"})).ok());
  ASSERT_TRUE(WaitUntil([&] { return EscapedPid("h") > 0 && OutputHas("h", "ready"); }));
  const pid_t escaped = EscapedPid("h");
  ASSERT_TRUE(sup.Stop("h", milliseconds(0)).ok());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(Gone(escaped)) << "escaped without a cgroup";
  ::kill(escaped, SIGKILL);
}

TEST_F(SupervisorIsolationTest, StopKillsTheWholeCgroupEvenWhatLeftTheProcessGroup) {
  Supervisor& sup = Make(Isolated());
  ASSERT_TRUE(sup.Start(Spec("h", hostile_, {"escape"})).ok());
  ASSERT_TRUE(WaitUntil([&] { return EscapedPid("h") > 0 && OutputHas("h", "ready"); }));
  const pid_t escaped = EscapedPid("h");
  const std::string cgroup = InfoOf("h").cgroup;
  ASSERT_FALSE(cgroup.empty());
  EXPECT_NE(ReadFile("/proc/" + std::to_string(escaped) + "/cgroup")
                .find(cgroup.substr(cgroup.find("/sitechain-test."))),
            std::string::npos);
  ASSERT_TRUE(sup.Stop("h", milliseconds(2000)).ok());
  // Stop returns once the cgroup is empty: nothing of the service is left.
  EXPECT_TRUE(Gone(escaped));
  EXPECT_EQ(ReadFile(cgroup + "/cgroup.procs"), "");
  ASSERT_TRUE(sup.Forget("h").ok());
  EXPECT_FALSE(fs::exists(cgroup));
}

TEST_F(SupervisorIsolationTest, WhenTheMainProcessExitsItsEscapedChildrenDieBeforeTheRestart) {
  Supervisor& sup = Make(Isolated());
  LaunchSpec spec = Spec("h", hostile_, {"escape"}, RestartPolicy::kAlways);
  ASSERT_TRUE(sup.Start(spec).ok());
  ASSERT_TRUE(WaitUntil([&] { return EscapedPid("h") > 0 && OutputHas("h", "ready"); }));
  const pid_t escaped = EscapedPid("h");
  ::kill(InfoOf("h").pid, SIGKILL);  // the main process dies; the escaped one ignores TERM/HUP
  ASSERT_TRUE(WaitUntil([&] { return InfoOf("h").restarts >= 1; }));
  EXPECT_TRUE(WaitUntil([&] { return Gone(escaped); }));
}

TEST_F(SupervisorIsolationTest, RunsAsItsUserWithoutCapabilitiesAndInItsCgroup) {
  Supervisor& sup = Make(Isolated());
  LaunchSpec spec = Spec("h", hostile_, {"read", "/etc/shadow"});
  spec.user = ServiceUser{1900099901, 1900099901};
  ASSERT_TRUE(sup.Start(spec).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("h", "ready"); })) << ReadFile(Out("h"));
  const std::string out = ReadFile(Out("h"));
  EXPECT_NE(out.find("whoami uid 1900099901 gid 1900099901 groups 0 nnp 1 capeff 0000000000000000"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("RESULT read:/etc/shadow refused EACCES"), std::string::npos) << out;
  const std::string status = ReadFile("/proc/" + std::to_string(InfoOf("h").pid) + "/status");
  EXPECT_NE(status.find("CapBnd:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(ReadFile(InfoOf("h").cgroup + "/cgroup.procs"), "");
}

TEST_F(SupervisorIsolationTest, ThePidsLimitStopsAForkBombAndStopEmptiesIt) {
  Supervisor& sup = Make(Isolated());
  LaunchSpec spec = Spec("bomb", hostile_, {"forkbomb"});
  spec.user = ServiceUser{1900099902, 1900099902};
  spec.limits.pids = 32;
  ASSERT_TRUE(sup.Start(spec).ok());
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("bomb", "RESULT fork refused EAGAIN"); }))
      << ReadFile(Out("bomb"));
  const std::string cgroup = InfoOf("bomb").cgroup;
  ASSERT_TRUE(sup.Stop("bomb", milliseconds(0)).ok());
  EXPECT_EQ(ReadFile(cgroup + "/cgroup.procs"), "");
}

TEST_F(SupervisorIsolationTest, TheSandboxMakesRootReadOnlyAndTmpPrivate) {
  Supervisor& sup = Make(Isolated());
  const std::string work = dir_ + "/work";
  ASSERT_EQ(::mkdir(work.c_str(), 0700), 0);
  LaunchSpec spec = Spec("h", hostile_, {"idle"});
  spec.user = ServiceUser{1900099903, 1900099903};
  ASSERT_EQ(::chown(work.c_str(), 1900099903, 1900099903), 0);
  spec.private_tmp = spec.read_only_root = true;
  spec.writable_dir = work;
  {
    const Status started = sup.Start(spec);
    ASSERT_TRUE(started.ok()) << started.ToString();
  }
  ASSERT_TRUE(WaitUntil([&] { return OutputHas("h", "ready"); })) << ReadFile(Out("h"));
  const std::string mounts = ReadFile("/proc/" + std::to_string(InfoOf("h").pid) + "/mountinfo");
  std::istringstream in(mounts);
  bool root_ro = false, tmp_tmpfs = false, work_rw = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, options;
    f >> id >> parent >> dev >> root >> point >> options;
    if (point == "/") root_ro = options.rfind("ro", 0) == 0;
    if (point == "/tmp") tmp_tmpfs = line.find(" - tmpfs ") != std::string::npos;
    if (point == work) work_rw = options.rfind("rw", 0) == 0;
  }
  EXPECT_TRUE(root_ro) << mounts;
  EXPECT_TRUE(tmp_tmpfs) << mounts;
  EXPECT_TRUE(work_rw) << mounts;
}

}  // namespace
}  // namespace sitechain::nlsm
