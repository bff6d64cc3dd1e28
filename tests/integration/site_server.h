#pragma once
// Test helper for the integration tests that need a running site manager (header-only: only
// *_test.cc files in tests/integration/ are compiled).
//
//   SiteServer    `slsm serve --dir D --config F` as a child process: writes the config file F
//                 (the test's keys, plus a listen address on port 0 and a ready file), waits for
//                 the ready file, knows the port, the admin socket and the site root's SHA-256,
//                 stops with SIGTERM or SIGKILL, restarts on the same directory.
//
//   SiteServer site(BinDir() + "/slsm", test_dir, "site",
//                   {{"store", store.address()}, {"heartbeat_timeout", "2s"}});
//   ASSERT_TRUE(site.Start());
//   ... nodes dial site.address(); `slsm ... --dir site` talks to its admin socket ...
//   ASSERT_TRUE(site.Stop(SIGKILL));
//   site.config()["store"] = store.address();   // e.g. after the store moved to another port
//   ASSERT_TRUE(site.Start());                   // the same directory, a new port
//
// A SiteServer that is still running when destroyed is killed (SIGKILL) and reaped by its
// ChildProcess. Not thread-safe.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

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

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed): the slsm
// gets a fixed address, which nodes keep from their enrollment, across its restarts.
inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

class SiteServer final {
 public:
  // slsm_binary: the `slsm` program. cwd: the server's working directory (the test's temporary
  // directory); dir: the state directory made by `slsm init`, relative to cwd. config: keys of
  // the --config file (slsm/config.cc); "listen" defaults to 127.0.0.1:0 and "ready_file" is
  // always set by Start. The config, ready and log files are <cwd>/<dir>.config.json,
  // <cwd>/<dir>.ready.json and <cwd>/<dir>.serve.log (the log accumulates over restarts).
  SiteServer(std::string slsm_binary, std::string cwd, std::string dir,
             nlohmann::json config = nlohmann::json::object())
      : binary_(std::move(slsm_binary)),
        cwd_(std::move(cwd)),
        dir_(std::move(dir)),
        config_(std::move(config)) {
    std::string flat = dir_;
    std::replace(flat.begin(), flat.end(), '/', '_');
    config_file_ = cwd_ + "/" + flat + ".config.json";
    ready_file_ = cwd_ + "/" + flat + ".ready.json";
    log_file_ = cwd_ + "/" + flat + ".serve.log";
  }
  SiteServer(const SiteServer&) = delete;
  SiteServer& operator=(const SiteServer&) = delete;

  // The keys the next Start writes to the config file (edit between runs).
  nlohmann::json& config() { return config_; }

  // Writes the config file, starts the server and waits (at most `deadline`) until it has
  // written its ready file. Fails, with the server's log, if it exits first, the deadline
  // passes or the ready file lacks what a test needs.
  ::testing::AssertionResult Start(std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    std::error_code ec;
    std::filesystem::remove(ready_file_, ec);
    port_ = 0;
    ready_json_ = nlohmann::json();
    nlohmann::json config = config_;
    if (!config.contains("listen")) config["listen"] = "127.0.0.1:0";
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
             << "slsm serve is not ready after " << deadline.count() << " ms\n"
             << process_.Describe();
    }
    // The server writes the file atomically (write, then rename): it is complete.
    const nlohmann::json j = nlohmann::json::parse(ReadFileOrEmpty(ready_file_), nullptr, false);
    if (j.is_discarded() || !j.contains("port") || !j["port"].is_number_integer() ||
        !j.contains("address") || !j["address"].is_string() || !j.contains("admin_socket") ||
        !j.contains("site_root_sha256")) {
      return ::testing::AssertionFailure()
             << "malformed ready file: " << ReadFileOrEmpty(ready_file_);
    }
    port_ = j["port"].get<int>();
    ready_json_ = j;
    return ::testing::AssertionSuccess();
  }

  // Sends `sig` and waits for the server to exit. SIGTERM/SIGINT must end it with exit 0 (a
  // clean shutdown) within `deadline`; any other signal with 128 + sig.
  ::testing::AssertionResult Stop(int sig = SIGTERM,
                                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    return StopServer(process_, "slsm serve", sig, deadline);
  }

  // Stop(sig) then Start() on the same directory (with the current config()).
  ::testing::AssertionResult Restart(int sig = SIGTERM) {
    if (auto stopped = Stop(sig); !stopped) return stopped;
    return Start();
  }

  bool running() { return process_.running(); }
  int port() const { return port_; }
  // What nodes dial: host:port of the node-facing TLS service (from the ready file).
  std::string address() const { return ready_string("address"); }
  std::string admin_socket() const { return ready_string("admin_socket"); }
  std::string site_root_sha256() const { return ready_string("site_root_sha256"); }
  const std::string& dir() const { return dir_; }
  const nlohmann::json& ready_json() const { return ready_json_; }
  // Everything the server has logged, over all its runs.
  std::string log() const { return ReadFileOrEmpty(log_file_); }
  ChildProcess& process() { return process_; }

 private:
  std::string ready_string(const char* key) const {
    return ready_json_.contains(key) && ready_json_[key].is_string()
               ? ready_json_[key].get<std::string>()
               : std::string();
  }

  std::string binary_, cwd_, dir_;
  nlohmann::json config_;
  std::string config_file_, ready_file_, log_file_;
  int port_ = 0;
  nlohmann::json ready_json_;
  ChildProcess process_;
};

}  // namespace sitechain::testutil
