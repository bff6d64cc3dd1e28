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
// The node directory must have been enrolled (`nlsm enroll --dir D`). A NodeServer is a
// ConfigServer (config_server.h): one that is still running when destroyed gets SIGTERM (the
// clean shutdown that stops its services) and must exit 0. Not thread-safe.

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
#include "tests/integration/config_server.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

class NodeServer final : public ConfigServer {
 public:
  // nlsm_binary: the `nlsm` program. cwd: the server's working directory (the test's temporary
  // directory); dir: the node's state directory, relative to cwd. config: keys of the --config
  // file (nlsm/config.cc); "ready_file" is always set by Start. The config, ready and log files
  // are <cwd>/<dir>.config.json, <cwd>/<dir>.ready.json and <cwd>/<dir>.serve.log (the log
  // accumulates over restarts). Start returns once the daemon has recovered what it ran before
  // and its admin socket serves; Stop(SIGTERM) is a clean shutdown that stops its services.
  NodeServer(std::string nlsm_binary, std::string cwd, std::string dir,
             nlohmann::json config = nlohmann::json::object())
      : ConfigServer("nlsm serve", std::move(nlsm_binary), std::move(cwd), std::move(dir),
                     std::move(config), nlohmann::json::object(), [](const nlohmann::json& j) {
                       return j.contains("admin_socket") && j["admin_socket"].is_string();
                     }) {}

  std::string admin_socket() const { return ready_string("admin_socket"); }
};

}  // namespace sitechain::testutil
