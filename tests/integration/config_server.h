#pragma once
// Test helper for the integration tests: a server program that runs as
// `<program> serve --dir D --config F` (slsm, nlsm) as a child process. Header-only: only
// *_test.cc files in tests/integration/ are compiled.
//
//   ConfigServer   writes the config file F (the test's keys, the program's defaults for keys the
//                  test left out, and a ready file), starts the program, waits for the ready
//                  file and checks that it holds what a test needs; stops with a signal and
//                  asserts how the program exited; restarts on the same directory.
//
// SiteServer (site_server.h) and NodeServer (node_server.h) are ConfigServers with the readers of
// their own ready files. A server listening on port 0 keeps the port it got over restarts (nodes
// keep the address they enrolled with). A ConfigServer still running when destroyed is stopped
// by its ChildProcess with SIGTERM and must exit 0; one that died unseen fails the test
// (store_server.h). Not thread-safe.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

class ConfigServer {
 public:
  // What a ready file must hold for Start to succeed.
  using ReadyCheck = std::function<bool(const nlohmann::json&)>;

  // what: the command in messages ("slsm serve"). binary: the program. cwd: its working
  // directory (the test's temporary directory); dir: the state directory, relative to cwd.
  // config: keys of the --config file; defaults: keys written when config lacks them;
  // "ready_file" is always set by Start. The config, ready and log files are
  // <cwd>/<dir>.config.json, <cwd>/<dir>.ready.json and <cwd>/<dir>.serve.log (the log
  // accumulates over restarts).
  ConfigServer(std::string what, std::string binary, std::string cwd, std::string dir,
               nlohmann::json config, nlohmann::json defaults, ReadyCheck ready_check)
      : what_(std::move(what)),
        binary_(std::move(binary)),
        cwd_(std::move(cwd)),
        dir_(std::move(dir)),
        config_(std::move(config)),
        defaults_(std::move(defaults)),
        ready_check_(std::move(ready_check)) {
    std::string flat = dir_;
    std::replace(flat.begin(), flat.end(), '/', '_');
    config_file_ = cwd_ + "/" + flat + ".config.json";
    ready_file_ = cwd_ + "/" + flat + ".ready.json";
    log_file_ = cwd_ + "/" + flat + ".serve.log";
  }
  ConfigServer(const ConfigServer&) = delete;
  ConfigServer& operator=(const ConfigServer&) = delete;

  // The keys the next Start writes to the config file (edit between runs).
  nlohmann::json& config() { return config_; }

  // Writes the config file, starts the server and waits (at most `deadline`) until it has
  // written its ready file. Fails, with the server's log, if it exits first, the deadline
  // passes or the ready file lacks what a test needs.
  ::testing::AssertionResult Start(std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    std::error_code ec;
    std::filesystem::remove(ready_file_, ec);
    ready_json_ = nlohmann::json();
    nlohmann::json config = config_;
    for (const auto& [key, value] : defaults_.items()) {
      if (!config.contains(key)) config[key] = value;
    }
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
             << what_ << " is not ready after " << deadline.count() << " ms\n"
             << process_.Describe();
    }
    // The server writes the file atomically (write, then rename): it is complete.
    const nlohmann::json j = nlohmann::json::parse(ReadFileOrEmpty(ready_file_), nullptr, false);
    if (j.is_discarded() || !ready_check_(j)) {
      return ::testing::AssertionFailure()
             << "malformed ready file: " << ReadFileOrEmpty(ready_file_);
    }
    ready_json_ = j;
    KeepPort();
    return ::testing::AssertionSuccess();
  }

  // Sends `sig` and waits for the server to exit. SIGTERM/SIGINT must end it with exit 0 (a
  // clean shutdown) within `deadline`; any other signal with 128 + sig.
  ::testing::AssertionResult Stop(int sig = SIGTERM,
                                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    return StopServer(process_, what_, sig, deadline);
  }

  // Stop(sig) then Start() on the same directory (with the current config()).
  ::testing::AssertionResult Restart(int sig = SIGTERM) {
    if (auto stopped = Stop(sig); !stopped) return stopped;
    return Start();
  }

  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }
  const std::string& dir() const { return dir_; }
  const nlohmann::json& ready_json() const { return ready_json_; }
  // Everything the server has logged, over all its runs.
  std::string log() const { return ReadFileOrEmpty(log_file_); }
  ChildProcess& process() { return process_; }

 protected:
  ~ConfigServer() = default;

  // A string of the ready file; empty if absent.
  std::string ready_string(const char* key) const {
    return ready_json_.contains(key) && ready_json_[key].is_string()
               ? ready_json_[key].get<std::string>()
               : std::string();
  }

 private:
  // After a start on "listen": "<host>:0", the next starts listen on the port the ready file
  // reported: the kernel chose a free port, and it stays the server's.
  void KeepPort() {
    const nlohmann::json& listen = config_.contains("listen")
                                       ? config_["listen"]
                                       : defaults_.value("listen", nlohmann::json());
    if (!listen.is_string() || !ready_json_.contains("port")) return;
    const std::string address = listen.get<std::string>();
    if (address.size() < 2 || address.substr(address.size() - 2) != ":0") return;
    config_["listen"] = address.substr(0, address.size() - 1) + ready_json_["port"].dump();
  }

  std::string what_, binary_, cwd_, dir_;
  nlohmann::json config_, defaults_;
  ReadyCheck ready_check_;
  std::string config_file_, ready_file_, log_file_;
  nlohmann::json ready_json_;
  ChildProcess process_;
};

}  // namespace sitechain::testutil
