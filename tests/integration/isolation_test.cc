// End-to-end tests of the isolation of services on a node (issue 16): a real site and a real
// `nlsm serve` running as root (isolation "auto", so on), with the deliberately hostile service
// `hostile` (examples/hostile) published twice, as hostile and as rival, and the echo service as
// a bystander. Each test makes the attack first and asserts that it was refused or contained,
// each assertion one that fails if the services ran unisolated (as root, in the nlsm's cgroup,
// without a sandbox):
//
//   - isolation is on and reported; the service runs as its own user from the range, without
//     capabilities, with no_new_privs, in its own cgroup; its files have the documented owners
//   - it cannot read the node key nor another service's key, but reads its own
//   - it cannot chmod or open for writing its own package; the package is unchanged
//   - it cannot signal nor ptrace another service, which keeps running
//   - a fork bomb under a pids limit is refused, the node and other services keep working, and
//     undeploying it leaves no process behind
//   - a memory balloon under a memory limit is killed (SIGKILL) and restarted by its policy
//   - an escaped process (double fork + setsid) is killed on undeploy, on expiry, on revocation
//   - a package rewritten in place between two crashes is not run again (DIGEST_MISMATCH)
//   - the sandbox: read-only root and a private /tmp by default, neither when the policy says so
//   - with isolation off the node says so, the service reads the node key (the hole, shown), and
//     limits and sandboxes are refused; "on" where it cannot be kept stops `nlsm serve`
//
// Root is needed (a uid per service, cgroups, mount namespaces); otherwise every test skips
// (tests/allowed_skips.txt, condition non-root). Every wait is on a condition with a deadline.

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/nlsm_fixture.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"

namespace sitechain::testutil {
namespace {

constexpr char kNode[] = "n1";

// The service users of this test program: 1000 uids of their own (not the default range, which
// other node managers on the same machine, other tests' say, hand out too), so that "no process
// of the service's uid is left" is about this test's services alone.
uid_t UidFirst() { return 1950000000 + static_cast<uid_t>(::getpid() % 100000) * 1000; }
uid_t UidLast() { return UidFirst() + 999; }
std::string UidRange() { return std::to_string(UidFirst()) + "-" + std::to_string(UidLast()); }

// --- /proc ---------------------------------------------------------------------------------------

// The value of a "Key:\tvalue" line of /proc/<pid>/status ("" if none or no such process).
std::string ProcStatusField(pid_t pid, const std::string& key) {
  std::istringstream in(ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::string value = line.substr(key.size() + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    return value;
  }
  return "";
}

// The four ids of a Uid: or Gid: line of /proc/<pid>/status (real, effective, saved, fs).
std::vector<long long> ProcIds(pid_t pid, const std::string& key) {
  std::istringstream in(ProcStatusField(pid, key));
  std::vector<long long> ids;
  for (long long id; in >> id;) ids.push_back(id);
  return ids;
}

// The live processes (not zombies) any of whose user ids is `uid`.
std::vector<pid_t> ProcessesOfUid(uid_t uid) {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || !Alive(static_cast<pid_t>(pid))) continue;
    for (long long id : ProcIds(static_cast<pid_t>(pid), "Uid")) {
      if (id == static_cast<long long>(uid)) {
        pids.push_back(static_cast<pid_t>(pid));
        break;
      }
    }
  }
  ::closedir(proc);
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::string Describe(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) {
    const auto argv = ProcStrings("/proc/" + std::to_string(pid) + "/cmdline");
    out += std::to_string(pid) + " (" + (argv.empty() ? "?" : argv[0]) + ") ";
  }
  return out.empty() ? "none" : out;
}

// The mount of `mount_point` in /proc/<pid>/mountinfo, the last one (the one on top): its mount
// options and file system type; nullopt if none.
struct Mount {
  std::string options, fstype;
};
std::optional<Mount> MountOf(pid_t pid, const std::string& mount_point) {
  std::istringstream in(ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/mountinfo"));
  std::optional<Mount> found;
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mount_point options [optional...] - fstype source super_options
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options;
    fields >> id >> parent >> dev >> root >> point >> options;
    if (point != mount_point) continue;
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    Mount m;
    m.options = options;
    rest >> m.fstype;
    found = m;
  }
  return found;
}

bool HasOption(const std::string& options, const std::string& option) {
  std::istringstream in(options);
  for (std::string o; std::getline(in, o, ',');) {
    if (o == option) return true;
  }
  return false;
}

// The target of a symbolic link (a /proc/<pid>/ns/* entry, say); "" if it cannot be read.
std::string ReadLink(const std::string& path) {
  std::error_code ec;
  const auto target = std::filesystem::read_symlink(path, ec);
  return ec ? "" : target.string();
}

struct Owner {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  mode_t mode = 0;
};
Owner OwnerOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_uid, st.st_gid, static_cast<mode_t>(st.st_mode & 07777)};
}
std::string Describe(const Owner& o) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(o.mode));
  return std::to_string(o.uid) + ":" + std::to_string(o.gid) + " " + mode;
}

// --- the fixture ---------------------------------------------------------------------------------

