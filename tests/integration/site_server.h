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
//   ASSERT_TRUE(site.Start());                   // the same directory and port
//
// A SiteServer is a ConfigServer (config_server.h): it keeps the port of its first start over
// restarts (nodes keep the address they enrolled with); one still running when destroyed gets
// SIGTERM and must exit 0. Not thread-safe.

#include <gtest/gtest.h>
#include <signal.h>
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
#include "tests/integration/config_server.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

class SiteServer final : public ConfigServer {
 public:
  // slsm_binary: the `slsm` program. cwd: the server's working directory (the test's temporary
  // directory); dir: the state directory made by `slsm init`, relative to cwd. config: keys of
  // the --config file (slsm/config.cc); "listen" defaults to 127.0.0.1:0 and "ready_file" is
  // always set by Start. The config, ready and log files are <cwd>/<dir>.config.json,
  // <cwd>/<dir>.ready.json and <cwd>/<dir>.serve.log (the log accumulates over restarts).
  SiteServer(std::string slsm_binary, std::string cwd, std::string dir,
             nlohmann::json config = nlohmann::json::object())
      : ConfigServer("slsm serve", std::move(slsm_binary), std::move(cwd), std::move(dir),
                     std::move(config), {{"listen", "127.0.0.1:0"}}, [](const nlohmann::json& j) {
                       return j.contains("port") && j["port"].is_number_integer() &&
                              j.contains("address") && j["address"].is_string() &&
                              j.contains("admin_socket") && j.contains("site_root_sha256");
                     }) {}

  // The port of the node-facing service (0 before Start).
  int port() const { return ready_json().contains("port") ? ready_json()["port"].get<int>() : 0; }
  // What nodes dial: host:port of the node-facing TLS service (from the ready file).
  std::string address() const { return ready_string("address"); }
  std::string admin_socket() const { return ready_string("admin_socket"); }
  std::string site_root_sha256() const { return ready_string("site_root_sha256"); }
};

}  // namespace sitechain::testutil
