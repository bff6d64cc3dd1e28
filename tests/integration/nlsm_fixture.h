#pragma once
// Test fixture for the integration tests that run a whole site with real processes (nlsm_test.cc,
// fault_node_test.cc; header-only: only *_test.cc files in tests/integration/ are compiled).
//
//   NlsmTest     each test gets a fresh directory, the working directory of every program it
//                runs, holding a copy of a store (a StoreTemplate: alice registered; echo 1.0.0
//                and sturdy 1.0.0, both the echo-service program, and crasher 1.0.0, all release
//                1, published) served on port 0 by a ProgramWorld, and the nodes' own copy of the
//                store root (node-store-root.pem). StartSite() runs `slsm init` + `slsm serve` on
//                a fixed free port; StartNode() enrolls and runs `nlsm serve`; NodeStatus(),
//                InstanceStatus(), WaitForInstance() read `nlsm status --json`;
//                InstanceProcesses() finds a service's processes in /proc.
//
// Derive a fixture per test suite (class FaultX : public NlsmTest {};). Not thread-safe.

#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/time_format.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/node_server.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/site_server.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyTime = std::chrono::steady_clock::time_point;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr char kSite[] = "site-a";
inline constexpr milliseconds kPoll = milliseconds(50);
inline constexpr milliseconds kStateDeadline = seconds(20);

