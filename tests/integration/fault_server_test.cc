// Server-side fault scenarios (issue 7, "Fault scenarios"), with real `store serve`, `slsm serve`
// and `nlsm serve` processes on loopback (fixture: server_fault_fixture.h):
//
//   FaultSlsmKill     kill -9 of the slsm, many times, at random points of renewals and policy
//                     pushes: nothing acknowledged is lost (issuance log, policies, join tokens,
//                     deployments), nodes reconnect by themselves, no instance ever holds an
//                     expired certificate.
//   FaultStoreKill    kill -9 of the store at random points of uploads: no partial release, no
//                     orphan blob, no leftover temporary file; a retried publish succeeds.
//   FaultDisk         a full disk (a small tmpfs) and a read-only state directory under the store
//                     and the slsm: a clear error to the caller, no corruption, recovery once
//                     space is back (without a restart).
//   FaultCorruption   flipped bytes in the store's and the slsm's database, in a package blob and
//                     in both CA keys: detected at start or at use, reported naming the file,
//                     never used.
//
// Every measured figure is printed on a line starting with "[figure] ".

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/cli.h"
#include "common/identity_file.h"
#include "common/time_format.h"
#include "pki/certificate.h"
#include "pki/hash.h"
#include "tests/integration/server_fault_fixture.h"

namespace sitechain::testutil {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

milliseconds Since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
}

milliseconds Percentile(std::vector<milliseconds> v, double p) {
  if (v.empty()) return milliseconds(0);
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1)))];
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(milliseconds(ms)); }

// How a CLI ended whose server was killed under it: it finished (kExitOk), or it was cut: the
// refusal every CLI prints for a server that cannot be reached or went away in the middle of a
// call, kExitFailure (common/cli.h) with "cannot reach <server>" and [UNAVAILABLE]
// (server/admin_client.cc for the admin commands, devkit/store_commands.cc for devkit).
enum class CliEnd { kDone, kCut };