class IsolationTest : public NlsmTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "isolating services (a uid per service, cgroups, mount namespaces) needs "
                      "root; run the isolation tests as root";
    }
    ASSERT_TRUE(std::filesystem::exists(Bin("hostile"))) << "build the hostile target";
    ASSERT_NO_FATAL_FAILURE(NlsmTest::SetUp());
  }

  void TearDown() override {
    NlsmTest::TearDown();  // stops the nodes (and with them every service)
    // Nothing of any service user survives the node, and the instance cgroups are gone.
    for (uid_t uid : uids_) {
      const auto left = ProcessesOfUid(uid);
      EXPECT_TRUE(left.empty()) << "processes of service uid " << uid
                                << " survived the node: " << Describe(left);
      for (pid_t pid : left) ::kill(pid, SIGKILL);
    }
    for (const std::string& cgroup : cgroups_) {
      EXPECT_FALSE(std::filesystem::exists(cgroup)) << cgroup << " survived the node";
    }
  }

  static void TearDownTestSuite() { hostile_template_.Reset(); }

  StoreTemplate& Template() override { return hostile_template_; }

  std::string NodeDir() const { return real_dir_ + "/" + kNode; }

  // The site (a Cert_site lifetime of `lifetime`) and node n1, connected; isolation on.
  void StartIsolatedNode(const std::string& lifetime = "30s") {
    StartSite({{"cert_site_lifetime", lifetime}});
    StartNode(kNode, {{"service_uid_range", UidRange()}});
    ASSERT_TRUE(WaitUntil([&] { return NodeStatus(kNode).value("connected", false); },
                          kStateDeadline, kPoll))
        << NodeStatus(kNode).dump(2) << NodeLog(kNode);
    const std::string isolation = NodeStatus(kNode).value("isolation", "");
    ASSERT_EQ(isolation.rfind("on:", 0), 0u)
        << "running as root, the node must isolate its services; it says: \"" << isolation << "\"\n"
        << NodeLog(kNode);
  }

  // Installs and deploys `service` on n1 with `policy`, then waits until it runs and printed
  // "ready" (or `ready_line`); its status entry. Remembers its uid and cgroup for TearDown.
  json DeployAndWait(const std::string& service, const json& policy,
                     const std::string& ready_line = "ready\n") {
    Install(service);
    if (!policy.empty()) SetPolicy(service, policy);
    Deploy(service, kNode);
    const json running = WaitForRunning(kNode, service);
    EXPECT_TRUE(WaitUntil([&] { return Contains(StdoutOf(kNode, service), ready_line); },
                          kStateDeadline, kPoll))
        << service << " did not print \"" << Trim(ready_line) << "\"; stdout:\n"
        << StdoutOf(kNode, service) << "\nstderr:\n"
        << ReadFileOrEmpty(InstanceDir(kNode, service) + "/stderr.log");
    Remember(running);
    return running;
  }

  void Remember(const json& instance) {
    if (instance.value("uid", 0u) != 0) uids_.insert(instance.value("uid", 0u));
    if (!instance.value("cgroup", "").empty()) cgroups_.insert(instance.value("cgroup", ""));
  }

  void Undeploy(const std::string& service) {
    ASSERT_NO_FATAL_FAILURE(MustSlsm({"undeploy", service, "--nodes", kNode}));
  }

  // The "RESULT <name> ..." line the service printed, without "RESULT <name> "; "" if none.
  std::string Result(const std::string& service, const std::string& name) const {
    const auto lines = LinesStartingWith(StdoutOf(kNode, service), "RESULT " + name + " ");
    return lines.empty() ? "" : lines.back().substr(std::string("RESULT " + name + " ").size());
  }
  // Waits for the RESULT line of `name`; its text after the name.
  std::string WaitForResult(const std::string& service, const std::string& name) {
    std::string result;
    EXPECT_TRUE(WaitUntil(
        [&] {
          result = Result(service, name);
          return !result.empty();
        },
        kStateDeadline, kPoll))
        << "no \"RESULT " << name << "\" from " << service << "; stdout:\n"
        << StdoutOf(kNode, service);
    return result;
  }

  // The pids in a cgroup's cgroup.procs; empty if it has none or is gone.
  static std::vector<pid_t> CgroupProcs(const std::string& cgroup) {
    std::istringstream in(ReadFileOrEmpty(cgroup + "/cgroup.procs"));
    std::vector<pid_t> pids;
    for (long pid; in >> pid;) pids.push_back(static_cast<pid_t>(pid));
    return pids;
  }

  // Waits until no process runs as `uid` and the cgroup is gone or empty; a failure naming what
  // is left otherwise.
  void ExpectNothingLeft(uid_t uid, const std::string& cgroup, const std::string& after) {
    if (uid == 0) {
      ADD_FAILURE() << "the service ran as root (not isolated); after " << after;
      return;
    }
    std::vector<pid_t> left, in_cgroup;
    const bool gone = WaitUntil(
        [&] {
          left = ProcessesOfUid(uid);
          in_cgroup = cgroup.empty() ? std::vector<pid_t>{} : CgroupProcs(cgroup);
          return left.empty() && in_cgroup.empty();
        },
        kStateDeadline, kPoll);
    EXPECT_TRUE(gone) << "after " << after << ": processes of uid " << uid << ": " << Describe(left)
                      << "; in " << cgroup << ": " << Describe(in_cgroup) << "\n"
                      << NodeLog(kNode);
  }

  // The pid of the "escaped pid N ..." line of `service` (0 if none yet).
  pid_t EscapedPid(const std::string& service) const {
    const auto lines = LinesStartingWith(StdoutOf(kNode, service), "escaped pid ");
    return lines.empty() ? 0 : static_cast<pid_t>(std::atol(lines.back().c_str() + 12));
  }

  // Deploys `hostile escape` and checks that the escape worked (a process of the service's user,
  // in a session and process group of its own, still alive after its parent exited): what the
  // stop must then reach. Its uid, cgroup and the escaped pid.
  struct Escaped {
    uid_t uid = 0;
    std::string cgroup;
    pid_t main = 0, escaped = 0;
  };
  Escaped DeployEscape() {
    Escaped e;
    const json running = DeployAndWait("hostile", {{"args", {"escape"}}});
    e.uid = running.value("uid", 0u);
    e.cgroup = running.value("cgroup", "");
    e.main = running.value("pid", 0);
    e.escaped = EscapedPid("hostile");
    EXPECT_GT(e.escaped, 0) << StdoutOf(kNode, "hostile");
    EXPECT_TRUE(Alive(e.escaped)) << e.escaped;
    EXPECT_NE(::getsid(e.escaped), ::getsid(e.main)) << "the escape did not leave the session";
    EXPECT_NE(::getpgid(e.escaped), e.main) << "the escape did not leave the process group";
    EXPECT_EQ(ProcIds(e.escaped, "Uid"), std::vector<long long>(4, e.uid));
    return e;
  }

  // A store with echo (the bystander), hostile and rival (both the hostile program), release 1.
  static inline StoreTemplate hostile_template_{{"alice"},
                                                {"echo-service", "hostile"},
                                                {{.file = "echo-service",
                                                  .name = "echo",
                                                  .cert_dev = "echo.cert.pem",
                                                  .cert_store = "echo.store.pem"},
                                                 {.file = "hostile",
                                                  .name = "hostile",
                                                  .cert_dev = "hostile.cert.pem",
                                                  .cert_store = "hostile.store.pem"},
                                                 {.file = "hostile",
                                                  .name = "rival",
                                                  .cert_dev = "rival.cert.pem",
                                                  .cert_store = "rival.store.pem"}}};

  std::set<uid_t> uids_;
  std::set<std::string> cgroups_;
};

