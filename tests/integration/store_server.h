#pragma once
// Test helpers for the integration tests that need a running store (header-only: only *_test.cc
// files in tests/integration/ are compiled).
//
//   WaitUntil       polls a condition until it holds or a deadline passes (no blind sleeps).
//   ChildProcess    a program running in the background (posix_spawn), its stdout and stderr
//                   going to files, that a test can signal, wait for with a deadline, and read.
//   StoreServer     `store serve --listen 127.0.0.1:0 --ready-file F` on a state directory: waits
//                   for the ready file, knows the port, stops with SIGTERM or SIGKILL, restarts.
//
//   StoreServer server(BinDir() + "/store", test_dir, "store");
//   ASSERT_TRUE(server.Start());
//   Run devkit with {"--store", server.address(), "--store-root", "store/root.pem"} ...
//   ASSERT_TRUE(server.Stop(SIGKILL));
//   ASSERT_TRUE(server.Start());   // the same directory, a new port
//
// A ChildProcess (so a StoreServer too) that is still running when destroyed is stopped as a
// server is: SIGTERM, and it must exit 0 within ChildProcess::kStopDeadline. One that must be
// killed instead, exits otherwise, or had already ended with a status nobody looked at (a crash
// after the test's last assertion) fails the current test; the process is reaped either way, so
// a failing test leaves no process behind. None of these classes is thread-safe.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace sitechain::testutil {

// Evaluates `condition` every `step` until it returns true (then true) or `deadline` has passed
// (then false; the condition is evaluated one last time at the deadline).
inline bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
                      std::chrono::milliseconds step = std::chrono::milliseconds(2)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return condition();
    std::this_thread::sleep_for(step);
  }
}

// The whole content of a file; empty if it cannot be read.
inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A program started in the background. stdin is /dev/null; stdout and stderr are appended to
// files (so that a chatty child can never block on a full pipe).
class ChildProcess final {
 public:
  // How long a child has to exit 0 after the destructor's SIGTERM: a clean shutdown takes well
  // under a second, but a sanitized server on a loaded machine may take several.
  static constexpr std::chrono::seconds kStopDeadline{60};

  ChildProcess() = default;
  ~ChildProcess() {
    Reap(WNOHANG);
    if (pid_ > 0) {
      if (auto checked = CheckStop(SIGTERM, kStopDeadline, "at the end of the test"); !checked) {
        ADD_FAILURE() << checked.message();
      }
    } else if (exit_code_ && !exit_seen_ && *exit_code_ != 0) {
      ADD_FAILURE() << "a child process ended on its own with " << DescribeExit(*exit_code_)
                    << " and no test looked at it\n"
                    << Describe();
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (a path) in cwd. Fails if a child is running or posix_spawn fails.
  ::testing::AssertionResult Start(const std::vector<std::string>& argv, const std::string& cwd,
                                   const std::string& out_path, const std::string& err_path) {
    if (running()) return ::testing::AssertionFailure() << "a child is already running";
    if (argv.empty()) return ::testing::AssertionFailure() << "empty argv";
    command_.clear();
    for (const auto& a : argv) command_ += (command_.empty() ? "" : " ") + a;
    out_path_ = out_path;
    err_path_ = err_path;
    exit_code_.reset();
    exit_seen_ = false;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      return ::testing::AssertionFailure()
             << "cannot start " << command_ << ": " << std::strerror(rc);
    }
    pid_ = pid;
    return ::testing::AssertionSuccess();
  }

  // True from Start until the child has been seen to exit. A false answer counts as the test
  // having looked at the exit.
  bool running() {
    Reap(WNOHANG);
    if (pid_ > 0) return true;
    exit_seen_ = true;
    return false;
  }
  pid_t pid() const { return pid_; }

  // Sends a signal to the running child (none if it has exited).
  void Signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }

  // Waits at most `deadline` for the child to exit. Its exit status, or 128 + signal if a
  // signal ended it; nullopt if it is still running (it is left running).
  std::optional<int> WaitForExit(std::chrono::milliseconds deadline) {
    WaitUntil([&] { return !running(); }, deadline, std::chrono::milliseconds(5));
    return exit_code();
  }

  // The exit code of the last run, once it has exited.
  std::optional<int> exit_code() {
    Reap(WNOHANG);
    if (exit_code_) exit_seen_ = true;
    return exit_code_;
  }

  // Sends `sig` and waits at most `deadline` for the child to exit, which SIGTERM and SIGINT
  // must end with exit 0 (a server's clean shutdown) and any other signal with 128 + sig. A child
  // that does not exit in time is killed (SIGKILL) and reaped, and that is a failure too. `when`
  // says in failures when it was stopped ("at the end of the test").
  ::testing::AssertionResult CheckStop(int sig, std::chrono::milliseconds deadline,
                                       const std::string& when) {
    if (!running()) {
      return ::testing::AssertionFailure() << "cannot stop it " << when << ": it is not running\n"
                                           << Describe();
    }
    ::kill(pid_, sig);
    const std::optional<int> code = WaitForExit(deadline);
    if (!code) {
      ::kill(pid_, SIGKILL);
      (void)WaitForExit(std::chrono::seconds(30));
      return ::testing::AssertionFailure()
             << "it did not exit within " << deadline.count() << " ms of signal " << sig << " "
             << when << "; killed with SIGKILL\n"
             << Describe();
    }
    const int expected = sig == SIGTERM || sig == SIGINT ? 0 : 128 + sig;
    if (*code != expected) {
      return ::testing::AssertionFailure()
             << "signal " << sig << " " << when << " ended it with " << DescribeExit(*code)
             << ", not " << DescribeExit(expected) << "\n"
             << Describe();
    }
    return ::testing::AssertionSuccess();
  }

