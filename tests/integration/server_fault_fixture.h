#pragma once
// Test fixture for the server-side fault scenarios (fault_server_test.cc; header-only: only
// *_test.cc files in tests/integration/ are compiled). Each test gets a fresh directory, the
// working directory of every program it runs, and builds what it needs with the real programs:
//
//   StartStore()        `store init` + `store serve` (StoreServer) in <dir>/<store dir>
//   RegisterAlice()     devkit keygen + csr + a store token + devkit register: alice.key/.pem
//   Publish(...)        devkit sign + devkit publish of a file as alice
//   StartSite(...)      `slsm init` + `slsm serve` (SiteServer) on a fixed free port, so that
//                       nodes find it again after a restart
//   StartNode(name)     a join token, `nlsm enroll` and `nlsm serve` (NodeServer)
//   MountTmpfs(path)    a small tmpfs (as root; unmounted in TearDown)
//
// (the programs run by the test's ProgramWorld, tests/integration/program_world.h) and the small
// readers the scenarios share (JSON of admin commands, the node's status, sqlite3 queries,
// flipping bytes of a file). Not thread-safe, except Run (a program run), which the
// scenarios call from a monitor thread too.

#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/node_server.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/site_server.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

class ServerFaultTest : public ProgramTest {
 protected:
  using json = nlohmann::json;
  static constexpr int kExitOk = 0;
  static constexpr int kExitFailure = 1;
  static constexpr const char* kSiteName = "site-f";

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProgramTest::SetUp());
    for (const char* program : {"slsm", "nlsm", "echo-service"}) {
      ASSERT_TRUE(std::filesystem::exists(Bin(program)))
          << Bin(program) << " is missing; build the " << program << " target";
    }
    real_dir_ = std::filesystem::canonical(dir_.path()).string();
  }

  void TearDown() override {
    // Each server still running gets SIGTERM and must exit 0; one that died unseen fails the
    // test (ChildProcess).
    nodes_.clear();
    site_.reset();
    store_.reset();
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      if (::umount2(it->c_str(), MNT_DETACH) != 0) {
        ADD_FAILURE() << "cannot unmount " << *it << ": " << std::strerror(errno);
      }
    }
    mounts_.clear();
  }

  static json ParseJsonOrNull(const std::string& text) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? json(nullptr) : j;
  }

  // A refusal as the CLIs print it: exit 1, "[CODE]" and a message fragment on stderr.
  static ::testing::AssertionResult Refused(const ProcessResult& r, const std::string& code,
                                            const std::string& fragment) {
    if (r.exit_code == kExitFailure && Contains(r.err, "[" + code + "]") &&
        Contains(r.err, fragment)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "expected a refusal [" << code << "] naming '" << fragment << "'\n"
           << r.Describe();
  }

  // --- files

  // XORs `count` bytes of the file at `offset` with 0xff (in place, fsynced).
  static ::testing::AssertionResult FlipBytes(const std::string& path, uint64_t offset,
                                              size_t count) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    if (!f) return ::testing::AssertionFailure() << "cannot open " << path;
    std::string bytes(count, '\0');
    f.seekg(static_cast<std::streamoff>(offset));
    f.read(bytes.data(), static_cast<std::streamsize>(count));
    if (f.gcount() != static_cast<std::streamsize>(count)) {
      return ::testing::AssertionFailure() << path << " has no " << count << " bytes at " << offset;
    }
    for (char& c : bytes) c = static_cast<char>(c ^ 0xff);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(count));
    f.close();
    return f ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "cannot write";
  }

  // `bytes` bytes of which the first `random_bytes` are random (seeded) and the rest a hole.
  void MakeFile(const std::string& file, uint64_t bytes, size_t random_bytes, uint32_t seed) {
    std::mt19937 gen(seed);
    std::string head(std::min<uint64_t>(random_bytes, bytes), '\0');
    for (char& c : head) c = static_cast<char>(gen());
    ASSERT_TRUE(WriteWholeFile(Path(file), head));
    std::error_code ec;
    std::filesystem::resize_file(Path(file), bytes, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  // The names in a directory (none if it cannot be read).
  static std::set<std::string> Entries(const std::string& dir) {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      names.insert(e.path().filename().string());
    }
    return names;
  }

  // `sqlite3 <db> <sql>` (the CLI): its trimmed output, or a failure.
  ::testing::AssertionResult Sqlite(const std::string& db, const std::string& sql,
                                    std::string* out = nullptr) const {
    ProcessResult r = RunProcess({"sqlite3", Path(db), sql}, dir_.path());
    if (r.exit_code != kExitOk) return ::testing::AssertionFailure() << r.Describe();
    if (out != nullptr) *out = Trim(r.out);
    return ::testing::AssertionSuccess();
  }
  // PRAGMA integrity_check says "ok".
  ::testing::AssertionResult IntegrityOk(const std::string& db) const {
    std::string out;
    if (auto r = Sqlite(db, "PRAGMA integrity_check", &out); !r) return r;
    if (out == "ok") return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << db << ": " << out;
  }

  // Mounts a tmpfs of `size` (e.g. "2m") on the directory `path` (created). False, with the
  // reason in *why, if this process may not mount (not root, no CAP_SYS_ADMIN).
  bool MountTmpfs(const std::string& path, const std::string& size, std::string* why) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      *why = "cannot mount a tmpfs on " + path + ": " + std::strerror(errno);
      return false;
    }
    mounts_.push_back(path);
    return true;
  }
  // Remounts a tmpfs of MountTmpfs with new options ("size=8m", "ro", "rw").
  ::testing::AssertionResult Remount(const std::string& path, const std::string& options) {
    unsigned long flags = MS_REMOUNT;
    std::string data;
    if (options == "ro") {
      flags |= MS_RDONLY;
    } else if (options != "rw") {
      data = options;
    }
    if (::mount("tmpfs", path.c_str(), "tmpfs", flags, data.c_str()) != 0) {
      return ::testing::AssertionFailure()
             << "cannot remount " << path << " " << options << ": " << std::strerror(errno);
    }
    return ::testing::AssertionSuccess();
  }

  // --- the store

  void StartStore(const std::string& dir = "store") {
    ASSERT_OK(world_.StartStore(dir, "Store " + dir));
  }
  std::string StoreDir() const { return store_->dir(); }

  std::vector<std::string> AtStore(std::vector<std::string> args) const {
    return world_.AtStore(std::move(args));
  }
  std::vector<std::string> AsAlice(std::vector<std::string> args) const {
    return world_.AsDeveloper(std::move(args));
  }

  void RegisterAlice() { ASSERT_OK(world_.RegisterDeveloper("alice")); }

  // Release <release> of <name> <version> in `file` (Cert_dev <name>-<version>.pem).
  static WorldRelease Release(const std::string& file, const std::string& name,
                              const std::string& version, uint64_t release = 1) {
    return {file,
            name,
            version,
            release,
            name + "-" + version + ".pem",
            name + "-" + version + ".store.pem"};
  }
  // devkit sign of `file` as <name> <version> release <release>.
  void Sign(const std::string& file, const std::string& name, const std::string& version,
            int release) {
    ProcessResult r = world_.Sign(Release(file, name, version, static_cast<uint64_t>(release)));
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }
  // The argv of devkit publish of what Sign made.
  std::vector<std::string> PublishArgv(const std::string& file, const std::string& name,
                                       const std::string& version) const {
    return world_.PublishArgv(Release(file, name, version));
  }
  ProcessResult Publish(const std::string& file, const std::string& name,
                        const std::string& version) const {
    return world_.RunPublish(Release(file, name, version));
  }
  // Copies a built program into the test directory, signs and publishes it (must succeed).
  void PublishProgram(const std::string& program, const std::string& name,
                      const std::string& version = "1.0.0", int release = 1) {
    ASSERT_OK(world_.CopyProgram(program));
    ASSERT_OK(world_.Publish(Release(program, name, version, static_cast<uint64_t>(release))));
  }

  // The catalog, revoked releases included.
  json Releases() const {
    ProcessResult r = Devkit(AtStore({"releases", "--json", "--include-revoked"}));
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    const json j = ParseJsonOrNull(r.out);
    return j.is_object() && j.contains("releases") ? j["releases"] : json::array();
  }

  // --- the site

  // `slsm init` in `dir` and `slsm serve` on a port the kernel chooses, kept over restarts;
  // `overrides` replace config keys.
  SiteServer& StartSite(const json& overrides = json::object(), const std::string& dir = "site") {
    EXPECT_OK(world_.InitSite(dir, kSiteName));
    json config = {
        {"listen", "127.0.0.1:0"},    {"cert_site_lifetime", "30s"},    {"heartbeat_timeout", "3s"},
        {"policy_push_window", "1s"}, {"max_issuance_per_second", 100}, {"issuance_burst", 100},
        {"log_level", "info"}};
    if (overrides.is_object()) config.update(overrides);
    site_ = world_.NewSite(dir, config);
    EXPECT_TRUE(site_->Start());
    return *site_;
  }

  // `slsm <args> --dir <site dir>` in the test directory.
  ProcessResult Slsm(std::vector<std::string> args) const {
    args.insert(args.end(), {"--dir", site_->dir()});
    return Run(Bin("slsm"), std::move(args));
  }
  // The array `key` of `slsm <args> --json`; empty if the command fails.
  json SlsmList(std::vector<std::string> args, const std::string& key) const {
    args.push_back("--json");
    ProcessResult r = Slsm(std::move(args));
    if (r.exit_code != kExitOk) return json::array();
    const json j = ParseJsonOrNull(r.out);
    return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : json::array();
  }

  // --- nodes

  // `nlsm enroll` of node `name` in directory `name` with `token`.
  ProcessResult Enroll(const std::string& name, const std::string& token) const {
    return world_.EnrollNode(name, site_->address(), token, world_.store_root());
  }

  // Enrolls node `name` with a fresh join token (returned in *token) and starts `nlsm serve`.
  NodeServer& StartNode(const std::string& name, std::string* token = nullptr) {
    ProcessResult t = Slsm({"tokens", "create", name});
    EXPECT_EQ(t.exit_code, kExitOk) << t.Describe();
    if (token != nullptr) *token = Trim(t.out);
    ProcessResult r = Enroll(name, Trim(t.out));
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    nodes_.push_back(std::make_unique<NodeServer>(Bin("nlsm"), dir_.path(), name, NodeConfig()));
    EXPECT_TRUE(nodes_.back()->Start());
    return *nodes_.back();
  }

  // `nlsm status --dir <node> --json`; null if it fails.
  json NodeStatus(const std::string& node) const { return world_.NodeStatus(node); }
  json InstanceStatus(const std::string& node, const std::string& service) const {
    return world_.InstanceStatus(node, service);
  }
  bool IsRunning(const std::string& node, const std::string& service) const {
    const json i = InstanceStatus(node, service);
    return i.is_object() && i.value("state", "") == "running" && i.value("pid", 0) > 0;
  }
  // The identity file (key, then Cert_site) of an instance, as the daemon names it.
  std::string IdentityPath(const std::string& node, const std::string& service) const {
    return real_dir_ + "/" + node + "/instances/" + service + "/identity.pem";
  }

  std::string real_dir_;
  ProgramWorld world_{dir_.path()};  // runs the programs in the test's directory
  std::unique_ptr<StoreServer>& store_ = world_.store();  // the world's store server
  std::unique_ptr<SiteServer> site_;
  std::vector<std::unique_ptr<NodeServer>> nodes_;
  std::vector<std::string> mounts_;
};

}  // namespace sitechain::testutil