// --- 1. on, and reported -------------------------------------------------------------------------

TEST_F(IsolationTest, IsOnAndTheServiceRunsAsItsOwnUserWithoutPrivilegesInItsOwnCgroup) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json running = DeployAndWait("hostile", {{"args", {"idle"}}});
  const pid_t pid = running.value("pid", 0);
  const uid_t uid = running.value("uid", 0u);
  const std::string cgroup = running.value("cgroup", "");

  // Its own user from the range, kept in users.json; the same number as its group.
  ASSERT_GE(uid, UidFirst()) << running.dump(2);
  ASSERT_LE(uid, UidLast()) << running.dump(2);
  EXPECT_TRUE(Contains(NodeStatus(kNode).value("isolation", ""), UidRange()))
      << NodeStatus(kNode).dump(2);
  const json users = json::parse(ReadFileOrEmpty(NodeDir() + "/users.json"), nullptr, false);
  ASSERT_TRUE(users.is_object()) << ReadFileOrEmpty(NodeDir() + "/users.json");
  EXPECT_EQ(users["services"].value("hostile", 0u), uid) << users.dump();

  // The kernel's view of the process: that user and group in all four slots, no supplementary
  // groups, no capabilities at all, no_new_privs, a process group of its own.
  EXPECT_EQ(ProcIds(pid, "Uid"), std::vector<long long>(4, uid)) << ProcStatusField(pid, "Uid");
  EXPECT_EQ(ProcIds(pid, "Gid"), std::vector<long long>(4, uid)) << ProcStatusField(pid, "Gid");
  EXPECT_EQ(ProcStatusField(pid, "Groups"), "");
  EXPECT_EQ(ProcStatusField(pid, "NoNewPrivs"), "1");
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(pid, caps), "0000000000000000") << caps;
  }
  EXPECT_EQ(::getpgid(pid), pid);
  // ... and as the service itself saw it.
  const std::string id = std::to_string(uid);
  const std::string out = StdoutOf(kNode, "hostile");
  EXPECT_TRUE(Contains(out, "whoami uid " + id + " gid " + id +
                                " groups 0 nnp 1 capeff 0000000000000000 pgid " +
                                std::to_string(pid) + "\n"))
      << out;

  // In its own cgroup: the v2 directory the status names holds it, and its /proc/<pid>/cgroup
  // names that directory (relative to the hierarchy's mount).
  ASSERT_FALSE(cgroup.empty()) << running.dump(2);
  EXPECT_TRUE(Contains(cgroup, "/sitechain-nlsm.")) << cgroup;
  EXPECT_EQ(cgroup.substr(cgroup.rfind('/') + 1), "hostile") << cgroup;
  EXPECT_EQ(CgroupProcs(cgroup), std::vector<pid_t>{pid}) << cgroup;
  const auto v2 =
      LinesStartingWith(ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/cgroup"), "0::");
  ASSERT_EQ(v2.size(), 1u) << ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/cgroup");
  const std::string relative = v2[0].substr(3);
  ASSERT_GT(relative.size(), 1u) << v2[0];
  EXPECT_TRUE(cgroup.size() >= relative.size() &&
              cgroup.compare(cgroup.size() - relative.size(), relative.size(), relative) == 0)
      << "/proc/" << pid << "/cgroup says " << v2[0] << ", the status " << cgroup;
  // Not the node manager's cgroup.
  EXPECT_NE(LinesStartingWith(
                ReadFileOrEmpty("/proc/" + std::to_string(Node(kNode).pid()) + "/cgroup"), "0::"),
            v2);

  // The files, as documented: the node's directories only traversable, the node key root's
  // alone, the instance directory and key readable by the service's group only, work/ its own.
  const std::string dir = InstanceDir(kNode, "hostile");
  const std::vector<std::pair<std::string, Owner>> expected = {
      {NodeDir(), {0, 0, 0711}},
      {NodeDir() + "/instances", {0, 0, 0711}},
      {NodeDir() + "/node.key", {0, 0, 0600}},
      {dir, {0, uid, 0750}},
      {dir + "/identity.pem", {0, uid, 0440}},
      {dir + "/work", {uid, uid, 0700}},
      {dir + "/stdout.log", {0, 0, 0600}},
      {dir + "/stderr.log", {0, 0, 0600}},
  };
  for (const auto& [path, want] : expected) {
    const Owner got = OwnerOf(path);
    EXPECT_TRUE(got.uid == want.uid && got.gid == want.gid && got.mode == want.mode)
        << path << " is " << Describe(got) << ", expected " << Describe(want);
  }
}

