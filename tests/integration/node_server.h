#pragma once
// Test helper for the integration tests that run the node manager (header-only: only *_test.cc
// files in tests/integration/ are compiled).
//
//   NodeServer    `nlsm serve --dir D --config F` as a child process: writes the config file F
//                 (the test's keys plus a ready file), waits for the ready file, knows the admin
//                 socket, stops with SIGTERM (a clean shutdown that stops the services) or
//                 SIGKILL (a crash that leaves them to the next run), restarts on the same
//                 directory.
//
//   NodeServer node(BinDir() + "/nlsm", test_dir, "n1", {{"heartbeat_interval", "1s"}});
//   ASSERT_TRUE(node.Start());
//   ... `nlsm status --dir n1 --json` talks to its admin socket ...
//   ASSERT_TRUE(node.Stop(SIGKILL));
//   ASSERT_TRUE(node.Start());   // the same directory: it recovers what it ran
//
// The node directory must have been enrolled (`nlsm enroll --dir D`). A NodeServer that is still
// running when destroyed is killed (SIGKILL) and reaped by its ChildProcess; the services it ran
// get SIGTERM from the kernel (the supervisor's PR_SET_PDEATHSIG). Not thread-safe.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

class NodeServer final {
 public:
  // nlsm_binary: the `nlsm` program. cwd: the server's working directory (the test's temporary
  // directory); dir: the node's state directory, relative to cwd. config: keys of the --config
  // file (nlsm/config.cc); "ready_file" is always set by Start. The config, ready and log files
  // are <cwd>/<dir>.config.json, <cwd>/<dir>.ready.json and <cwd>/<dir>.serve.log (the log
  // accumulates over restarts).
  NodeServer(std::string nlsm_binary, std::string cwd, std::string dir,
             nlohmann::json config = nlohmann::json::object())
      : binary_(std::move(nlsm_binary)),
        cwd_(std::move(cwd)),
        dir_(std::move(dir)),
        config_(std::move(config)) {
    std::string flat = dir_;
    std::replace(flat.begin(), flat.end(), '/', '_');
    config_file_ = cwd_ + "/" + flat + ".config.json";
    ready_file_ = cwd_ + "/" + flat + ".ready.json";
    log_file_ = cwd_ + "/" + flat + ".serve.log";
  }
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // The keys the next Start writes to the config file (edit between runs).
  nlohmann::json& config() { return config_; }

  // Writes the config file, starts the daemon and waits (at most `deadline`) until it has
  // written its ready file, which it does once it has recovered what it ran before and its admin
  // socket serves. Fails, with the daemon's log, if it exits first or the deadline passes.
  ::testing::AssertionResult Start(std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    std::error_code ec;
    std::filesystem::remove(ready_file_, ec);
    ready_json_ = nlohmann::json();
    nlohmann::json config = config_;
    config["ready_file"] = ready_file_;
    if (!WriteWholeFile(config_file_, config.dump(2) + "\n")) {
      return ::testing::AssertionFailure() << "cannot write " << config_file_;
    }
    const std::vector<std::string> argv = {binary_, "serve",    "--dir",
                                           dir_,    "--config", config_file_};
    if (auto started = process_.Start(argv, cwd_, log_file_, log_file_); !started) return started;
    const bool ready =
        WaitUntil([&] { return std::filesystem::exists(ready_file_) || !process_.running(); },
                  deadline, std::chrono::milliseconds(5));
    if (!ready || !std::filesystem::exists(ready_file_)) {
      return ::testing::AssertionFailure()
             << "nlsm serve is not ready after " << deadline.count() << " ms\n"
             << process_.Describe();
    }
    // The daemon writes the file atomically (write, then rename): it is complete.
    const nlohmann::json j = nlohmann::json::parse(ReadFileOrEmpty(ready_file_), nullptr, false);
    if (j.is_discarded() || !j.contains("admin_socket") || !j["admin_socket"].is_string()) {
      return ::testing::AssertionFailure()
             << "malformed ready file: " << ReadFileOrEmpty(ready_file_);
    }
    ready_json_ = j;
    return ::testing::AssertionSuccess();
  }

  // Sends `sig` and waits for the daemon to exit. SIGTERM/SIGINT must end it with exit 0 (a
  // clean shutdown, its services stopped) within `deadline`; any other signal with 128 + sig.
  ::testing::AssertionResult Stop(int sig = SIGTERM,
                                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    return StopServer(process_, "nlsm serve", sig, deadline);
  }

  // Stop(sig) then Start() on the same directory (with the current config()).
  ::testing::AssertionResult Restart(int sig = SIGTERM) {
    if (auto stopped = Stop(sig); !stopped) return stopped;
    return Start();
  }

  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }
  const std::string& dir() const { return dir_; }
  std::string admin_socket() const {
    return ready_json_.contains("admin_socket") && ready_json_["admin_socket"].is_string()
               ? ready_json_["admin_socket"].get<std::string>()
               : std::string();
  }
  // Everything the daemon has logged, over all its runs.
  std::string log() const { return ReadFileOrEmpty(log_file_); }
  ChildProcess& process() { return process_; }

 private:
  std::string binary_, cwd_, dir_;
  nlohmann::json config_;
  std::string config_file_, ready_file_, log_file_;
  nlohmann::json ready_json_;
  ChildProcess process_;
};

}  // namespace sitechain::testutil