// The end of `cli`, which has exited, into *end. Any other end fails, with the CLI's output: a
// signal (exit 128 + N: a crash is not a cut), the sanitizers' exit 86, another exit code, or
// another refusal.
::testing::AssertionResult EndOfCli(ChildProcess& cli, const std::string& server, CliEnd* end) {
  const std::optional<int> code = cli.exit_code();
  if (!code) return ::testing::AssertionFailure() << "still running\n" << cli.Describe();
  if (*code == kExitOk) {
    *end = CliEnd::kDone;
    return ::testing::AssertionSuccess();
  }
  const std::string err = cli.err();
  if (*code == kExitFailure && Contains(err, "cannot reach " + server) &&
      Contains(err, "[UNAVAILABLE]")) {
    *end = CliEnd::kCut;
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "the CLI ended with " << ChildProcess::DescribeExit(*code)
                                       << ": neither done nor cut (cannot reach " << server << ")\n"
                                       << cli.Describe();
}

// =============================================================================================
// kill -9 of the slsm
// =============================================================================================

class FaultSlsmKill : public ServerFaultTest {
 protected:
  bool AllConnected(const std::vector<std::string>& names) const {
    const json nodes = SlsmList({"nodes"}, "nodes");
    size_t up = 0;
    for (const auto& n : nodes) {
      if (n.value("connected", false) &&
          std::find(names.begin(), names.end(), n.value("name", "")) != names.end()) {
        ++up;
      }
    }
    return up == names.size();
  }

  // The "round" of echo's policy as the slsm has it; -1 if unknown.
  int PolicyRound() const {
    for (const auto& s : SlsmList({"services"}, "services")) {
      if (s.value("name", "") != "echo") continue;
      const json policy = ParseJsonOrNull(s.value("policy_json", ""));
      return policy.is_object() ? policy.value("round", 0) : -1;
    }
    return -1;
  }

  std::string SerialOf(const std::string& node) const {
    auto identity = ReadIdentityFile(IdentityPath(node, "echo"));
    if (!identity.ok()) return "";
    auto cert = pki::Certificate::FromPem(identity->chain_pem);
    return cert.ok() ? cert->SerialHex() : "";
  }
};

// kill -9 of the slsm in the middle of renewals (24 s lifetime: the nodes renew every 12-18 s
// and at once after each policy change) and of `slsm policy set` pushes, kCycles times, at
// random points. Two real nlsm serve processes run echo-service throughout. At least one kill
// must cut a push (its CLI refused with "cannot reach"), and the monitor must have sampled each
// node at least once per cycle.
TEST_F(FaultSlsmKill, KillNineDuringRenewalsAndPolicyPushesLosesNothingAndNothingExpires) {
  constexpr int kCycles = 8;
  const std::vector<std::string> names = {"n1", "n2"};
  ASSERT_NO_FATAL_FAILURE(StartStore());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("echo-service", "echo"));
  SiteServer& site = StartSite({{"cert_site_lifetime", "24s"}});
  ASSERT_TRUE(site.running());
  ProcessResult r = Slsm({"install", "echo"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  std::map<std::string, std::string> node_tokens;
  for (const auto& n : names) StartNode(n, &node_tokens[n]);
  ASSERT_FALSE(HasFailure());
  r = Slsm({"deploy", "echo", "--nodes", "n1,n2"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  for (const auto& n : names) {
    ASSERT_TRUE(WaitUntil([&] { return IsRunning(n, "echo"); }, seconds(30), milliseconds(100)))
        << n << " does not run echo\n"
        << nodes_.front()->log();
  }
  r = Slsm({"tokens", "create", "spare"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const std::string spare_token = Trim(r.out);
  // An uncut push (round 0) first: its duration, from the CLI's start to its exit, is the range
  // of the kills that aim at a push.
  ASSERT_TRUE(WriteWholeFile(Path("policy-0.json"), json{{"round", 0}}.dump()));
  const auto push_start = SteadyClock::now();
  r = Slsm({"policy", "set", "echo", "policy-0.json"});
  const milliseconds uncut_push = std::max(Since(push_start), milliseconds(1));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  // A monitor samples both nodes every 200 ms: the Cert_site serial each holds (every one must
  // be in the issuance log at the end) and whether an instance ever held an expired one.
  std::mutex mu;
  std::set<std::string> serials;                  // guarded by mu
  std::vector<std::string> violations;            // guarded by mu
  milliseconds min_margin = milliseconds::max();  // guarded by mu
  std::map<std::string, size_t> samples;          // per node; guarded by mu
  std::atomic<bool> stop{false};
  std::thread monitor([&] {
    while (!stop) {
      for (const auto& n : names) {
        // The time is read before the status: the status is at least as new, so a slow
        // `nlsm status` (a loaded machine) cannot make a certificate look expired.
        const auto now = std::chrono::system_clock::now();
        const auto asked = SteadyClock::now();
        const json i = InstanceStatus(n, "echo");
        const milliseconds took = Since(asked);
        const std::string serial = SerialOf(n);
        std::lock_guard lock(mu);
        if (!serial.empty()) serials.insert(serial);
        if (!i.is_object()) continue;
        ++samples[n];
        const std::string state = i.value("state", "");
        auto not_after = ParseTime(i.value("certificate_not_after", ""));
        if (state == "expired" || (not_after.ok() && now >= *not_after && state == "running")) {
          violations.push_back(n + " at " + FormatTime(now) + " (status in " +
                               std::to_string(took.count()) + " ms): " + i.dump());
        }
        if (not_after.ok()) {
          min_margin =
              std::min(min_margin, std::chrono::duration_cast<milliseconds>(*not_after - now));
        }
      }
      SleepMs(200);
    }
  });

  std::mt19937 rng(20261201);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int last_acked_round = 0, acked_pushes = 0, cut_pushes = 0;
  std::vector<milliseconds> reconnect;
  std::vector<std::string> late_tokens;
  for (int cycle = 1; cycle <= kCycles; ++cycle) {
    // A policy push in flight (it renews both instances at once) ...
    const std::string policy_file = "policy-" + std::to_string(cycle) + ".json";
    ASSERT_TRUE(WriteWholeFile(Path(policy_file), json{{"round", cycle}}.dump()));
    ChildProcess push;
    const std::string push_out = "push-" + std::to_string(cycle);
    ASSERT_TRUE(push.Start({Bin("slsm"), "policy", "set", "echo", policy_file, "--dir", "site"},
                           dir_.path(), Path(push_out + ".out"), Path(push_out + ".err")));
    // ... and the slsm killed at a random point of it (odd cycles: within the uncut push's
    // duration) or of the renewals it causes (even cycles: they are spread over the 1 s push
    // window).
    SleepMs(cycle % 2 == 1 ? uniform(0, static_cast<int>(uncut_push.count())) : uniform(150, 1500));
    ASSERT_TRUE(site.Stop(SIGKILL));
    ASSERT_TRUE(push.WaitForExit(seconds(30)).has_value()) << push.Describe();
    CliEnd end;
    ASSERT_TRUE(EndOfCli(push, "the site manager", &end)) << "cycle " << cycle;
    if (end == CliEnd::kDone) {
      last_acked_round = cycle;
      ++acked_pushes;
    } else {
      ++cut_pushes;
    }
    SleepMs(uniform(0, 1000));
    ASSERT_TRUE(site.Start());
    const auto restarted = SteadyClock::now();
    ASSERT_TRUE(WaitUntil([&] { return AllConnected(names); }, seconds(30), milliseconds(50)))
        << "the nodes did not reconnect after restart " << cycle << "\n"
        << site.log();
    reconnect.push_back(Since(restarted));

    // What was acknowledged is there: the policy (an unacknowledged push may or may not have
    // landed), both deployments.
    const int round = PolicyRound();
    EXPECT_GE(round, last_acked_round) << "cycle " << cycle;
    EXPECT_LE(round, cycle) << "cycle " << cycle;
    EXPECT_EQ(SlsmList({"instances"}, "instances").size(), 2u) << "cycle " << cycle;
    // A join token created now (acknowledged) must survive the next kills.
    r = Slsm({"tokens", "create", "late" + std::to_string(cycle)});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    late_tokens.push_back(Trim(r.out));
    SleepMs(uniform(500, 2500));
  }

  // After the last restart both instances renew once more, as usual.
  std::map<std::string, std::string> before;
  for (const auto& n : names) before[n] = SerialOf(n);
  for (const auto& n : names) {
    EXPECT_TRUE(WaitUntil([&] { return SerialOf(n) != before[n] && !SerialOf(n).empty(); },
                          seconds(40), milliseconds(200)))
        << n << " did not renew after the last restart\n"
        << site.log();
  }
  stop = true;
  monitor.join();
  for (const auto& n : names) {
    EXPECT_TRUE(IsRunning(n, "echo")) << n;
  }

  std::lock_guard lock(mu);
  // The kills landed where they aimed: at least one cut a push.
  EXPECT_GE(cut_pushes, 1) << "no kill of " << kCycles << " cut a policy push (uncut push "
                           << uncut_push.count() << " ms)";
  // The monitor ran all along: as many samples of each node as there were cycles at the least.
  // It takes one every 200 ms plus an `nlsm status` run (a second at the most under ASan on a
  // loaded machine), and a cycle lasts 2 s at the least (a restart, the reconnection, a pause of
  // 0.5-2.5 s), the last renewal up to 18 s more.
  for (const auto& n : names) {
    EXPECT_GE(samples[n], static_cast<size_t>(kCycles)) << "the monitor hardly sampled " << n;
  }
  EXPECT_NE(min_margin, milliseconds::max()) << "no sample had a certificate's notAfter";
  std::string logs;  // of the nodes with a violation
  for (const auto& node : nodes_) {
    if (std::any_of(violations.begin(), violations.end(),
                    [&](const std::string& v) { return v.rfind(node->dir() + " ", 0) == 0; })) {
      logs += "--- " + node->dir() + " log:\n" + node->log();
    }
  }
  EXPECT_TRUE(violations.empty()) << violations.size() << " samples with an expired certificate:\n"
                                  << (violations.empty() ? "" : violations.front()) << "\n"
                                  << logs;
  // Every Cert_site a node got an answer with is in the issuance log.
  r = Slsm({"issued", "--json", "--limit", "10000"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const json issued = ParseJsonOrNull(r.out);
  std::set<std::string> logged;
  if (issued.is_object() && issued.contains("entries")) {
    for (const auto& e : issued["entries"]) logged.insert(e.value("serial", ""));
  }
  for (const auto& serial : serials) {
    EXPECT_TRUE(logged.contains(serial)) << "Cert_site " << serial << " is not in the log";
  }
  EXPECT_GE(PolicyRound(), last_acked_round);
  const json instances = SlsmList({"instances"}, "instances");
  ASSERT_EQ(instances.size(), 2u) << instances.dump(2);
  // Join tokens: used ones stay used, the ones created between kills work.
  EXPECT_TRUE(Refused(
      Run(Bin("nlsm"), {"enroll", "--slsm", site.address(), "--token", node_tokens["n1"],
                        "--store-root", "store/root.pem", "--dir", "again", "--node", "n1"}),
      "UNAUTHENTICATED", "already used"));
  r = Enroll("spare", spare_token);
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  for (size_t i : {size_t{0}, late_tokens.size() - 1}) {
    r = Enroll("late" + std::to_string(i + 1), late_tokens[i]);
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  size_t all_samples = 0;
  for (const auto& [n, count] : samples) all_samples += count;
  std::cout << "[figure] slsm kill -9 cycles: " << kCycles << " (policy pushes acknowledged "
            << acked_pushes << ", cut " << cut_pushes << "; an uncut push took "
            << uncut_push.count() << " ms)\n"
            << "[figure] slsm restart to all " << names.size() << " nodes reconnected: p50 "
            << Percentile(reconnect, 0.5).count() << " ms, max "
            << Percentile(reconnect, 1.0).count() << " ms\n"
            << "[figure] Cert_site serials seen on the nodes and found in the issuance log: "
            << serials.size() << " of " << serials.size() << " (log holds " << logged.size()
            << " entries)\n"
            << "[figure] status samples: " << all_samples
            << ", with an expired certificate: " << violations.size()
            << ", smallest time left before notAfter: "
            << (min_margin == milliseconds::max() ? -1 : min_margin.count()) << " ms\n";
}

// kill -9 of the slsm while it downloads a 32 MiB package from the store (`slsm install`), at
// random points: after a restart there is no temporary file and no package that no release
// refers to, an acknowledged install is there, and a cut one installs when retried. At least
// one kill must cut an install (its CLI refused with "cannot reach") while the package was
// being written (a temporary file at the kill).
TEST_F(FaultSlsmKill, KillNineDuringInstallsLeavesNoPartialPackage) {
  constexpr int kCycles = 3;
  ASSERT_NO_FATAL_FAILURE(StartStore());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  for (int v = 1; v <= kCycles; ++v) {
    const std::string file = "big-" + std::to_string(v);
    ASSERT_NO_FATAL_FAILURE(MakeFile(file, 32ull << 20, 64 << 10, static_cast<uint32_t>(v)));
    ASSERT_NO_FATAL_FAILURE(Sign(file, "big", "1.0." + std::to_string(v), v));
    ProcessResult r = Publish(file, "big", "1.0." + std::to_string(v));
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }
  SiteServer& site = StartSite();
  ASSERT_TRUE(site.running());
  auto packages = [&] {
    std::set<std::string> out = Entries(Path("site/packages"));
    out.erase("tmp");
    return out;
  };
  auto referenced = [&] {
    std::string out;
    EXPECT_TRUE(Sqlite("site/slsm.db", "SELECT blob FROM releases", &out));
    std::set<std::string> names;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) names.insert(line);
    }
    return names;
  };
  auto installed = [&] {
    for (const auto& svc : SlsmList({"services"}, "services")) {
      if (svc.value("name", "") == "big" && svc.contains("release")) {
        return svc["release"].value("version", "");
      }
    }
    return std::string();
  };
  std::mt19937 rng(11);
  int acked = 0, cut = 0, committed_unacked = 0, writing_at_kill = 0;
  for (int v = 1; v <= kCycles; ++v) {
    const std::string version = "1.0." + std::to_string(v);
    ChildProcess install;
    const std::string out = "install-" + std::to_string(v);
    ASSERT_TRUE(install.Start({Bin("slsm"), "install", "big", version, "--dir", "site"},
                              dir_.path(), Path(out + ".out"), Path(out + ".err")));
    ASSERT_TRUE(
        WaitUntil([&] { return !Entries(Path("site/packages/tmp")).empty() || !install.running(); },
                  seconds(20)));
    SleepMs(std::uniform_int_distribution<int>(0, 300)(rng));
    ASSERT_TRUE(site.Stop(SIGKILL));
    if (!Entries(Path("site/packages/tmp")).empty()) ++writing_at_kill;
    ASSERT_TRUE(install.WaitForExit(seconds(30)).has_value()) << install.Describe();
    CliEnd end;
    ASSERT_TRUE(EndOfCli(install, "the site manager", &end)) << "cycle " << v;
    ASSERT_TRUE(site.Start());
    EXPECT_TRUE(Entries(Path("site/packages/tmp")).empty()) << "cycle " << v;
    EXPECT_EQ(packages(), referenced()) << "cycle " << v;
    if (end == CliEnd::kDone) {
      ++acked;
      EXPECT_EQ(installed(), version) << "an acknowledged install is lost";
    } else if (installed() == version) {
      ++committed_unacked;  // kept just before the kill, the answer lost
    } else {
      ++cut;
      ProcessResult r = Slsm({"install", "big", version});
      EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    }
    EXPECT_EQ(installed(), version);
    EXPECT_EQ(packages(), referenced()) << "cycle " << v;
  }
  std::cout << "[figure] slsm kill -9 during a 32 MiB install: " << kCycles << " kills, " << cut
            << " cut and installed again, " << committed_unacked
            << " kept before the answer was lost, " << acked << " acknowledged; " << writing_at_kill
            << " with the package being written at the kill; partial or orphan packages after "
               "restart: 0\n";
  // The kills landed where they aimed: in the middle of an install.
  EXPECT_GE(cut + committed_unacked, 1) << "no kill of " << kCycles << " cut an install";
  EXPECT_GE(writing_at_kill, 1) << "no kill of " << kCycles << " found the package being written";
}

// =============================================================================================
// kill -9 of the store
// =============================================================================================

class FaultStoreKill : public ServerFaultTest {
 protected:
  // Blob names on disk, and the blobs the store's database refers to.
  std::set<std::string> BlobFiles() const {
    std::set<std::string> out;
    for (const auto& name : Entries(Path("store/blobs"))) {
      if (name != "tmp") out.insert(name);
    }
    return out;
  }
  std::set<std::string> ReferencedBlobs() const {
    std::string out;
    EXPECT_TRUE(Sqlite("store/store.db", "SELECT blob FROM releases", &out));
    std::set<std::string> names;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) names.insert(line);
    }
    return names;
  }
  // The listed release of big <version>; null if none.
  json Listed(const std::string& version) const {
    for (const auto& r : Releases()) {
      if (r.value("name", "") == "big" && r.value("version", "") == version) return r;
    }
    return nullptr;
  }
};

// kill -9 of the store at a random point of a 32 MiB upload (before the first byte is stored,
// while bytes stream, around the commit), kCycles times; after each restart the blob directory
// matches the database exactly, every listed release is whole, and what was cut publishes again.
// At least one kill must cut a publish (devkit refused with "cannot reach the store") and at
// least one must find bytes streaming (a temporary upload file at the kill, swept at restart).
TEST_F(FaultStoreKill, KillNineDuringUploadsLeavesNoPartialReleaseAndNoOrphanBlob) {
  constexpr int kCycles = 6;
  constexpr uint64_t kBytes = 32ull << 20;
  ASSERT_NO_FATAL_FAILURE(StartStore());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  // An uncut upload first: it must survive every crash, and its duration sets the kill range.
  ASSERT_NO_FATAL_FAILURE(MakeFile("big-0", kBytes, 64 << 10, 0));
  ASSERT_NO_FATAL_FAILURE(Sign("big-0", "big", "1.0.0", 1));
  const auto t0 = SteadyClock::now();
  ProcessResult r = Publish("big-0", "big", "1.0.0");
  const milliseconds upload = Since(t0);
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  std::mt19937 rng(7);
  int acked = 0, committed_unacked = 0, cut = 0, leftovers_at_kill = 0;
  for (int cycle = 1; cycle <= kCycles; ++cycle) {
    const std::string file = "big-" + std::to_string(cycle);
    const std::string version = "1.0." + std::to_string(cycle);
    ASSERT_NO_FATAL_FAILURE(MakeFile(file, kBytes, 64 << 10, static_cast<uint32_t>(cycle)));
    ASSERT_NO_FATAL_FAILURE(Sign(file, "big", version, cycle + 1));
    ChildProcess publish;
    const std::string out = "publish-" + std::to_string(cycle);
    ASSERT_TRUE(publish.Start(PublishArgv(file, "big", version), dir_.path(), Path(out + ".out"),
                              Path(out + ".err")));
    SleepMs(std::uniform_int_distribution<int64_t>(0, upload.count() * 13 / 10)(rng));
    ASSERT_TRUE(store_->Stop(SIGKILL));
    if (!Entries(Path("store/blobs/tmp")).empty()) ++leftovers_at_kill;
    ASSERT_TRUE(publish.WaitForExit(seconds(60)).has_value()) << publish.Describe();
    CliEnd end;
    ASSERT_TRUE(EndOfCli(publish, "the store", &end)) << "cycle " << cycle;
    ASSERT_TRUE(store_->Start());

    // No temporary file, no blob that no release refers to, no release without its blob.
    EXPECT_TRUE(Entries(Path("store/blobs/tmp")).empty()) << "cycle " << cycle;
    EXPECT_EQ(BlobFiles(), ReferencedBlobs()) << "cycle " << cycle;
    EXPECT_TRUE(IntegrityOk("store/store.db"));
    const json listed = Listed(version);
    if (end == CliEnd::kDone) {
      ++acked;
      EXPECT_TRUE(listed.is_object()) << "an acknowledged publish is lost: " << version;
    } else {
      if (listed.is_object()) {
        ++committed_unacked;  // committed just before the kill, the answer lost: a retry says so
        ProcessResult again = Publish(file, "big", version);
        EXPECT_TRUE(Refused(again, "ALREADY_EXISTS", version));
      } else {
        ++cut;
        ProcessResult again = Publish(file, "big", version);
        EXPECT_EQ(again.exit_code, kExitOk) << again.Describe();
      }
    }
    // Whatever is listed is whole: its blob hashes to the digest it was signed with.
    const json now = Listed(version);
    ASSERT_TRUE(now.is_object()) << version << " is not listed after the retry";
    EXPECT_EQ(now.value("size", ""), std::to_string(kBytes));
    EXPECT_EQ(BlobFiles(), ReferencedBlobs()) << "cycle " << cycle;
  }
  // Every release downloads whole.
  for (int v = 0; v <= kCycles; ++v) {
    const std::string version = "1.0." + std::to_string(v);
    const std::string out = "dl-" + std::to_string(v);
    r = Devkit(AtStore({"download", "big", version, "--out-dir", out}));
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    auto got = pki::HashFile(pki::HashAlgorithm::kSha256, Path(out + "/big"));
    auto want = pki::HashFile(pki::HashAlgorithm::kSha256, Path("big-" + std::to_string(v)));
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_EQ(got->Hex(), want->Hex()) << version;
  }
  // The kills landed where they aimed: in the middle of a publish, and at least once while
  // bytes streamed; the startup sweep removed what that left.
  EXPECT_GE(cut + committed_unacked, 1) << "no kill of " << kCycles << " cut a publish";
  EXPECT_GE(leftovers_at_kill, 1) << "no kill of " << kCycles << " landed while bytes streamed";
  EXPECT_TRUE(Contains(store_->log(), "interrupted upload")) << "the startup sweep is not logged\n"
                                                             << store_->log();
  // The narrow window between a blob's rename into place and its release's commit, made by
  // hand: a complete blob that no release refers to, and a half-written upload.
  ASSERT_TRUE(store_->Stop(SIGKILL));
  const std::string orphan = "sha256-" + std::string(64, 'a');
  ASSERT_TRUE(WriteWholeFile(Path("store/blobs/" + orphan), "orphan"));
  ASSERT_TRUE(WriteWholeFile(Path("store/blobs/tmp/upload-Xy12Zw"), "half"));
  ASSERT_TRUE(store_->Start());
  EXPECT_EQ(BlobFiles(), ReferencedBlobs());
  EXPECT_TRUE(Entries(Path("store/blobs/tmp")).empty());
  EXPECT_TRUE(Contains(store_->log(), "removed orphan blob") && Contains(store_->log(), orphan))
      << store_->log();
  EXPECT_EQ(Releases().size(), static_cast<size_t>(kCycles + 1));
  std::cout << "[figure] store kill -9 during a 32 MiB upload: " << kCycles
            << " kills (uncut upload " << upload.count() << " ms; kill at 0-130 % of it): " << cut
            << " cut and published again, " << committed_unacked
            << " committed before the answer was lost, " << acked
            << " acknowledged; temporary files left by the kill and swept at restart: "
            << leftovers_at_kill << "; orphan blobs after restart: 0\n";
}

// =============================================================================================
// full disk, read-only state directory
// =============================================================================================

class FaultDisk : public ServerFaultTest {
 protected:
  // Mounts a tmpfs of `size` on <test dir>/disk; false, with the reason, if not permitted.
  bool MountDisk(const std::string& size) { return MountTmpfs(Path("disk"), size, &why_); }
  std::string why_;
  // Fills the rest of the mounted disk with <disk>/filler.
  void FillDisk() {
    const std::string filler = Path("disk/filler");
    std::string block(1 << 16, 'x');
    FILE* f = std::fopen(filler.c_str(), "w");
    ASSERT_NE(f, nullptr);
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
    }
    // Then the last partial block, byte by byte.
    while (std::fwrite("x", 1, 1, f) == 1 && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }
};

// The store's state directory on a 2 MiB tmpfs: an upload that does not fit and a token that
// cannot be written are refused with RESOURCE_EXHAUSTED naming the cause; the store stays up,
// its database intact; once there is room the same calls succeed, without a restart.
TEST_F(FaultDisk, StoreOnAFullDiskRefusesClearlyAndRecoversWithoutARestart) {
  if (!MountDisk("2m")) GTEST_SKIP() << why_;
  ASSERT_NO_FATAL_FAILURE(StartStore("disk/store"));
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("hello", "hello"));
  ASSERT_NO_FATAL_FAILURE(MakeFile("wide", 3 << 20, 3 << 20, 1));  // 3 MiB of random bytes
  ASSERT_NO_FATAL_FAILURE(Sign("wide", "wide", "1.0.0", 1));

  ProcessResult r = Publish("wide", "wide", "1.0.0");
  EXPECT_TRUE(Refused(r, "RESOURCE_EXHAUSTED", "No space left on device"));
  EXPECT_TRUE(store_->running()) << store_->log();
  EXPECT_TRUE(Entries(Path("disk/store/blobs/tmp")).empty());
  EXPECT_TRUE(IntegrityOk("disk/store/store.db"));
  ASSERT_EQ(Releases().size(), 1u);
  r = Devkit(AtStore({"download", "hello", "--out-dir", "dl"}));
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();

  // The database cannot grow either: an admin call is refused, not half-done.
  ASSERT_NO_FATAL_FAILURE(FillDisk());
  ProcessResult token;
  for (int i = 0; i < 200; ++i) {
    token = Store({"tokens", "create", "--dir", "disk/store", "--note", std::string(800, 'n')});
    if (token.exit_code != kExitOk) break;
  }
  EXPECT_TRUE(Refused(token, "RESOURCE_EXHAUSTED", "full"));
  EXPECT_TRUE(store_->running()) << store_->log();

  // Space back: the same calls succeed on the same server.
  std::filesystem::remove(Path("disk/filler"));
  ASSERT_TRUE(Remount(Path("disk"), "size=16m"));
  token = Store({"tokens", "create", "--dir", "disk/store", "--note", "after"});
  EXPECT_EQ(token.exit_code, kExitOk) << token.Describe();
  r = Publish("wide", "wide", "1.0.0");
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(Releases().size(), 2u);
  EXPECT_TRUE(IntegrityOk("disk/store/store.db"));
  std::cout << "[figure] store on a full 2 MiB tmpfs: publish of 3 MiB refused "
               "RESOURCE_EXHAUSTED, token refused after a full disk, both succeed after the "
               "remount without a restart\n";
}

// The slsm's state directory on a 2 MiB tmpfs: an install that does not fit and a join token
// that cannot be written are refused with RESOURCE_EXHAUSTED; the slsm stays up, its database
// intact, earlier installs and issuances there; once there is room both succeed.
TEST_F(FaultDisk, SlsmOnAFullDiskRefusesClearlyAndRecoversWithoutARestart) {
  if (!MountDisk("2m")) GTEST_SKIP() << why_;
  ASSERT_NO_FATAL_FAILURE(StartStore());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("hello", "hello"));
  ASSERT_NO_FATAL_FAILURE(MakeFile("wide", 3 << 20, 3 << 20, 2));
  ASSERT_NO_FATAL_FAILURE(Sign("wide", "wide", "1.0.0", 1));
  ProcessResult r = Publish("wide", "wide", "1.0.0");
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  SiteServer& site = StartSite({}, "disk/site");
  ASSERT_TRUE(site.running());
  r = Slsm({"install", "hello"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Slsm({"tokens", "create", "n1"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Enroll("n1", Trim(r.out));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  r = Slsm({"install", "wide"});
  EXPECT_TRUE(Refused(r, "RESOURCE_EXHAUSTED", "No space left on device"));
  EXPECT_TRUE(site.running()) << site.log();
  EXPECT_TRUE(Entries(Path("disk/site/packages/tmp")).empty());
  EXPECT_TRUE(IntegrityOk("disk/site/slsm.db"));
  EXPECT_EQ(SlsmList({"services"}, "services").size(), 1u);

  ASSERT_NO_FATAL_FAILURE(FillDisk());
  ProcessResult token;
  for (int i = 0; i < 200; ++i) {
    token = Slsm({"tokens", "create", "node-" + std::to_string(i) + std::string(50, 'x')});
    if (token.exit_code != kExitOk) break;
  }
  EXPECT_TRUE(Refused(token, "RESOURCE_EXHAUSTED", "full"));
  EXPECT_TRUE(site.running()) << site.log();

  std::filesystem::remove(Path("disk/filler"));
  ASSERT_TRUE(Remount(Path("disk"), "size=16m"));
  r = Slsm({"install", "wide"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Slsm({"tokens", "create", "n2"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(SlsmList({"services"}, "services").size(), 2u);
  r = Slsm({"issued", "--json"});
  EXPECT_TRUE(Contains(r.out, "\"node\"")) << "n1's node certificate is missing\n" << r.Describe();
  EXPECT_TRUE(IntegrityOk("disk/site/slsm.db"));
  std::cout << "[figure] slsm on a full 2 MiB tmpfs: install of 3 MiB refused "
               "RESOURCE_EXHAUSTED, token refused after a full disk, both succeed after the "
               "remount without a restart\n";
}

// A read-only state directory: neither server starts, each says why; once writable again they
// start with everything they had.
TEST_F(FaultDisk, ReadOnlyStateDirectoryIsRefusedAtStartWithTheReason) {
  if (!MountDisk("16m")) GTEST_SKIP() << why_;
  ASSERT_NO_FATAL_FAILURE(StartStore("disk/store"));
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("hello", "hello"));
  SiteServer& site = StartSite({}, "disk/site");
  ASSERT_TRUE(site.running());
  ProcessResult r = Slsm({"install", "hello"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  ASSERT_TRUE(site.Stop(SIGTERM));
  ASSERT_TRUE(store_->Stop(SIGTERM));

  ASSERT_TRUE(Remount(Path("disk"), "ro"));
  r = Store({"serve", "--dir", "disk/store", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "Read-only file system") && Contains(r.err, "disk/store"))
      << r.Describe();
  r = Run(Bin("slsm"), {"serve", "--dir", "disk/site"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "Read-only file system") && Contains(r.err, "disk/site"))
      << r.Describe();

  ASSERT_TRUE(Remount(Path("disk"), "rw"));
  ASSERT_TRUE(store_->Start());
  ASSERT_TRUE(site.Start());
  EXPECT_EQ(Releases().size(), 1u);
  EXPECT_EQ(SlsmList({"services"}, "services").size(), 1u);
  EXPECT_TRUE(IntegrityOk("disk/store/store.db"));
  EXPECT_TRUE(IntegrityOk("disk/site/slsm.db"));
}

// The store's blob directory (its own tmpfs) turns read-only while the store serves: uploads are
// refused with PERMISSION_DENIED naming the cause, downloads and the catalog keep working, and
// once it is writable again the same upload succeeds without a restart.
TEST_F(FaultDisk, BlobDirectoryTurnedReadOnlyWhileServingRefusesUploadsThenRecovers) {
  ProcessResult r = Store({"init", "--dir", "store", "--name", "Store store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  if (!MountTmpfs(Path("store/blobs"), "16m", &why_)) GTEST_SKIP() << why_;
  store_ = std::make_unique<StoreServer>(Bin("store"), dir_.path(), "store");
  ASSERT_TRUE(store_->Start());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("hello", "hello"));
  ASSERT_NO_FATAL_FAILURE(MakeFile("wide", 1 << 20, 1 << 20, 3));
  ASSERT_NO_FATAL_FAILURE(Sign("wide", "wide", "1.0.0", 1));

  ASSERT_TRUE(Remount(Path("store/blobs"), "ro"));
  r = Publish("wide", "wide", "1.0.0");
  EXPECT_TRUE(Refused(r, "PERMISSION_DENIED", "Read-only file system"));
  EXPECT_TRUE(store_->running()) << store_->log();
  r = Devkit(AtStore({"download", "hello", "--out-dir", "dl"}));
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(Releases().size(), 1u);

  ASSERT_TRUE(Remount(Path("store/blobs"), "rw"));
  r = Publish("wide", "wide", "1.0.0");
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(Releases().size(), 2u);
  EXPECT_TRUE(IntegrityOk("store/store.db"));
}

// =============================================================================================
// corrupted files
// =============================================================================================

class FaultCorruption : public ServerFaultTest {
 protected:
  // Flips the first 16 bytes (the b-tree page header) of the root page of `table` in `db`.
  void CorruptTable(const std::string& db, const std::string& table) {
    std::string page_size, root;
    ASSERT_TRUE(Sqlite(db, "PRAGMA page_size", &page_size));
    ASSERT_TRUE(
        Sqlite(db, "SELECT rootpage FROM sqlite_master WHERE name = '" + table + "'", &root));
    ASSERT_FALSE(root.empty()) << "no table " << table << " in " << db;
    ASSERT_FALSE(std::filesystem::exists(Path(db + "-wal")) &&
                 std::filesystem::file_size(Path(db + "-wal")) > 0)
        << "the WAL of " << db << " was not checkpointed";
    ASSERT_TRUE(FlipBytes(Path(db), (std::stoull(root) - 1) * std::stoull(page_size), 16));
  }

  // Replaces one base64 character in the middle of a PEM key file's body by another, so that
  // the file still decodes but holds other bytes (`structural` false), or breaks the encoding.
  void CorruptPem(const std::string& file, bool structural) {
    std::string pem = ReadWholeFile(Path(file));
    const size_t body = pem.find('\n') + 1;
    const size_t end = pem.find("-----END");
    ASSERT_NE(end, std::string::npos);
    const size_t at = structural ? body + 2 : body + (end - body) * 3 / 4;
    pem[at] = structural ? '*' : (pem[at] == 'A' ? 'B' : 'A');
    ASSERT_TRUE(WriteWholeFile(Path(file), pem));
    ASSERT_EQ(::chmod(Path(file).c_str(), 0600), 0);
  }
};

TEST_F(FaultCorruption, StoreDatabaseWithFlippedBytesIsRefusedAtStartNamingTheFile) {
  ASSERT_NO_FATAL_FAILURE(StartStore());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("hello", "hello"));
  ASSERT_TRUE(store_->Stop(SIGTERM));
  // A damaged page deep in the file (quick_check at open finds it) ...
  ASSERT_NO_FATAL_FAILURE(CorruptTable("store/store.db", "releases"));
  const auto start = SteadyClock::now();
  ProcessResult r = Store({"serve", "--dir", "store", "--listen", "127.0.0.1:0"});
  const milliseconds refused = Since(start);
  EXPECT_TRUE(Refused(r, "DATA_LOSS", "store/store.db")) << store_->log();
  std::cout << "[figure] store serve on a store.db with a damaged page: refused DATA_LOSS in "
            << refused.count() << " ms (quick_check at open)\n";
  // ... and a damaged header (not a database any more).
  ASSERT_TRUE(FlipBytes(Path("store/store.db"), 0, 16));
  r = Store({"serve", "--dir", "store", "--listen", "127.0.0.1:0"});
  EXPECT_TRUE(Refused(r, "DATA_LOSS", "store/store.db"));
}

TEST_F(FaultCorruption, SlsmDatabaseWithFlippedBytesIsRefusedAtStartNamingTheFile) {
  ASSERT_NO_FATAL_FAILURE(StartStore());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("hello", "hello"));
  SiteServer& site = StartSite();
  ASSERT_TRUE(site.running());
  ProcessResult r = Slsm({"install", "hello"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  ASSERT_TRUE(site.Stop(SIGTERM));
  std::string tables;
  ASSERT_TRUE(Sqlite("site/slsm.db", "SELECT name FROM sqlite_master WHERE type='table'", &tables));
  ASSERT_NO_FATAL_FAILURE(CorruptTable("site/slsm.db", "services"));
  const auto start = SteadyClock::now();
  r = Run(Bin("slsm"), {"serve", "--dir", "site"});
  const milliseconds refused = Since(start);
  EXPECT_TRUE(Refused(r, "DATA_LOSS", "site/slsm.db")) << tables;
  std::cout << "[figure] slsm serve on a slsm.db with a damaged page: refused DATA_LOSS in "
            << refused.count() << " ms (quick_check at open)\n";
}

// A byte flipped in a stored package: the store never serves it as the release (download and
// the slsm's install are refused with DATA_LOSS naming the blob), and keeps serving the rest.
TEST_F(FaultCorruption, PackageBlobWithAFlippedByteIsNeverServed) {
  ASSERT_NO_FATAL_FAILURE(StartStore());
  ASSERT_NO_FATAL_FAILURE(RegisterAlice());
  ASSERT_NO_FATAL_FAILURE(PublishProgram("hello", "hello"));
  ASSERT_NO_FATAL_FAILURE(PublishProgram("echo-service", "echo"));
  const json releases = Releases();
  ASSERT_EQ(releases.size(), 2u);
  std::string blob;
  for (const auto& rel : releases) {
    if (rel.value("name", "") == "echo") blob = rel.value("blob", "");
  }
  if (blob.empty()) {  // the catalog may not show blob names: the database does
    ASSERT_TRUE(Sqlite("store/store.db", "SELECT blob FROM releases WHERE name = 'echo'", &blob));
  }
  ASSERT_FALSE(blob.empty());
  const std::string path = Path("store/blobs/" + blob);
  ASSERT_TRUE(FlipBytes(path, std::filesystem::file_size(path) / 2, 1));

  ProcessResult r = Devkit(AtStore({"download", "echo", "--out-dir", "dl"}));
  EXPECT_TRUE(Refused(r, "DATA_LOSS", blob));
  EXPECT_FALSE(std::filesystem::exists(Path("dl/echo-service")) ||
               std::filesystem::exists(Path("dl/echo")));
  SiteServer& site = StartSite();
  ASSERT_TRUE(site.running());
  r = Slsm({"install", "echo"});
  EXPECT_TRUE(Refused(r, "DATA_LOSS", blob));
  EXPECT_TRUE(SlsmList({"services"}, "services").empty());
  // The rest is served.
  EXPECT_TRUE(store_->running());
  r = Slsm({"install", "hello"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

// A flipped byte in the site CA's key or the store's key: the server refuses to start and names
// the file, whether the PEM no longer decodes or decodes to another key.
TEST_F(FaultCorruption, CaKeyFilesWithFlippedBytesMakeTheServersRefuseToStart) {
  ASSERT_NO_FATAL_FAILURE(StartStore());
  SiteServer& site = StartSite();
  ASSERT_TRUE(site.running());
  ASSERT_TRUE(site.Stop(SIGTERM));
  ASSERT_TRUE(store_->Stop(SIGTERM));
  const std::string site_key = ReadWholeFile(Path("site/root.key"));
  const std::string store_key = ReadWholeFile(Path("store/root.key"));
  for (bool structural : {false, true}) {
    SCOPED_TRACE(structural ? "PEM encoding broken" : "other key bytes");
    ASSERT_NO_FATAL_FAILURE(CorruptPem("site/root.key", structural));
    ProcessResult r = Run(Bin("slsm"), {"serve", "--dir", "site"});
    EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "site/root.key")) << r.Describe();
    ASSERT_NO_FATAL_FAILURE(CorruptPem("store/root.key", structural));
    r = Store({"serve", "--dir", "store", "--listen", "127.0.0.1:0"});
    EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "store/root.key")) << r.Describe();
    ASSERT_TRUE(WriteWholeFile(Path("site/root.key"), site_key));
    ASSERT_TRUE(WriteWholeFile(Path("store/root.key"), store_key));
    ASSERT_EQ(::chmod(Path("site/root.key").c_str(), 0600), 0);
    ASSERT_EQ(::chmod(Path("store/root.key").c_str(), 0600), 0);
  }
  // The intact keys work again.
  ASSERT_TRUE(store_->Start());
  site.config()["store"] = store_->address();
  EXPECT_TRUE(site.Start());
}

}  // namespace
}  // namespace sitechain::testutil