// --- 2. keys -------------------------------------------------------------------------------------

TEST_F(IsolationTest, ServiceCannotReadTheNodeKeyNorAnotherServicesKeyButReadsItsOwn) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  DeployAndWait("echo", json::object(), "ready\n");
  const std::string node_key = NodeDir() + "/node.key";
  const std::string other_key = InstanceDir(kNode, "echo") + "/identity.pem";
  const std::string own_key = InstanceDir(kNode, "hostile") + "/identity.pem";
  ASSERT_TRUE(std::filesystem::exists(other_key));
  // The sandbox is off, so that the refusals are the file permissions' (with the default sandbox,
  // a node directory under /tmp is not even there for the service: ENOENT; the last test).
  DeployAndWait("hostile", {{"args", {"read", node_key, other_key, own_key}},
                            {"sandbox", {{"read_only_root", false}, {"private_tmp", false}}}});

  EXPECT_EQ(WaitForResult("hostile", "read:" + node_key), "refused EACCES");
  EXPECT_EQ(WaitForResult("hostile", "read:" + other_key), "refused EACCES");
  // The control: the same program reads its own key, so the refusals above are the isolation's.
  const std::string own = WaitForResult("hostile", "read:" + own_key);
  EXPECT_EQ(own, "ok " + std::to_string(ReadWholeFile(own_key).size()));
}

// --- 3. its own package --------------------------------------------------------------------------

// The sandbox is off here so that the refusals are the file permissions' (a read-only root would
// refuse with EROFS first); the default sandbox is the next test's.
TEST_F(IsolationTest, ServiceCannotChmodNorOpenForWritingItsOwnPackage) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json running = DeployAndWait(
      "hostile",
      {{"args", {"write-exe"}}, {"sandbox", {{"read_only_root", false}, {"private_tmp", false}}}});
  const std::string package = PackagePath(kNode, running.value("digest", ""));
  const std::string published = ReadWholeFile(Path("hostile"));
  ASSERT_FALSE(published.empty());

  // EPERM (not the owner), or EACCES: packages/ (0700) does not even let the service reach it.
  const std::string chmod = WaitForResult("hostile", "chmod-exe");
  EXPECT_TRUE(chmod == "refused EACCES" || chmod == "refused EPERM") << chmod;
  // Unisolated, the open would fail too, but with ETXTBSY (a running executable): as another
  // user the permission check refuses it first.
  EXPECT_EQ(WaitForResult("hostile", "open-exe-for-write"), "refused EACCES");
  EXPECT_EQ(WaitForResult("hostile", "open-proc-exe-for-write"), "refused EACCES");

  EXPECT_EQ(ModeOf(package), 0555);
  EXPECT_EQ(OwnerOf(package).uid, 0u);
  EXPECT_TRUE(ReadWholeFile(package) == published) << package << " changed";
  EXPECT_TRUE(ReadWholeFile("/proc/" + std::to_string(running.value("pid", 0)) + "/exe") ==
              published);
}

TEST_F(IsolationTest, WithTheDefaultSandboxTheOwnPackageIsRefusedAsWell) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json running = DeployAndWait("hostile", {{"args", {"write-exe"}}});
  const std::string package = PackagePath(kNode, running.value("digest", ""));
  // EPERM (not the owner), EACCES (packages/ 0700), EROFS (the read-only root) or ENOENT (the
  // node directory under /tmp is not there behind the private /tmp): each is the isolation's.
  for (const char* attempt : {"chmod-exe", "open-exe-for-write", "open-proc-exe-for-write"}) {
    const std::string result = WaitForResult("hostile", attempt);
    EXPECT_TRUE(result == "refused EPERM" || result == "refused EACCES" ||
                result == "refused EROFS" || result == "refused ENOENT")
        << attempt << ": " << result;
  }
  EXPECT_EQ(ModeOf(package), 0555);
  EXPECT_TRUE(ReadWholeFile(package) == ReadWholeFile(Path("hostile"))) << package << " changed";
}

