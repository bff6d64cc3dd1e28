#pragma once
// Test helpers for the integration tests that build a store, a developer, releases, sites and
// nodes with the built programs (header-only: only *_test.cc files in tests/integration/ are
// compiled).
//
//   ProgramWorld    the World of tests/support/world.h made by the real programs, each run in
//                   one directory (the test's): `store init` + `store serve` (StoreServer),
//                   `devkit keygen/csr/register`, `devkit sign/publish`; for sites `slsm init`
//                   and `slsm serve` (SiteServer), for nodes a join token, `nlsm enroll` and
//                   `nlsm status`.
//   StoreTemplate   a store made once per test suite by a ProgramWorld (a developer and
//                   releases published), then copied into each test's directory.
//   NodeConfig()    the config keys every `nlsm serve` of these tests runs with.
//
//   ProgramWorld world(dir_.path());
//   ASSERT_OK(world.Build("alice", {{"hello", "hello"}}));        // hello 1.0.0 release 1
//   ASSERT_OK(world.InitSite("site", "site-a"));
//   auto site = world.NewSite("site", {{"heartbeat_timeout", "2s"}});
//   ASSERT_TRUE(site->Start());
//
// The world owns the store's server (store(); a fixture may also put a StoreServer of its own
// there) and stops it when destroyed; sites and nodes belong to the caller. Not thread-safe.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/process.h"
#include "tests/integration/site_server.h"
#include "tests/integration/store_server.h"
#include "tests/support/world.h"