  // "exit 3", "signal 11 (exit 139)", or "exit 86 (a sanitizer report)".
  static std::string DescribeExit(int code) {
    if (code == 86) return "exit 86 (a sanitizer report, scripts/test-sanitizers)";
    if (code > 128) {
      return "signal " + std::to_string(code - 128) + " (exit " + std::to_string(code) + ")";
    }
    return "exit " + std::to_string(code);
  }

  std::string out() const { return ReadFileOrEmpty(out_path_); }
  std::string err() const { return ReadFileOrEmpty(err_path_); }

  // "$ command -> state\n--- stdout:\n...\n--- stderr:\n..." for assertion messages.
  std::string Describe() {
    std::string s = "$ " + command_ + "\n-> ";
    if (running()) {
      s += "still running (pid " + std::to_string(pid_) + ")";
    } else if (exit_code_) {
      s += "exit " + std::to_string(*exit_code_);
    } else {
      s += "not started";
    }
    return s + "\n--- stdout:\n" + out() + "--- stderr:\n" + err();
  }

 private:
  void Reap(int flags) {
    if (pid_ <= 0) return;
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, flags);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return;  // still running
    if (r == pid_) {
      exit_code_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                   : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                         : -1;
    } else {
      exit_code_ = -1;  // not our child any more (should not happen)
    }
    pid_ = -1;
  }

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  bool exit_seen_ = false;  // a caller was told the child had exited
  std::string command_, out_path_, err_path_;
};

// Sends `sig` to a server process and waits for it to exit: SIGTERM/SIGINT must end it with
// exit 0 (a clean shutdown) within `deadline`, any other signal with 128 + sig. `what` names the
// server in failures ("store serve"). A server that does not exit is killed, and that fails.
inline ::testing::AssertionResult StopServer(ChildProcess& process, const std::string& what,
                                             int sig, std::chrono::milliseconds deadline) {
  auto stopped = process.CheckStop(sig, deadline, "(Stop)");
  if (!stopped) return ::testing::AssertionFailure() << what << ": " << stopped.message();
  return stopped;
}

// `store serve` on one state directory as a child process.
class StoreServer final {
 public:
  // store_binary: the `store` program. cwd: the working directory of the server (the test's
  // temporary directory); dir: the state directory, relative to cwd. extra_args go to every
  // `store serve` (e.g. {"--max-executable-size", "1MiB"}). The ready file and the log are
  // <cwd>/<dir>.ready.json and <cwd>/<dir>.serve.log (the log accumulates over restarts).
  StoreServer(std::string store_binary, std::string cwd, std::string dir,
              std::vector<std::string> extra_args = {})
      : binary_(std::move(store_binary)),
        cwd_(std::move(cwd)),
        dir_(std::move(dir)),
        extra_args_(std::move(extra_args)) {
    std::string flat = dir_;
    std::replace(flat.begin(), flat.end(), '/', '_');
    ready_file_ = cwd_ + "/" + flat + ".ready.json";
    log_file_ = cwd_ + "/" + flat + ".serve.log";
  }
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;

  // Starts the server on port 0 and waits (at most `deadline`) until it has written its ready
  // file. Fails, with the server's log, if it exits first or the deadline passes.
  ::testing::AssertionResult Start(std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    std::error_code ec;
    std::filesystem::remove(ready_file_, ec);
    port_ = 0;
    std::vector<std::string> argv = {binary_,       "serve",       "--dir",        dir_,
                                     "--listen",    "127.0.0.1:0", "--ready-file", ready_file_,
                                     "--log-level", "info"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    if (auto started = process_.Start(argv, cwd_, log_file_, log_file_); !started) return started;
    const bool ready =
        WaitUntil([&] { return std::filesystem::exists(ready_file_) || !process_.running(); },
                  deadline, std::chrono::milliseconds(5));
    if (!ready || !std::filesystem::exists(ready_file_)) {
      return ::testing::AssertionFailure()
             << "store serve is not ready after " << deadline.count() << " ms\n"
             << process_.Describe();
    }
    // The server writes the file atomically (write, then rename): it is complete.
    const nlohmann::json j = nlohmann::json::parse(ReadFileOrEmpty(ready_file_), nullptr, false);
    if (j.is_discarded() || !j.contains("port") || !j["port"].is_number_integer()) {
      return ::testing::AssertionFailure()
             << "malformed ready file: " << ReadFileOrEmpty(ready_file_);
    }
    port_ = j["port"].get<int>();
    ready_json_ = j;
    return ::testing::AssertionSuccess();
  }

  // Sends `sig` and waits for the server to exit. SIGTERM must end it with exit 0 (a clean
  // shutdown) within `deadline`; SIGKILL with 128 + 9.
  ::testing::AssertionResult Stop(int sig = SIGTERM,
                                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    return StopServer(process_, "store serve", sig, deadline);
  }

  // Stop(sig) then Start() on the same directory.
  ::testing::AssertionResult Restart(int sig = SIGTERM) {
    if (auto stopped = Stop(sig); !stopped) return stopped;
    return Start();
  }

  bool running() { return process_.running(); }
  int port() const { return port_; }
  // What devkit dials: a name the store's TLS certificate carries, and the port.
  std::string address() const { return "localhost:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }
  const nlohmann::json& ready_json() const { return ready_json_; }
  // Everything the server has logged, over all its runs.
  std::string log() const { return ReadFileOrEmpty(log_file_); }
  ChildProcess& process() { return process_; }

 private:
  std::string binary_, cwd_, dir_;
  std::vector<std::string> extra_args_;
  std::string ready_file_, log_file_;
  int port_ = 0;
  nlohmann::json ready_json_;
  ChildProcess process_;
};

}  // namespace sitechain::testutil