// --- 4. other processes --------------------------------------------------------------------------

TEST_F(IsolationTest, ServiceCannotSignalNorTraceAnotherService) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json victim = DeployAndWait("rival", {{"args", {"idle"}}});
  const pid_t victim_pid = victim.value("pid", 0);
  ASSERT_GT(victim_pid, 0);
  const std::string id = std::to_string(victim_pid);
  DeployAndWait("hostile", {{"args", {"signal", id}}});

  EXPECT_EQ(WaitForResult("hostile", "kill:" + id), "refused EPERM");
  EXPECT_EQ(WaitForResult("hostile", "ptrace:" + id), "refused EPERM");
  // The victim still runs, the same process, and got nothing.
  EXPECT_TRUE(Alive(victim_pid));
  EXPECT_NE(ProcState(victim_pid), 't') << "traced";
  EXPECT_EQ(ProcStatusField(victim_pid, "TracerPid"), "0");
  const json after = InstanceStatus(kNode, "rival");
  EXPECT_EQ(StateOf(after), "running") << after.dump(2);
  EXPECT_EQ(after.value("pid", 0), victim_pid);
  EXPECT_EQ(after.value("restarts", 0), 0) << after.dump(2);
}

TEST_F(IsolationTest, ServiceCannotSignalTheNodeManager) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const std::string id = std::to_string(Node(kNode).pid());
  DeployAndWait("hostile", {{"args", {"signal", id}}});
  EXPECT_EQ(WaitForResult("hostile", "kill:" + id), "refused EPERM");
  EXPECT_EQ(WaitForResult("hostile", "ptrace:" + id), "refused EPERM");
  EXPECT_TRUE(Alive(Node(kNode).pid()));
  EXPECT_TRUE(NodeStatus(kNode).is_object());
}

// --- 5. fork bomb --------------------------------------------------------------------------------

TEST_F(IsolationTest, ForkBombIsContainedByThePidsLimitAndLeavesNothingWhenUndeployed) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json bystander = DeployAndWait("echo", json::object());
  const json bomb = DeployAndWait("hostile", {{"args", {"forkbomb"}}, {"limits", {{"pids", 32}}}});
  const uid_t uid = bomb.value("uid", 0u);
  const std::string cgroup = bomb.value("cgroup", "");

  EXPECT_EQ(WaitForResult("hostile", "fork"), "refused EAGAIN");
  // Contained: at most 32 processes in its cgroup (and of its user), while the node answers and
  // the bystander keeps running, the same process.
  EXPECT_LE(CgroupProcs(cgroup).size(), 32u);
  EXPECT_LE(ProcessesOfUid(uid).size(), 32u);
  for (int i = 0; i < 3; ++i) {
    const json status = NodeStatus(kNode);
    ASSERT_TRUE(status.is_object()) << "nlsm status failed during the fork bomb";
    const json echo = InstanceStatus(kNode, "echo");
    EXPECT_EQ(StateOf(echo), "running") << echo.dump(2);
    EXPECT_EQ(echo.value("pid", 0), bystander.value("pid", 0)) << echo.dump(2);
  }
  EXPECT_TRUE(Alive(bystander.value("pid", 0)));

  // Undeployed: every process of it is gone, however many there were.
  ASSERT_NO_FATAL_FAILURE(Undeploy("hostile"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        const json i = InstanceStatus(kNode, "hostile");
        return i.is_null() || StateOf(i) == "stopped";
      },
      kStateDeadline, kPoll))
      << InstanceStatus(kNode, "hostile").dump(2) << NodeLog(kNode);
  ExpectNothingLeft(uid, cgroup, "undeploy");
  EXPECT_TRUE(InstanceProcesses(kNode, "hostile").empty());
  EXPECT_EQ(StateOf(InstanceStatus(kNode, "echo")), "running");
}

// --- 6. memory balloon ---------------------------------------------------------------------------