// A Status that must be OK, with its message if not.
#define ASSERT_OK(expr)                              \
  do {                                               \
    const ::sitechain::Status _status = (expr);      \
    ASSERT_TRUE(_status.ok()) << _status.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                              \
  do {                                               \
    const ::sitechain::Status _status = (expr);      \
    EXPECT_TRUE(_status.ok()) << _status.ToString(); \
  } while (0)

namespace sitechain::testutil {

// The output of a program without its trailing newline (a token, say).
inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// OK if the program exited 0; else UNAVAILABLE with its command line, exit code and output.
inline Status ProgramStatus(const ProcessResult& r) {
  return r.exit_code == 0 ? Status::Ok() : Unavailable(r.Describe());
}

// A server helper's failure (StoreServer::Start, say) as a Status.
inline Status AssertionStatus(const ::testing::AssertionResult& r) {
  return r ? Status::Ok() : Unavailable(r.message());
}

// Everything a node runs with in these tests: short heartbeats, retries and reconnects, a short
// stop grace (so that a service ignoring SIGTERM is killed quickly), and, for nodes that run
// their services as users of their own (as root), 20 uids of their own: the node managers of
// tests running at the same time (ctest -j) never share a service user, so that no test's
// services can signal, or be counted as, another's.
inline nlohmann::json NodeConfig() {
  static int nodes = 0;
  const long first = 1900000000L + ((::getpid() % 100000) * 10L + nodes++ % 10) * 20L;
  return {{"heartbeat_interval", "1s"},
          {"batch_interval", "1s"},
          {"reconnect_initial", "1s"},
          {"reconnect_max", "2s"},
          {"retry_initial", "1s"},
          {"retry_max", "2s"},
          {"stop_grace", "1s"},
          {"log_level", "info"},
          {"service_uid_range", std::to_string(first) + "-" + std::to_string(first + 19)}};
}

class ProgramWorld final : public World {
 public:
  // cwd: the directory every program runs in (paths below are relative to it). store_dir and
  // store_name: the store's state directory and `store init --name` for StartStore().
  explicit ProgramWorld(std::string cwd, std::string store_dir = "store",
                        std::string store_name = "Store store")
      : cwd_(std::move(cwd)),
        store_dir_(std::move(store_dir)),
        store_name_(std::move(store_name)) {}
  ProgramWorld(const ProgramWorld&) = delete;
  ProgramWorld& operator=(const ProgramWorld&) = delete;

  static std::string Bin(const std::string& program) { return BinDir() + "/" + program; }
  // Runs argv (argv[0] a program's path) in the world's directory (RunProcess).
  ProcessResult Run(const std::vector<std::string>& argv,
                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) const {
    return RunProcess(argv, cwd_, deadline);
  }

  // --- the store

  // `store init --dir <dir> --name <name>`, then `store serve` on it (store()).
  Status StartStore(const std::string& dir, const std::string& name) {
    if (Status s = ProgramStatus(Run({Bin("store"), "init", "--dir", dir, "--name", name}));
        !s.ok()) {
      return s;
    }
    store_dir_ = dir;
    return ServeStore();
  }
  Status StartStore() override { return StartStore(store_dir_, store_name_); }
  // `store serve` on the store directory as it is (made by StartStore, or copied from a
  // StoreTemplate); extra_args go to every `store serve`.
  Status ServeStore(std::vector<std::string> extra_args = {}) {
    store_ = std::make_unique<StoreServer>(Bin("store"), cwd_, store_dir_, std::move(extra_args));
    return AssertionStatus(store_->Start());
  }
  // The store's server: null before StartStore or ServeStore.
  std::unique_ptr<StoreServer>& store() { return store_; }
  // The store's root certificate, as the store wrote it.
  std::string store_root() const { return StoreDir() + "/root.pem"; }

  // args + --store <address> --store-root <root>: a devkit or slsm command at this store.
  std::vector<std::string> AtStore(std::vector<std::string> args) const {
    args.insert(args.end(), {"--store", store_->address(), "--store-root", store_root()});
    return args;
  }
  // AtStore(args) + --cert/--key of the registered developer.
  std::vector<std::string> AsDeveloper(std::vector<std::string> args) const {
    args = AtStore(std::move(args));
    args.insert(args.end(), {"--cert", developer_ + ".pem", "--key", developer_ + ".key"});
    return args;
  }

  // --- the developer and releases

  // `devkit keygen` and `devkit csr` (<name>.key, <name>.csr), `store tokens create`, then
  // `devkit register` (<name>.pem).
  Status RegisterDeveloper(const std::string& name) override {
    developer_ = name;
    const std::string key = name + ".key", csr = name + ".csr";
    if (Status s = ProgramStatus(Run({Bin("devkit"), "keygen", "--out", key})); !s.ok()) return s;
    if (Status s =
            ProgramStatus(Run({Bin("devkit"), "csr", "--key", key, "--name", name, "--out", csr}));
        !s.ok()) {
      return s;
    }
    ProcessResult token =
        Run({Bin("store"), "tokens", "create", "--dir", StoreDir(), "--note", name});
    if (Status s = ProgramStatus(token); !s.ok()) return s;
    return ProgramStatus(Run(AtStore({Bin("devkit"), "register", "--token", Trim(token.out),
                                      "--csr", csr, "--out", name + ".pem"})));
  }

  // `devkit sign` of the release as the developer (its Cert_dev).
  ProcessResult Sign(const WorldRelease& r) const {
    return Run({Bin("devkit"), "sign", r.file, "--key", developer_ + ".key", "--cert",
                developer_ + ".pem", "--name", r.name, "--version", r.version, "--release",
                std::to_string(r.release), "--out", r.CertDevFile()});
  }
  // The argv of `devkit publish` of what Sign made.
  std::vector<std::string> PublishArgv(const WorldRelease& r) const {
    std::vector<std::string> argv =
        AsDeveloper({"publish", r.file, r.CertDevFile(), "--out", r.CertStoreFile()});
    argv.insert(argv.begin(), Bin("devkit"));
    return argv;
  }
  // `devkit publish` of what Sign made (a minute at most: large files take a while).
  ProcessResult RunPublish(const WorldRelease& r) const {
    return Run(PublishArgv(r), std::chrono::seconds(60));
  }
  // Sign, then RunPublish.
  Status Publish(const WorldRelease& r) override {
    if (Status s = ProgramStatus(Sign(r)); !s.ok()) return s;
    return ProgramStatus(RunPublish(r));
  }

  // Copies a built program into the world's directory (for a release to publish).
  Status CopyProgram(const std::string& program) const {
    std::error_code ec;
    std::filesystem::copy_file(Bin(program), cwd_ + "/" + program,
                               std::filesystem::copy_options::overwrite_existing, ec);
    return ec ? Unavailable("copying " + program + ": " + ec.message()) : Status::Ok();
  }

  // --- sites and nodes

  // `slsm init --dir <dir> --site <site>` following this world's store.
  Status InitSite(const std::string& dir, const std::string& site) const {
    return ProgramStatus(Run({Bin("slsm"), "init", "--dir", dir, "--site", site, "--store",
                              store_->address(), "--store-root", store_root()}));
  }
  // `slsm serve` of the site in `dir` (not started yet) with `config`, whose "store" is this
  // world's store unless the config names one.
  std::unique_ptr<SiteServer> NewSite(const std::string& dir, nlohmann::json config) const {
    if (!config.contains("store")) config["store"] = store_->address();
    return std::make_unique<SiteServer>(Bin("slsm"), cwd_, dir, std::move(config));
  }

  // `slsm tokens create <node> --dir <site_dir>`: the join token on stdout.
  ProcessResult JoinToken(const std::string& site_dir, const std::string& node) const {
    return Run({Bin("slsm"), "tokens", "create", node, "--dir", site_dir});
  }
  // `nlsm enroll` of node `name` into directory `name`, dialling `slsm_address` and trusting
  // `store_root` (a path).
  ProcessResult EnrollNode(const std::string& name, const std::string& slsm_address,
                           const std::string& token, const std::string& store_root) const {
    return Run({Bin("nlsm"), "enroll", "--slsm", slsm_address, "--token", token, "--store-root",
                store_root, "--dir", name, "--node", name});
  }
  // `nlsm status --dir <node> --json`, parsed; null if it fails.
  nlohmann::json NodeStatus(const std::string& node) const {
    ProcessResult r = Run({Bin("nlsm"), "status", "--dir", node, "--json"});
    if (r.exit_code != 0) return nullptr;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
  }
  // The node's status entry of `service`; null if none (or no status).
  nlohmann::json InstanceStatus(const std::string& node, const std::string& service) const {
    const nlohmann::json status = NodeStatus(node);
    if (!status.is_object() || !status.contains("instances")) return nullptr;
    for (const auto& i : status["instances"]) {
      if (i.value("service", "") == service) return i;
    }
    return nullptr;
  }

 private:
  std::string StoreDir() const { return store_ ? store_->dir() : store_dir_; }

  std::string cwd_, store_dir_, store_name_;
  std::string developer_;
  std::unique_ptr<StoreServer> store_;
};

// A store made once per test suite and copied into each test's directory: a ProgramWorld in a
// directory of its own copies `programs` from BinDir() and builds the store, the first of
// `developers` and `releases` (World::Build), then registers the other developers; then its
// server stops, leaving only state (no socket, lock, ready file or log). Keep one as a static
// member of the suite's fixture, Reset in TearDownTestSuite. Not thread-safe.
class StoreTemplate final {
 public:
  StoreTemplate(std::vector<std::string> developers, std::vector<std::string> programs,
                std::vector<WorldRelease> releases)
      : developers_(std::move(developers)),
        programs_(std::move(programs)),
        releases_(std::move(releases)) {}

  // Makes the template on first use (later calls reuse it, or its failure), then copies all of
  // it into `dir`, and (with node_store_root) the store root to <dir>/node-store-root.pem, the
  // nodes' own copy.
  ::testing::AssertionResult CopyInto(const TempDir& dir, bool node_store_root = true) {
    if (!dir_) {
      dir_ = std::make_unique<TempDir>();
      const Status made = Make();
      error_ = made.ok() ? "" : made.ToString();
    }
    if (!error_.empty()) return ::testing::AssertionFailure() << error_;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_->path())) {
      std::filesystem::copy(entry.path(), dir.Path(entry.path().filename().string()),
                            std::filesystem::copy_options::recursive, ec);
      if (ec) {
        return ::testing::AssertionFailure()
               << "copying the template's " << entry.path() << ": " << ec.message();
      }
    }
    if (node_store_root && !WriteWholeFile(dir.Path("node-store-root.pem"),
                                           ReadWholeFile(dir.Path("store/root.pem")))) {
      return ::testing::AssertionFailure() << "cannot write node-store-root.pem";
    }
    return ::testing::AssertionSuccess();
  }

  // Removes the template: the next CopyInto makes it again.
  void Reset() {
    dir_.reset();
    error_.clear();
  }

 private:
  Status Make() const {
    ProgramWorld world(dir_->path());
    for (const std::string& program : programs_) {
      if (Status s = world.CopyProgram(program); !s.ok()) return s;
    }
    if (Status s = world.Build(developers_.at(0), releases_); !s.ok()) return s;
    for (size_t i = 1; i < developers_.size(); ++i) {
      if (Status s = world.RegisterDeveloper(developers_[i]); !s.ok()) {
        return s.WithContext("registering " + developers_[i]);
      }
    }
    if (Status s = AssertionStatus(world.store()->Stop(SIGTERM)); !s.ok()) return s;
    // Only the state remains: no socket (it cannot be copied), no lock, no ready file, no log
    // (a test's store log holds only what its own server wrote).
    std::error_code ec;
    std::filesystem::remove(dir_->Path("store/admin.sock"), ec);
    std::filesystem::remove(dir_->Path("store/serve.lock"), ec);
    std::filesystem::remove(dir_->Path("store.ready.json"), ec);
    std::filesystem::remove(dir_->Path("store.serve.log"), ec);
    return Status::Ok();
  }

  std::vector<std::string> developers_;
  std::vector<std::string> programs_;
  std::vector<WorldRelease> releases_;
  std::unique_ptr<TempDir> dir_;
  std::string error_;
};

}  // namespace sitechain::testutil