inline milliseconds Since(SteadyTime start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

// The NUL-separated strings of a /proc file (cmdline, environ); empty if unreadable.
inline std::vector<std::string> ProcStrings(const std::string& path) {
  const std::string text = ReadFileOrEmpty(path);
  std::vector<std::string> out;
  std::string::size_type start = 0;
  while (start < text.size()) {
    const auto end = text.find('\0', start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// The state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...); 0 if there is no such process.
inline char ProcState(pid_t pid) {
  const std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? 0 : stat[paren + 2];
}

inline bool Alive(pid_t pid) {
  const char state = ProcState(pid);
  return pid > 0 && state != 0 && state != 'Z' && state != 'X';
}

// The lines of `text` that start with `prefix`.
inline std::vector<std::string> LinesStartingWith(const std::string& text,
                                                  const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

inline size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Each test: a fresh directory that is the working directory of every program it runs, holding
// a copy of a store (alice registered; echo 1.0.0 and sturdy 1.0.0, both the echo-service
// program, and crasher 1.0.0, all release 1, published) served on port 0, and the nodes' own
// copy of the store root (node-store-root.pem).
class NlsmTest : public ProgramTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProgramTest::SetUp());
    for (const char* program : {"slsm", "nlsm", "echo-service", "crasher"}) {
      ASSERT_TRUE(std::filesystem::exists(Bin(program)))
          << Bin(program) << " is missing; build the " << program << " target";
    }
    ASSERT_TRUE(Template().CopyInto(dir_));
    // The daemons name their files by absolute, symlink-free paths (their getcwd).
    real_dir_ = std::filesystem::canonical(dir_.path()).string();
    ASSERT_OK(world_.ServeStore());
  }

  void TearDown() override {
    // A clean shutdown stops the services (SIGTERM, SIGKILL after the grace); a node still
    // running gets it and must exit 0, and one that died unseen fails the test (ChildProcess) ...
    nodes_.clear();
    // ... and nothing of this test may survive it (a failed test may have left orphans).
    for (pid_t pid : InstanceProcesses("", "")) {
      ADD_FAILURE() << "a service process of this test survived it: pid " << pid;
      ::kill(pid, SIGKILL);
    }
    sites_.clear();
    store_.reset();
  }

  static void TearDownTestSuite() { template_.Reset(); }

  // --- the site

  // `slsm init` and `slsm serve` on a port the kernel chooses, kept over restarts (nodes keep
  // the address they enrolled with); `overrides` replace config keys.
  SiteServer& StartSite(const json& overrides = json::object()) {
    EXPECT_OK(world_.InitSite("site", kSite));
    json config = {{"listen", "127.0.0.1:0"},        {"cert_site_lifetime", "30s"},
                   {"heartbeat_timeout", "3s"},      {"policy_push_window", "1s"},
                   {"max_issuance_per_second", 100}, {"issuance_burst", 100}};
    config.update(overrides);
    sites_.push_back(world_.NewSite("site", config));
    EXPECT_TRUE(sites_.back()->Start());
    return *sites_.back();
  }
  SiteServer& site() { return *sites_.front(); }

  // `slsm <args> --dir site` in the test directory.
  ProcessResult Slsm(std::vector<std::string> args) const {
    args.insert(args.end(), {"--dir", "site"});
    return Run(Bin("slsm"), std::move(args));
  }
  void MustSlsm(std::vector<std::string> args) const {
    ProcessResult r = Slsm(std::move(args));
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }
  void Install(const std::string& name) { ASSERT_NO_FATAL_FAILURE(MustSlsm({"install", name})); }
  void Deploy(const std::string& service, const std::string& nodes) {
    ASSERT_NO_FATAL_FAILURE(MustSlsm({"deploy", service, "--nodes", nodes}));
  }
  void SetPolicy(const std::string& service, const json& policy) {
    const std::string file = service + "-policy.json";
    ASSERT_TRUE(WriteWholeFile(Path(file), policy.dump()));
    ASSERT_NO_FATAL_FAILURE(MustSlsm({"policy", "set", service, file}));
  }

  // --- nodes

  // Enrolls node `name` (state directory <test dir>/<name>) with a fresh join token and starts
  // `nlsm serve` on it; kept by the fixture.
  // slsm_address: what the node enrolls with and dials from then on (default the site's own
  // address; a proxy's, say). nlsm_binary: the program `nlsm serve` runs as (default the built
  // nlsm; a wrapper script that runs it under faketime, say).
  NodeServer& StartNode(const std::string& name, const json& overrides = json::object(),
                        const std::string& slsm_address = "", const std::string& nlsm_binary = "") {
    ProcessResult token = world_.JoinToken("site", name);
    EXPECT_EQ(token.exit_code, kExitOk) << token.Describe();
    ProcessResult r =
        world_.EnrollNode(name, slsm_address.empty() ? site().address() : slsm_address,
                          Trim(token.out), "node-store-root.pem");
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    json config = NodeConfig();
    config.update(overrides);
    nodes_.push_back(std::make_unique<NodeServer>(nlsm_binary.empty() ? Bin("nlsm") : nlsm_binary,
                                                  dir_.path(), name, config));
    EXPECT_TRUE(nodes_.back()->Start());
    return *nodes_.back();
  }

  // `nlsm status --dir <node> --json`, parsed; null if it fails.
  json NodeStatus(const std::string& node) const { return world_.NodeStatus(node); }
  // The node's status entry of `service`; null if none (or no status).
  json InstanceStatus(const std::string& node, const std::string& service) const {
    return world_.InstanceStatus(node, service);
  }

  std::string StateOf(const json& instance) const {
    return instance.is_object() ? instance.value("state", "") : "";
  }

  // Waits until the node reports `service` in `state` and `also` holds for its entry; the last
  // entry seen (a failure, with the node's status and log, if the deadline passed).
  json WaitForInstance(
      const std::string& node, const std::string& service, const std::string& state,
      milliseconds deadline = kStateDeadline,
      const std::function<bool(const json&)>& also = [](const json&) { return true; }) {
    json last;
    const bool ok = WaitUntil(
        [&] {
          last = InstanceStatus(node, service);
          return StateOf(last) == state && also(last);
        },
        deadline, kPoll);
    EXPECT_TRUE(ok) << node << "/" << service << " is not " << state << " after "
                    << deadline.count() << " ms; last status entry:\n"
                    << last.dump(2) << "\n--- " << node << " log:\n"
                    << NodeLog(node);
    return last;
  }
  json WaitForRunning(const std::string& node, const std::string& service,
                      milliseconds deadline = kStateDeadline) {
    return WaitForInstance(node, service, "running", deadline,
                           [](const json& i) { return i.value("pid", 0) > 0; });
  }

  std::string NodeLog(const std::string& node) const {
    for (const auto& n : nodes_) {
      if (n->dir() == node) return n->log();
    }
    return "";
  }

  // When the node logged the last line containing `text`, to the millisecond (the log's lines
  // start "2026-12-06T04:50:01.123Z"); nullopt if no line has it. An event's time as the node
  // saw it, where polling its status would add the poll's delay.
  std::optional<TimePoint> NodeLogTime(const std::string& node, const std::string& text) const {
    const std::string log = NodeLog(node);
    const size_t at = log.rfind(text);
    if (at == std::string::npos) return std::nullopt;
    const size_t line = log.rfind('\n', at) == std::string::npos ? 0 : log.rfind('\n', at) + 1;
    if (log.size() < line + 24 || log[line + 23] != 'Z') return std::nullopt;
    auto whole = ParseTime(log.substr(line, 19) + "Z");
    if (!whole.ok()) return std::nullopt;
    return *whole + milliseconds(std::atoi(log.substr(line + 20, 3).c_str()));
  }

  NodeServer& Node(const std::string& name) {
    for (auto& n : nodes_) {
      if (n->dir() == name) return *n;
    }
    ADD_FAILURE() << "no node " << name;
    return *nodes_.front();
  }

  // The runtime directory of an instance, as the daemon names it.
  std::string InstanceDir(const std::string& node, const std::string& service) const {
    return real_dir_ + "/" + node + "/instances/" + service;
  }

  // The live (not zombie) processes that run as `service` on `node` for this test: those whose
  // environment names the instance's certificate file. Empty node: every service process whose
  // runtime directory lies in this test's directory.
  std::vector<pid_t> InstanceProcesses(const std::string& node, const std::string& service) const {
    const std::string prefix = "SITECHAIN_CERT_FILE=" +
                               (node.empty() ? real_dir_ + "/" : InstanceDir(node, service) + "/");
    std::vector<pid_t> pids;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return pids;
    while (dirent* e = ::readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0' || !Alive(static_cast<pid_t>(pid))) continue;
      for (const auto& var : ProcStrings("/proc/" + std::string(e->d_name) + "/environ")) {
        if (var.rfind(prefix, 0) == 0) {
          pids.push_back(static_cast<pid_t>(pid));
          break;
        }
      }
    }
    ::closedir(proc);
    std::sort(pids.begin(), pids.end());
    return pids;
  }

  std::string StdoutOf(const std::string& node, const std::string& service) const {
    return ReadFileOrEmpty(InstanceDir(node, service) + "/stdout.log");
  }

  // The package file a node keeps for a digest.
  std::string PackagePath(const std::string& node, const std::string& digest) const {
    return Path(node + "/packages/sha256-" + digest);
  }

  static TimePoint NotAfter(const json& instance) {
    auto t = ParseTime(instance.value("certificate_not_after", ""));
    EXPECT_TRUE(t.ok()) << instance.dump();
    return t.ok() ? *t : TimePoint{};
  }

  // The store a test starts from: template_ unless a suite's fixture publishes other releases
  // (a StoreTemplate of its own, Reset in its own TearDownTestSuite).
  virtual StoreTemplate& Template() { return template_; }

  // The store every test of a suite starts from.
  static inline StoreTemplate template_{{"alice"},
                                        {"echo-service", "crasher"},
                                        {{.file = "echo-service",
                                          .name = "echo",
                                          .cert_dev = "echo.cert.pem",
                                          .cert_store = "echo.store.pem"},
                                         {.file = "echo-service",
                                          .name = "sturdy",
                                          .cert_dev = "sturdy.cert.pem",
                                          .cert_store = "sturdy.store.pem"},
                                         {.file = "crasher",
                                          .name = "crasher",
                                          .cert_dev = "crasher.cert.pem",
                                          .cert_store = "crasher.store.pem"}}};

  std::string real_dir_;
  ProgramWorld world_{dir_.path()};  // runs the programs in the test's directory
  std::unique_ptr<StoreServer>& store_ = world_.store();  // the world's store server
  std::vector<std::unique_ptr<SiteServer>> sites_;
  std::vector<std::unique_ptr<NodeServer>> nodes_;
};

// Changes one byte of a package file that a node keeps (read-only, 0555, until then).
inline void Tamper(const std::string& package) {
  ASSERT_TRUE(std::filesystem::exists(package)) << package;
  ASSERT_EQ(::chmod(package.c_str(), 0755), 0);
  std::string bytes = ReadWholeFile(package);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  ASSERT_TRUE(WriteWholeFile(package, bytes));
  ASSERT_EQ(::chmod(package.c_str(), 0555), 0);
}

}  // namespace sitechain::testutil