TEST_F(IsolationTest, MemoryBalloonIsKilledAtItsLimitAndRestartedByItsPolicy) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json first = DeployAndWait(
      "hostile",
      {{"args", {"balloon", "4"}}, {"limits", {{"memory", "32M"}}}, {"restart", "on-failure"}});
  const pid_t first_pid = first.value("pid", 0);
  // Its v1 memory cgroup, where the kernel counts OOM kills ("oom_kill N" in memory.oom_control;
  // read now: the restarted balloon may be gone again when the test looks).
  std::string control;
  for (const auto& line :
       LinesStartingWith(ReadFileOrEmpty("/proc/" + std::to_string(first_pid) + "/cgroup"), "")) {
    const auto memory = line.find(":memory:");
    if (memory != std::string::npos) {
      control = "/sys/fs/cgroup/memory" + line.substr(memory + 8) + "/memory.oom_control";
    }
  }

  // Killed by the OOM killer, seen by the supervisor as SIGKILL, and restarted.
  json last;
  std::string seen;  // every status entry seen meanwhile
  ASSERT_TRUE(WaitUntil(
      [&] {
        last = InstanceStatus(kNode, "hostile");
        seen += last.dump() + "\n";
        return last.value("restarts", 0) >= 1 &&
               Count(StdoutOf(kNode, "hostile"), "whoami uid ") >= 2;
      },
      seconds(40), kPoll))
      << last.dump(2) << "\nstdout:\n"
      << StdoutOf(kNode, "hostile") << "\n"
      << NodeLog(kNode);
  EXPECT_FALSE(Alive(first_pid));
  // Killed by the kernel's OOM killer: the node logs the exit it did not ask for ("service
  // hostile: killed by SIGKILL; restart 1 in …"), and the memory cgroup counted the kill.
  const std::string log = NodeLog(kNode);
  EXPECT_TRUE(Contains(log, "service hostile: killed by SIGKILL; restart 1 in")) << log;
  const bool sigkill_seen =
      Contains(seen, "killed by SIGKILL") || Contains(log, "killed by SIGKILL");
  long oom_kills = -1;
  const auto kills = LinesStartingWith(ReadFileOrEmpty(control), "oom_kill ");
  if (!kills.empty()) oom_kills = std::atol(kills[0].c_str() + 9);
  EXPECT_TRUE(control.empty() || oom_kills >= 1)
      << "no OOM kill counted in " << control << ": oom_kill " << oom_kills;
  std::cout << "[ measured ] OOM kills counted by the memory cgroup: " << oom_kills
            << "; the status showed \"killed by SIGKILL\": " << (sigkill_seen ? "yes" : "no")
            << "\n";
  // It never got past its limit: the largest total it printed stays below 32 MiB.
  long most = 0;
  for (const auto& line : LinesStartingWith(StdoutOf(kNode, "hostile"), "allocated ")) {
    most = std::max(most, std::atol(line.c_str() + 10));
  }
  EXPECT_GT(most, 0) << StdoutOf(kNode, "hostile");
  EXPECT_LT(most, 32) << StdoutOf(kNode, "hostile");
  std::cout << "[ measured ] balloon reached " << most << " MiB before the kill; restarts "
            << last.value("restarts", 0) << "\n";
}

// --- 7. escape -----------------------------------------------------------------------------------

TEST_F(IsolationTest, EscapedProcessIsKilledWhenTheServiceIsUndeployed) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const Escaped e = DeployEscape();
  ASSERT_GT(e.escaped, 0);
  ASSERT_NO_FATAL_FAILURE(Undeploy("hostile"));
  ExpectNothingLeft(e.uid, e.cgroup, "undeploy");
  EXPECT_FALSE(Alive(e.escaped)) << "the escaped process " << e.escaped << " survived";
}

TEST_F(IsolationTest, EscapedProcessIsKilledWhenTheCertificateExpires) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode("15s"));
  const Escaped e = DeployEscape();
  ASSERT_GT(e.escaped, 0);
  const TimePoint not_after = NotAfter(InstanceStatus(kNode, "hostile"));
  ASSERT_TRUE(site().Stop(SIGKILL));  // nobody renews it
  WaitForInstance(
      kNode, "hostile", "expired",
      std::chrono::duration_cast<milliseconds>(not_after - std::chrono::system_clock::now()) +
          seconds(30));
  ExpectNothingLeft(e.uid, e.cgroup, "expiry");
  EXPECT_FALSE(Alive(e.escaped)) << "the escaped process " << e.escaped << " survived";
}

TEST_F(IsolationTest, EscapedProcessIsKilledWhenTheReleaseIsRevoked) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const Escaped e = DeployEscape();
  ASSERT_GT(e.escaped, 0);
  const TimePoint not_after = NotAfter(InstanceStatus(kNode, "hostile"));
  ProcessResult r = Store(
      {"revoke", "release", "hostile", "1.0.0", "--reason", "hostile escape", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const json i = InstanceStatus(kNode, "hostile");
        return (i.is_null() || StateOf(i) == "stopped") && !Alive(e.main);
      },
      std::chrono::duration_cast<milliseconds>(not_after - std::chrono::system_clock::now()) +
          seconds(30),
      kPoll))
      << InstanceStatus(kNode, "hostile").dump(2) << NodeLog(kNode);
  ExpectNothingLeft(e.uid, e.cgroup, "revocation");
  EXPECT_FALSE(Alive(e.escaped)) << "the escaped process " << e.escaped << " survived";
}

// --- 8. a package rewritten between two runs -----------------------------------------------------

// The node's blob store keeps the package; root (here: the test, standing in for anything that
// got write access to it) rewrites it in place, the same inode, while the service is between a
// crash and its restart. The supervisor re-hashes the descriptor it holds before every exec, so
// the rewritten bytes never run.
TEST_F(IsolationTest, PackageRewrittenInPlaceBetweenTwoCrashesIsNotRunAgain) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json running =
      DeployAndWait("hostile", {{"args", {"crash-after", "1500"}}, {"restart", "always"}});
  const std::string package = PackagePath(kNode, running.value("digest", ""));
  ASSERT_EQ(Count(StdoutOf(kNode, "hostile"), "started pid "), 1u);
  struct stat before {};
  ASSERT_EQ(::stat(package.c_str(), &before), 0) << package;

  // As soon as the first run has exited (until then the kernel refuses: ETXTBSY), one byte in
  // the middle changes; the file stays the same inode and size.
  ASSERT_EQ(::chmod(package.c_str(), 0755), 0);
  int fd = -1;
  int last_errno = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        fd = ::open(package.c_str(), O_WRONLY | O_CLOEXEC);
        last_errno = errno;
        return fd >= 0;
      },
      kStateDeadline, milliseconds(2)))
      << "cannot open " << package << " for writing: " << std::strerror(last_errno);
  const off_t middle = before.st_size / 2;
  char byte = 0;
  {
    const int rfd = ::open(package.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(rfd, 0);
    ASSERT_EQ(::pread(rfd, &byte, 1, middle), 1);
    ::close(rfd);
  }
  byte = static_cast<char>(byte ^ 0x01);
  ASSERT_EQ(::pwrite(fd, &byte, 1, middle), 1);
  ::close(fd);
  ASSERT_EQ(::chmod(package.c_str(), 0555), 0);
  // Only now may the first run have ended: the rewrite came before any restart.
  ASSERT_EQ(Count(StdoutOf(kNode, "hostile"), "started pid "), 1u)
      << "restarted before the rewrite; stdout:\n"
      << StdoutOf(kNode, "hostile");
  struct stat after {};
  ASSERT_EQ(::stat(package.c_str(), &after), 0);
  ASSERT_EQ(after.st_ino, before.st_ino);
  ASSERT_EQ(after.st_size, before.st_size);

  // Not run again: the status says why, and no second start for a while (the first restart
  // would have come after about a second).
  const json refused = WaitForInstance(
      kNode, "hostile", "exited", kStateDeadline,
      [](const json& i) { return Contains(i.value("last_error", ""), "DIGEST_MISMATCH"); });
  EXPECT_TRUE(Contains(refused.value("last_error", ""), "not run again")) << refused.dump(2);
  EXPECT_EQ(refused.value("pid", -1), 0) << refused.dump(2);
  const bool restarted = WaitUntil(
      [&] { return Count(StdoutOf(kNode, "hostile"), "started pid ") > 1; }, seconds(5), kPoll);
  EXPECT_FALSE(restarted) << "the rewritten package ran; stdout:\n" << StdoutOf(kNode, "hostile");
  EXPECT_TRUE(InstanceProcesses(kNode, "hostile").empty());
}

// --- 9. the sandbox ------------------------------------------------------------------------------

TEST_F(IsolationTest, DefaultSandboxHasAReadOnlyRootAndAPrivateTmpAndThePolicyCanTurnThemOff) {
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const json boxed = DeployAndWait("hostile", {{"args", {"idle"}}});
  const json open = DeployAndWait(
      "rival",
      {{"args", {"idle"}}, {"sandbox", {{"read_only_root", false}, {"private_tmp", false}}}});
  const pid_t boxed_pid = boxed.value("pid", 0), open_pid = open.value("pid", 0);
  const pid_t self = ::getpid();
  const std::string mountinfo =
      ReadFileOrEmpty("/proc/" + std::to_string(boxed_pid) + "/mountinfo");
  ASSERT_FALSE(mountinfo.empty());

  // The test's own view: a writable root (else nothing below would prove anything).
  const auto host_root = MountOf(self, "/");
  ASSERT_TRUE(host_root.has_value());
  ASSERT_TRUE(HasOption(host_root->options, "rw")) << host_root->options;
  const auto host_tmp = MountOf(self, "/tmp");

  // Sandboxed: its own mount namespace, / read-only, a tmpfs of its own on /tmp, and only its
  // work directory writable.
  EXPECT_NE(ReadLink("/proc/" + std::to_string(boxed_pid) + "/ns/mnt"),
            ReadLink("/proc/self/ns/mnt"));
  const auto root = MountOf(boxed_pid, "/");
  ASSERT_TRUE(root.has_value()) << mountinfo;
  EXPECT_TRUE(HasOption(root->options, "ro")) << "/ is " << root->options << "\n" << mountinfo;
  const auto tmp = MountOf(boxed_pid, "/tmp");
  ASSERT_TRUE(tmp.has_value()) << mountinfo;
  EXPECT_EQ(tmp->fstype, "tmpfs") << mountinfo;
  EXPECT_TRUE(HasOption(tmp->options, "rw")) << mountinfo;
  const auto work = MountOf(boxed_pid, InstanceDir(kNode, "hostile") + "/work");
  ASSERT_TRUE(work.has_value()) << mountinfo;
  EXPECT_TRUE(HasOption(work->options, "rw")) << mountinfo;
  const auto node_dir = MountOf(boxed_pid, NodeDir());
  EXPECT_TRUE(!node_dir.has_value() || HasOption(node_dir->options, "ro")) << mountinfo;

  // Policy: neither. / as writable as the host's, /tmp the host's.
  const std::string open_info = ReadFileOrEmpty("/proc/" + std::to_string(open_pid) + "/mountinfo");
  const auto open_root = MountOf(open_pid, "/");
  ASSERT_TRUE(open_root.has_value()) << open_info;
  EXPECT_TRUE(HasOption(open_root->options, "rw")) << open_info;
  const auto open_tmp = MountOf(open_pid, "/tmp");
  EXPECT_EQ(open_tmp.has_value(), host_tmp.has_value()) << open_info;
  if (open_tmp && host_tmp) {
    EXPECT_EQ(open_tmp->fstype, host_tmp->fstype) << open_info;
  }
  // It is still isolated otherwise (its own user, no capabilities).
  EXPECT_EQ(ProcIds(open_pid, "Uid"), std::vector<long long>(4, open.value("uid", 0u)));
  EXPECT_EQ(ProcStatusField(open_pid, "CapEff"), "0000000000000000");
}

// --- a node directory under /tmp -----------------------------------------------------------------

// The test's directory (and so the node's) is under /tmp, where TempDir puts it by default: the
// service's private /tmp must not hide its own instance directory.
TEST_F(IsolationTest, DefaultSandboxRunsAServiceWhoseNodeDirectoryIsUnderTmp) {
  ASSERT_EQ(real_dir_.rfind("/tmp/", 0), 0u) << real_dir_;
  ASSERT_NO_FATAL_FAILURE(StartIsolatedNode());
  const std::string own_key = InstanceDir(kNode, "hostile") + "/identity.pem";
  Install("hostile");
  SetPolicy("hostile", {{"args", {"read", own_key}}});
  Deploy("hostile", kNode);
  const json running = WaitForRunning(kNode, "hostile");
  Remember(running);
  ASSERT_EQ(StateOf(running), "running")
      << "with its node directory under /tmp, the service does not start in the default "
         "sandbox (its private /tmp hides the directory):\n"
      << running.dump(2);
  EXPECT_EQ(WaitForResult("hostile", "read:" + own_key),
            "ok " + std::to_string(ReadWholeFile(own_key).size()));
  const auto tmp = MountOf(running.value("pid", 0), "/tmp");
  ASSERT_TRUE(tmp.has_value());
  EXPECT_EQ(tmp->fstype, "tmpfs");
}

// --- without isolation ---------------------------------------------------------------------------

// The hole the tests above close, shown, and what only isolation gives refused: with isolation
// "off" the node says so, its service reads the node key, and a policy asking for limits or a
// sandbox is refused as one the node cannot honour.
TEST_F(IsolationTest, WithIsolationOffTheNodeSaysSoAndRefusesLimitsAndSandboxes) {
  StartSite({{"cert_site_lifetime", "30s"}});
  StartNode(kNode, {{"isolation", "off"}});
  ASSERT_TRUE(
      WaitUntil([&] { return NodeStatus(kNode).value("connected", false); }, kStateDeadline, kPoll))
      << NodeLog(kNode);
  EXPECT_EQ(NodeStatus(kNode).value("isolation", ""),
            "off: isolation is \"off\" in the configuration");
  EXPECT_TRUE(Contains(NodeLog(kNode), "SERVICES ARE NOT ISOLATED")) << NodeLog(kNode);

  const std::string node_key = NodeDir() + "/node.key";
  const json running = DeployAndWait("hostile", {{"args", {"read", node_key}}});
  EXPECT_EQ(running.value("uid", 0u), 0u) << running.dump(2);
  EXPECT_EQ(WaitForResult("hostile", "read:" + node_key),
            "ok " + std::to_string(ReadWholeFile(node_key).size()));

  Install("rival");
  SetPolicy("rival", {{"limits", {{"pids", 32}}}});
  Deploy("rival", kNode);
  const json limited = WaitForInstance(kNode, "rival", "refused");
  EXPECT_TRUE(Contains(limited.value("last_error", ""), "\"limits\"")) << limited.dump(2);

  Install("echo");
  SetPolicy("echo", {{"sandbox", {{"read_only_root", true}}}});
  Deploy("echo", kNode);
  const json sandboxed = WaitForInstance(kNode, "echo", "refused");
  EXPECT_TRUE(Contains(sandboxed.value("last_error", ""), "\"sandbox\"")) << sandboxed.dump(2);
}

// "on" is a promise: a node that cannot keep it does not start. Here the test's directory (the
// state directory's parent) does not let other users through.
TEST_F(IsolationTest, IsolationOnRefusesToStartWhereTheServicesCouldNotReachTheirFiles) {
  StartSite({{"cert_site_lifetime", "30s"}});
  ProcessResult token = world_.JoinToken("site", kNode);
  ASSERT_EQ(token.exit_code, kExitOk) << token.Describe();
  ProcessResult enrolled =
      world_.EnrollNode(kNode, site().address(), Trim(token.out), "node-store-root.pem");
  ASSERT_EQ(enrolled.exit_code, kExitOk) << enrolled.Describe();
  ASSERT_TRUE(WriteWholeFile(Path("on.json"), R"({"isolation": "on"})"));
  ASSERT_EQ(::chmod(real_dir_.c_str(), 0700), 0);
  ProcessResult serve = Run(Bin("nlsm"), {"serve", "--dir", kNode, "--config", "on.json"});
  ASSERT_EQ(::chmod(real_dir_.c_str(), 0711), 0);
  EXPECT_EQ(serve.exit_code, kExitFailure) << serve.Describe();
  EXPECT_TRUE(Contains(serve.err, "isolation is \"on\" in the configuration, but " + real_dir_ +
                                      " does not let other users through (no o+x)"))
      << serve.Describe();
}

}  // namespace
}  // namespace sitechain::testutil
