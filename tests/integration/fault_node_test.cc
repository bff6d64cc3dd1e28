// Node-side fault scenarios (issue 7), with real `store serve`, `slsm serve` and `nlsm serve`
// processes running examples/echo-service (the NlsmTest fixture of nlsm_fixture.h):
//
//   FaultNodeCutOff        a node behind a TCP proxy (tcp_proxy.h) that blackholes its link for
//                          longer than the certificate lifetime: it notices the dead link, its
//                          service stops at notAfter (fail closed), and after the heal (only new
//                          connections pass: the old ones stay dead) it renews and runs again;
//                          the node beside it is not disturbed.
//   FaultRevocationBound   a revocation at the store (devkit revoke) with two of four nodes cut
//                          off (one blackholed, one refused): stopped everywhere within one
//                          lifetime plus the skew allowance; never running again after the heal.
//                          And on a cut-off node whose clock is 50 s behind (libfaketime): it
//                          runs 50 s past notAfter, still within the lifetime plus the skew.
//   FaultClockSkew         nodes whose clock is off (nlsm serve under libfaketime): within the
//                          allowance they run and renew; beyond it a coded error naming the
//                          clock, and nothing runs.
//   FaultNodeDisk          the state directory on a small tmpfs, filled up, then read-only (a
//                          read-only bind mount): clear errors, nothing damaged, recovery.
//   FaultNodeCorruption    flipped bytes in an instance's state record, a package blob, an
//                          instance key and the node key: detected, reported with the file,
//                          never used; what a fresh deploy cures is fetched again.
//
// Every figure is printed on a line starting with "[figure] ". A service's stop is timed by
// watching its process in /proc (cheap), not by `nlsm status` runs (slow under ASan); bounds
// on it allow what a loaded 2-core machine under the sanitizers needs (kStopAfterNotAfter).
// Waits for renewals wait for the renewals, with generous deadlines, not for a fixed time.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/time_format.h"
#include "tests/integration/nlsm_fixture.h"
#include "tests/integration/tcp_proxy.h"

namespace sitechain::testutil {
namespace {

using Clock = std::chrono::system_clock;

// A node that finds a dead link quickly: keepalive pings after 2 s of silence, answered within
// 2 s; one connection attempt may take 3 s.
json FastLinkConfig() {
  return {{"keepalive_time", "2s"}, {"keepalive_timeout", "2s"}, {"connect_timeout", "3s"}};
}

long long Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// The clock-skew allowance of the nodes' verifier (nlsm config `clock_skew`, the default of
// pki/verifier.h; docs/resilience.md's S): a node accepts a notBefore up to this far in its
// future, and a revocation reaches a cut-off node within one lifetime plus this.
constexpr seconds kSkew(60);

// How long after its Cert_site's notAfter a cut-off node's service may still be alive. The node's
// own part is 2.2 s at the most: its loop wakes at the next notAfter and at least every second
// (NodeManager::Loop), a renewal call may hold the loop up to 200 ms past notAfter (the floor of
// Renewer::Renew's budget), and the service gets stop_grace (1 s, NodeConfig) between SIGTERM and
// SIGKILL. The rest is for a loaded 2-core machine under ASan, where waking the loop, the
// signals and the exit of a sanitized service each take longer.
constexpr milliseconds kStopAfterNotAfter(5000);

// Waits until `pid` is gone (polling /proc every 20 ms; cheap, so the time is the stop's, not a
// status run's) or `deadline` passes. The wall-clock time it was first seen gone; nullopt if it
// still runs. *alive_before, if given, counts the samples that saw it alive before `before`.
std::optional<Clock::time_point> WaitForGone(pid_t pid, milliseconds deadline,
                                             Clock::time_point before = {},
                                             int* alive_before = nullptr) {
  std::optional<Clock::time_point> gone;
  WaitUntil(
      [&] {
        const auto now = Clock::now();
        if (!Alive(pid)) {
          gone = now;
          return true;
        }
        if (alive_before != nullptr && now < before) ++*alive_before;
        return false;
      },
      deadline, milliseconds(20));
  return gone;
}

milliseconds TimeUntil(Clock::time_point t) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(t - Clock::now()));
}

// Fixture of every suite here: the site and node fixture plus mounts that TearDown undoes.
class FaultNodeTest : public NlsmTest {
 protected:
  void TearDown() override {
    NlsmTest::TearDown();
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      if (::umount2(it->c_str(), MNT_DETACH) != 0) {
        ADD_FAILURE() << "cannot unmount " << *it << ": " << std::strerror(errno);
      }
    }
    mounts_.clear();
  }

  // The node's status entry of `service` and whether a process of it runs.
  bool Runs(const std::string& node, const std::string& service) {
    return StateOf(InstanceStatus(node, service)) == "running" &&
           !InstanceProcesses(node, service).empty();
  }
  bool Connected(const std::string& node) {
    const json s = NodeStatus(node);
    return s.is_object() && s.value("connected", false);
  }

  // A script that runs nlsm with its clock shifted by `offset` (libfaketime's FAKETIME syntax,
  // e.g. "+30s", "-300s"); only the wall clock: gRPC's timers use the monotonic one.
  std::string FaketimeNlsm(const std::string& name, const std::string& offset) {
    std::string lib;
    for (const char* candidate : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                                  "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
                                  "/usr/lib/faketime/libfaketimeMT.so.1"}) {
      if (std::filesystem::exists(candidate)) lib = candidate;
    }
    if (lib.empty()) return "";
    const std::string script = Path(name + ".sh");
    WriteWholeFile(script, "#!/bin/sh\nLD_PRELOAD=" + lib + " FAKETIME='" + offset +
                               "' FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1 exec " +
                               Bin("nlsm") + " \"$@\"\n");
    ::chmod(script.c_str(), 0755);
    return script;
  }

  // As root: a tmpfs of `size` at path (created). False, with why, if the mount is refused.
  bool MountTmpfs(const std::string& path, const std::string& size, std::string* why) {
    std::filesystem::create_directories(path);
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      *why = std::string("mount tmpfs: ") + std::strerror(errno);
      return false;
    }
    mounts_.push_back(path);
    return true;
  }
  // A read-only bind mount of path over itself (open files keep writing; new writes fail).
  bool MountReadOnly(const std::string& path, std::string* why) {
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      *why = std::string("bind mount: ") + std::strerror(errno);
      return false;
    }
    mounts_.push_back(path);
    if (::mount(nullptr, path.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      *why = std::string("remount read-only: ") + std::strerror(errno);
      return false;
    }
    return true;
  }
  void Unmount(const std::string& path) {
    ASSERT_EQ(::umount2(path.c_str(), 0), 0) << path << ": " << std::strerror(errno);
    auto it = std::find(mounts_.rbegin(), mounts_.rend(), path);
    if (it != mounts_.rend()) mounts_.erase(std::next(it).base());
  }

  std::vector<std::string> mounts_;  // innermost last
};

// Fills the file system of `path` (a new file there) until it has no byte left.
void FillUp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path << ": " << std::strerror(errno);
  std::setvbuf(f, nullptr, _IONBF, 0);
  std::string block(64 << 10, 'x');
  for (size_t size = block.size(); size > 0; size /= 2) {
    while (std::fwrite(block.data(), 1, size, f) == size) {
    }
    std::clearerr(f);
  }
  std::fclose(f);
}

// Replaces `path` by a copy with byte `at` changed (a new inode: the running executable of a
// package keeps its own; what an attacker with write access to the directory would do). For a
// PEM file, `at` counts in the base64 body and the byte stays a base64 letter.
void FlipByte(const std::string& path, size_t at, bool keep_base64 = false) {
  std::string bytes = ReadWholeFile(path);
  ASSERT_FALSE(bytes.empty()) << path;
  size_t pos = at;
  if (keep_base64) {
    const size_t body = bytes.find('\n') + 1;
    pos = body + at;
    ASSERT_LT(pos, bytes.find("-----END")) << path;
    bytes[pos] = bytes[pos] == 'A' ? 'B' : 'A';
  } else {
    ASSERT_LT(pos, bytes.size()) << path;
    bytes[pos] = static_cast<char>(bytes[pos] ^ 0x20);
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  const std::string tmp = path + ".flipped";
  ASSERT_TRUE(WriteWholeFile(tmp, bytes));
  ASSERT_EQ(::chmod(tmp.c_str(), st.st_mode & 07777), 0);
  ASSERT_EQ(::rename(tmp.c_str(), path.c_str()), 0) << std::strerror(errno);
}

// --- a node cut off for longer than the lifetime ---------------------------------------------

class FaultNodeCutOff : public FaultNodeTest {};

TEST_F(FaultNodeCutOff, DeadLinkLongerThanTheLifetimeFailsClosedAndRecoversOthersUndisturbed) {
  StartSite({{"cert_site_lifetime", "15s"}});
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  TcpProxy proxy(site().port());
  ASSERT_NE(proxy.port(), 0);
  StartNode("cut", FastLinkConfig(), proxy.address());
  StartNode("calm", FastLinkConfig());
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "cut,calm"));
  const json calm_before = WaitForRunning("calm", "echo");
  WaitForRunning("cut", "echo");
  ASSERT_TRUE(WaitUntil([&] { return Connected("cut"); }, kStateDeadline, kPoll));

  // A dead link: the node's open connection and every new one see silence.
  proxy.SetMode(TcpProxy::Mode::kBlackhole);
  const auto cut = Clock::now();
  const SteadyTime cut_steady = std::chrono::steady_clock::now();
  const size_t calm_log_at_cut = Node("calm").log().size();
  const json calm_at_cut = InstanceStatus("calm", "echo");
  // (The status is published once a second; no renewal can pass the proxy any more.)
  std::this_thread::sleep_for(milliseconds(1500));
  const json at_cut = InstanceStatus("cut", "echo");
  const TimePoint not_after = NotAfter(at_cut);
  const pid_t pid = at_cut.value("pid", 0);
  ASSERT_GT(pid, 0) << at_cut.dump();
  ASSERT_EQ(StateOf(at_cut), "running") << at_cut.dump();

  // It notices: the stream's missing heartbeat answers end it.
  ASSERT_TRUE(WaitUntil([&] { return !Connected("cut"); }, seconds(15), kPoll))
      << Node("cut").log();
  const milliseconds noticed = Since(cut_steady);
  std::cout << "[figure] cut-off node: dead link noticed (status not connected) after "
            << noticed.count() << " ms (heartbeat 1 s, keepalive 2 s + 2 s)\n";

  // Runs until notAfter, then stops (fail closed), however dead the link.
  int alive_before_expiry = 0;
  const std::optional<TimePoint> stopped_at =
      WaitForGone(pid, TimeUntil(not_after) + kStopAfterNotAfter + seconds(30), not_after,
                  &alive_before_expiry);
  ASSERT_TRUE(stopped_at.has_value())
      << "still running long after its notAfter " << FormatTime(not_after) << "\n"
      << InstanceStatus("cut", "echo").dump(2) << Node("cut").log();
  EXPECT_GT(alive_before_expiry, 0) << "never seen running before its notAfter";
  const long long after_expiry = Ms(*stopped_at - not_after);
  EXPECT_GE(after_expiry, 0) << "stopped before notAfter\n" << Node("cut").log();
  std::cout << "[figure] cut-off node: service stopped " << after_expiry
            << " ms after its Cert_site's notAfter " << FormatTime(not_after)
            << " (its process watched every 20 ms)\n";
  EXPECT_LE(after_expiry, kStopAfterNotAfter.count()) << Node("cut").log();
  const json expired = WaitForInstance("cut", "echo", "expired");
  EXPECT_EQ(FormatTime(NotAfter(expired)), FormatTime(not_after))
      << "a renewal passed the blackhole";
  EXPECT_TRUE(InstanceProcesses("cut", "echo").empty());
  EXPECT_TRUE(Contains(Node("cut").log(), "without renewal; stopped (fail closed)"))
      << Node("cut").log();

  // Cut for longer than a lifetime; then the link heals, but the connections that were open
  // stay dead: the node must dial again by itself.
  WaitUntil([&] { return Clock::now() > cut + seconds(17); }, seconds(30), kPoll);
  // The node beside it renewed during the cut (longer than its lifetime) and still runs the
  // same process.
  const json calm_at_heal = InstanceStatus("calm", "echo");
  EXPECT_EQ(StateOf(calm_at_heal), "running") << calm_at_heal.dump();
  EXPECT_EQ(calm_at_heal.value("pid", 0), calm_before.value("pid", -1)) << calm_at_heal.dump();
  EXPECT_GT(Ms(NotAfter(calm_at_heal) - NotAfter(calm_at_cut)), 0)
      << "not renewed during the cut: " << calm_at_heal.dump();
  const size_t calm_renewals_in_cut =
      Count(Node("calm").log().substr(calm_log_at_cut), "renewed echo: Cert_site");
  const SteadyTime healed = std::chrono::steady_clock::now();
  proxy.HealForNewConnectionsOnly();
  const json back = WaitForInstance("cut", "echo", "running", seconds(60), [&](const json& i) {
    return i.value("pid", 0) > 0 && NotAfter(i) > not_after;
  });
  const milliseconds to_running = Since(healed);
  std::cout << "[figure] cut-off node: heal to the service running again: " << to_running.count()
            << " ms (cut " << Ms(Clock::now() - cut) / 1000 << " s, lifetime 15 s)\n";
  EXPECT_LT(to_running, seconds(30)) << Node("cut").log();
  EXPECT_EQ(InstanceProcesses("cut", "echo"), std::vector<pid_t>{back.value("pid", 0)});

  // The node beside it ran all along: the same process, never restarted, renewing on. (Wait
  // for a second renewal since the cut if the loaded machine has not had it yet: it renews at
  // 50-75 % of its 15 s lifetime.)
  size_t calm_renewals = 0;
  EXPECT_TRUE(WaitUntil(
      [&] {
        calm_renewals =
            Count(Node("calm").log().substr(calm_log_at_cut), "renewed echo: Cert_site");
        return calm_renewals >= 2;
      },
      seconds(45), kPoll))
      << "the undisturbed node renewed " << calm_renewals << " times since the cut\n"
      << Node("calm").log();
  const json calm = InstanceStatus("calm", "echo");
  EXPECT_EQ(StateOf(calm), "running") << calm.dump();
  EXPECT_EQ(calm.value("pid", 0), calm_before.value("pid", -1)) << calm.dump();
  EXPECT_EQ(calm.value("restarts", -1), 0) << calm.dump();
  EXPECT_GE(Ms(NotAfter(calm) - NotAfter(calm_at_heal)), 0) << calm.dump();
  EXPECT_FALSE(Contains(Node("calm").log(), "stopped")) << Node("calm").log();
  // Its keepalive pings (every 2 s) never cost it its stream (a server that finds pings too
  // frequent ends the connection with GOAWAY).
  EXPECT_FALSE(Contains(Node("calm").log(), "the command stream")) << Node("calm").log();
  std::cout << "[figure] undisturbed node: renewed " << calm_renewals_in_cut
            << " times during the cut (" << calm_renewals << " since it), 0 restarts\n";
}

// --- revocation with nodes cut off -------------------------------------------------------------

class FaultRevocationBound : public FaultNodeTest {};

TEST_F(FaultRevocationBound, RevokedReleaseStopsOnEveryNodeWithinOneLifetimePlusSkew) {
  const seconds lifetime(15);
  const seconds skew = kSkew;
  StartSite({{"cert_site_lifetime", "15s"}});
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  TcpProxy dark(site().port()), refusing(site().port());
  ASSERT_NE(dark.port(), 0);
  ASSERT_NE(refusing.port(), 0);
  StartNode("n1", FastLinkConfig());
  StartNode("n2", FastLinkConfig());
  StartNode("dark", FastLinkConfig(), dark.address());
  StartNode("refusing", FastLinkConfig(), refusing.address());
  const std::vector<std::string> names = {"n1", "n2", "dark", "refusing"};
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "n1,n2,dark,refusing"));
  for (const auto& n : names) WaitForRunning(n, "echo");

  dark.SetMode(TcpProxy::Mode::kBlackhole);
  refusing.SetMode(TcpProxy::Mode::kRefuse);
  std::this_thread::sleep_for(milliseconds(1500));  // no renewal passes any more
  std::map<std::string, TimePoint> not_after;
  std::map<std::string, pid_t> pid;
  for (const auto& n : names) {
    const json i = InstanceStatus(n, "echo");
    not_after[n] = NotAfter(i);
    pid[n] = i.value("pid", 0);
    ASSERT_TRUE(StateOf(i) == "running" && pid[n] > 0) << n << ": " << i.dump();
  }

  const auto revoked = Clock::now();
  ProcessResult r =
      Devkit({"revoke", "echo", "1.0.0", "--reason", "malware report", "--store", store_->address(),
              "--store-root", "store/root.pem", "--cert", "alice.pem", "--key", "alice.key"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  // Each service's process watched in /proc (cheap: the times are the stops', not status runs').
  std::map<std::string, Clock::time_point> stopped;
  const bool all = WaitUntil(
      [&] {
        for (const auto& n : names) {
          if (!stopped.contains(n) && !Alive(pid[n])) stopped[n] = Clock::now();
        }
        return stopped.size() == names.size();
      },
      lifetime + skew + kStopAfterNotAfter, milliseconds(20));
  std::string figures;
  long long slowest = 0;
  for (const auto& n : names) {
    const long long t = stopped.contains(n) ? Ms(stopped[n] - revoked) : -1;
    slowest = std::max(slowest, t);
    figures += " " + n + " " + std::to_string(t) + " ms" +
               (stopped.contains(n) ? " (" + std::to_string(Ms(stopped[n] - not_after[n])) +
                                          " ms after its notAfter)"
                                    : "");
  }
  std::cout << "[figure] revocation at the store to the service stopped:" << figures
            << "; bound one lifetime + skew = " << (lifetime + skew).count() << " s\n";
  ASSERT_TRUE(all) << figures << "\n" << site().log();
  EXPECT_LE(slowest, std::chrono::duration_cast<milliseconds>(lifetime + skew).count());
  // The reachable ones hear it from the slsm (its push); the others stop at their notAfter.
  for (const char* n : {"n1", "n2"}) {
    EXPECT_LT(stopped[n], not_after[n]) << n << figures;
    json i;
    EXPECT_TRUE(WaitUntil(
        [&] {
          i = InstanceStatus(n, "echo");
          return i.is_object() && StateOf(i) != "running" &&
                 Contains(i.value("last_error", ""), "malware report");
        },
        kStateDeadline, kPoll))
        << n << ": " << i.dump();
  }
  for (const char* n : {"dark", "refusing"}) {
    EXPECT_GE(Ms(stopped[n] - not_after[n]), 0) << n << " stopped before its notAfter" << figures;
    EXPECT_LE(Ms(stopped[n] - not_after[n]), kStopAfterNotAfter.count()) << n << figures;
    WaitForInstance(n, "echo", "expired");
  }
  for (const auto& n : names) EXPECT_TRUE(InstanceProcesses(n, "echo").empty()) << n;

  // Back on the network, the revoked service does not run again.
  const SteadyTime healed = std::chrono::steady_clock::now();
  std::map<std::string, size_t> log_at_heal;
  for (const char* n : {"dark", "refusing"}) log_at_heal[n] = Node(n).log().size();
  dark.HealForNewConnectionsOnly();
  refusing.SetMode(TcpProxy::Mode::kForward);
  for (const char* n : {"dark", "refusing"}) {
    ASSERT_TRUE(WaitUntil([&] { return Connected(n); }, seconds(30), kPoll)) << Node(n).log();
  }
  std::cout << "[figure] revocation: cut-off nodes reconnected " << Since(healed).count()
            << " ms after the heal\n";
  bool ran = false;
  int samples = 0;
  WaitUntil(
      [&] {
        for (const char* n : {"dark", "refusing"}) {
          ran = ran || Runs(n, "echo");
        }
        ++samples;
        return ran;
      },
      seconds(8), kPoll);
  EXPECT_FALSE(ran);
  EXPECT_GE(samples, 2) << "the 8 s after the reconnection were not watched";
  for (const char* n : {"dark", "refusing"}) {
    const json i = InstanceStatus(n, "echo");
    EXPECT_NE(StateOf(i), "running") << i.dump();
    EXPECT_TRUE(InstanceProcesses(n, "echo").empty()) << n;
    const std::string since_heal = Node(n).log().substr(log_at_heal[n]);
    EXPECT_FALSE(Contains(since_heal, "renewed echo: Cert_site"))
        << n << " renewed a revoked release after the cut:\n"
        << since_heal;
  }
}

// The store's half of the bound: a site cut off from its store (a blackholed link) cannot hear
// of a revocation, so it issues for at most revocation_staleness_limit after it last read the
// feed; a release revoked during the cut stops within that limit plus one lifetime (plus the
// skew allowance), and once the link heals the site applies the revocation.
TEST_F(FaultRevocationBound, RevocationDuringAStoreCutOffStopsWithinTheStalenessLimitPlusLifetime) {
  const seconds lifetime(15);
  const seconds staleness(5);
  TcpProxy store_link(store_->port());
  ASSERT_NE(store_link.port(), 0);
  StartSite({{"cert_site_lifetime", "15s"},
             {"revocation_staleness_limit", "5s"},
             {"store", "localhost:" + std::to_string(store_link.port())}});
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  StartNode("n1", FastLinkConfig());
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "n1"));
  const pid_t pid = WaitForRunning("n1", "echo").value("pid", 0);
  ASSERT_GT(pid, 0);

  store_link.SetMode(TcpProxy::Mode::kBlackhole);
  const auto cut = Clock::now();
  ProcessResult r =
      Devkit({"revoke", "echo", "1.0.0", "--reason", "malware report", "--store", store_->address(),
              "--store-root", "store/root.pem", "--cert", "alice.pem", "--key", "alice.key"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  const auto bound = staleness + lifetime + kSkew;
  const std::optional<Clock::time_point> gone = WaitForGone(pid, bound + kStopAfterNotAfter);
  ASSERT_TRUE(gone) << "echo still runs " << Ms(Clock::now() - cut)
                    << " ms after the store was cut off and revoked it\n"
                    << site().log() << NodeLog("n1");
  std::cout << "[figure] store cut off and the release revoked: the service stopped after "
            << Ms(*gone - cut) << " ms; bound staleness limit + lifetime + skew = " << bound.count()
            << " s\n";
  EXPECT_LE(Ms(*gone - cut), std::chrono::duration_cast<milliseconds>(bound).count());
  // Why, in the node's log and loudly in the site's.
  EXPECT_TRUE(
      Contains(NodeLog("n1"), "cannot confirm with the store that echo 1.0.0 is not revoked"))
      << NodeLog("n1");
  EXPECT_TRUE(Contains(site().log(), "REVOCATIONS UNCONFIRMED")) << site().log();

  // Healed (what was open stays dead): the site reaches the store again, applies the revocation,
  // and the service does not run again.
  store_link.HealForNewConnectionsOnly();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string log = site().log();
        return Contains(log, "applied (release echo 1.0.0: malware report)") &&
               Contains(log, "revocation feed confirmed again");
      },
      seconds(60), kPoll))
      << site().log();
  json i;
  EXPECT_TRUE(WaitUntil(
      [&] {
        i = InstanceStatus("n1", "echo");
        return !i.is_object() || Contains(i.value("last_error", ""), "malware report");
      },
      kStateDeadline, kPoll))
      << i.dump() << NodeLog("n1");
  EXPECT_FALSE(Runs("n1", "echo"));
  EXPECT_TRUE(InstanceProcesses("n1", "echo").empty());
}

// The skew half of the bound: a node whose clock is behind reads its Cert_site's notAfter that
// much late. One 50 s behind (most of the allowance), cut off just after it got its Cert_site,
// outlives a revocation by about one lifetime plus 50 s: it must stop, on its own clock's
// notAfter, and no later than one lifetime plus the allowance after the revocation.
TEST_F(FaultRevocationBound, NodeWithItsClockBehindStopsWithinOneLifetimePlusSkew) {
  const seconds lifetime(15);
  const seconds behind(50);
  const std::string nlsm_behind = FaketimeNlsm("nlsm-minus" + std::to_string(behind.count()),
                                               "-" + std::to_string(behind.count()) + "s");
  if (nlsm_behind.empty()) FAIL() << "libfaketime is not installed (scripts/install-deps)";
  StartSite({{"cert_site_lifetime", "15s"}});
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  TcpProxy proxy(site().port());
  ASSERT_NE(proxy.port(), 0);
  StartNode("behind", FastLinkConfig(), proxy.address(), nlsm_behind);
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "behind"));
  const json running = WaitForRunning("behind", "echo");
  const pid_t pid = running.value("pid", 0);
  ASSERT_GT(pid, 0) << running.dump();

  proxy.SetMode(TcpProxy::Mode::kBlackhole);
  std::this_thread::sleep_for(milliseconds(1500));  // no renewal passes any more
  const json at_cut = InstanceStatus("behind", "echo");
  ASSERT_EQ(at_cut.value("pid", 0), pid) << at_cut.dump();
  const TimePoint not_after = NotAfter(at_cut);
  const auto revoked = Clock::now();
  ProcessResult r =
      Devkit({"revoke", "echo", "1.0.0", "--reason", "malware report", "--store", store_->address(),
              "--store-root", "store/root.pem", "--cert", "alice.pem", "--key", "alice.key"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  // Its last Cert_site was issued before the revocation: it ends within one lifetime of it.
  ASSERT_LE(Ms(not_after - revoked), Ms(lifetime)) << at_cut.dump();

  // Watched for the bound and 30 s more, so that a late stop is measured.
  const std::optional<TimePoint> stopped =
      WaitForGone(pid, TimeUntil(revoked + lifetime + kSkew + kStopAfterNotAfter) + seconds(30));
  ASSERT_TRUE(stopped.has_value())
      << "still running " << Ms(Clock::now() - revoked) << " ms after the revocation\n"
      << InstanceStatus("behind", "echo").dump(2) << Node("behind").log();
  std::cout << "[figure] revocation on a cut-off node " << behind.count()
            << " s behind: service stopped " << Ms(*stopped - revoked)
            << " ms after the revocation, " << Ms(*stopped - not_after)
            << " ms after its Cert_site's notAfter; bound one lifetime + skew = "
            << (lifetime + kSkew).count() << " s\n";
  // The bound, with the node's own stop time (kStopAfterNotAfter) on top.
  EXPECT_LE(Ms(*stopped - revoked), Ms(lifetime + kSkew + kStopAfterNotAfter))
      << Node("behind").log();
  // It stopped at the notAfter by its clock, late by its clock's lag: the skew half of the
  // bound was used, and nothing more.
  EXPECT_GE(Ms(*stopped - not_after), Ms(behind - seconds(1))) << "is its clock behind?";
  EXPECT_LE(Ms(*stopped - not_after), Ms(behind + kStopAfterNotAfter)) << Node("behind").log();
  const json expired = WaitForInstance("behind", "echo", "expired");
  EXPECT_EQ(FormatTime(NotAfter(expired)), FormatTime(not_after))
      << "a renewal passed the blackhole";
  EXPECT_TRUE(InstanceProcesses("behind", "echo").empty());
}

// --- clock skew ----------------------------------------------------------------------------------

class FaultClockSkew : public FaultNodeTest {};

TEST_F(FaultClockSkew, WithinTheAllowanceRunsAndRenewsBeyondItACodedErrorAndNothingRuns) {
  const std::string ahead_ok = FaketimeNlsm("nlsm-plus20", "+20s");
  if (ahead_ok.empty()) FAIL() << "libfaketime is not installed (scripts/install-deps)";
  // Certificates are issued with notBefore 60 s in the past (pki/builders.h), so a clock 75 s
  // behind sees a Cert_site that starts 15 s in its future: valid only by the allowance.
  const std::string behind_ok = FaketimeNlsm("nlsm-minus75", "-75s");
  const std::string far_ahead = FaketimeNlsm("nlsm-plus150", "+150s");
  const std::string far_behind = FaketimeNlsm("nlsm-minus300", "-300s");
  {
    // Does it shift the clock? (date under the same preload.)
    const std::string probe = FaketimeNlsm("probe", "+150s");
    std::string text = ReadWholeFile(probe);
    text.replace(text.find(Bin("nlsm")), Bin("nlsm").size(), "/bin/date");
    ASSERT_TRUE(WriteWholeFile(probe, text));
    ProcessResult date = RunProcess({probe, "+%s"}, dir_.path());
    ASSERT_EQ(date.exit_code, kExitOk) << date.Describe();
    const long long shifted =
        std::stoll(Trim(date.out)) -
        std::chrono::duration_cast<seconds>(Clock::now().time_since_epoch()).count();
    std::cout << "[figure] clock skew: libfaketime shifts the wall clock by " << shifted
              << " s (asked +150 s)\n";
    ASSERT_NEAR(shifted, 150, 3);
  }
  StartSite({{"cert_site_lifetime", "40s"}});
  const SteadyTime site_started = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  StartNode("plus20", json::object(), "", ahead_ok);
  StartNode("plus150", json::object(), "", far_ahead);
  StartNode("minus300", json::object(), "", far_behind);
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "plus20,plus150,minus300"));

  // 20 s ahead: runs and renews (the same process goes on).
  const json first = WaitForRunning("plus20", "echo");
  const SteadyTime running = std::chrono::steady_clock::now();
  WaitForInstance("plus20", "echo", "running", seconds(45), [&](const json& i) {
    return NotAfter(i) > NotAfter(first) && i.value("pid", 0) == first.value("pid", -1);
  });
  std::cout << "[figure] clock skew +20 s: running, renewed " << Since(running).count()
            << " ms later, same process\n";

  // 150 s ahead: every Cert_site is expired by its clock; the error says so, with the clock.
  json ahead;
  ASSERT_TRUE(WaitUntil(
      [&] {
        ahead = InstanceStatus("plus150", "echo");
        return Contains(ahead.value("last_error", ""), "EXPIRED");
      },
      kStateDeadline, kPoll))
      << ahead.dump(2) << Node("plus150").log();
  const std::string ahead_error = ahead.value("last_error", "");
  EXPECT_NE(StateOf(ahead), "running");
  EXPECT_TRUE(Contains(ahead_error, "cert-site: EXPIRED")) << ahead_error;
  EXPECT_TRUE(Contains(ahead_error, "this clock says")) << ahead_error;
  EXPECT_TRUE(Contains(ahead_error, "is this clock ahead?")) << ahead_error;
  std::cout << "[figure] clock skew +150 s: " << StateOf(ahead) << ": " << ahead_error << "\n";

  // 300 s behind: nothing of the site is valid yet by its clock (not even the TLS certificate
  // of the site manager): the log says why it cannot connect.
  ASSERT_TRUE(
      WaitUntil([&] { return Contains(Node("minus300").log(), "is this node's clock behind?"); },
                kStateDeadline, kPoll))
      << Node("minus300").log();
  const std::string log = Node("minus300").log();
  EXPECT_TRUE(Contains(log, "NOT_YET_VALID")) << log;
  EXPECT_TRUE(Contains(log, "more than the clock-skew allowance of 60 s")) << log;
  EXPECT_FALSE(Connected("minus300"));

  // 75 s behind: the site manager's TLS certificate must be older than 15 s by then.
  WaitUntil([&] { return Since(site_started) > seconds(20); }, seconds(30), kPoll);
  StartNode("minus75", json::object(), "", behind_ok);
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "plus20,plus150,minus300,minus75"));
  const json behind = WaitForRunning("minus75", "echo");
  EXPECT_EQ(behind.value("last_error", "x"), "") << behind.dump();
  std::cout << "[figure] clock skew -75 s: running on a Cert_site whose notBefore is 15 s in "
               "its future (allowance 60 s)\n";

  // Beyond the allowance nothing ran, at any time.
  for (const char* n : {"plus150", "minus300"}) {
    EXPECT_FALSE(Runs(n, "echo")) << n;
    EXPECT_TRUE(InstanceProcesses(n, "echo").empty()) << n;
    EXPECT_FALSE(std::filesystem::exists(InstanceDir(n, "echo") + "/stdout.log")) << n;
  }
}

// --- the state directory full or read-only ------------------------------------------------------

class FaultNodeDisk : public FaultNodeTest {};

TEST_F(FaultNodeDisk, FullThenReadOnlyStateDirectoryClearErrorsNoDamageAndRecovery) {
  std::string why;
  if (!MountTmpfs(Path("n1"), "4m", &why)) GTEST_SKIP() << why;
  StartSite({{"cert_site_lifetime", "15s"}});
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  ASSERT_NO_FATAL_FAILURE(Install("sturdy"));
  StartNode("n1");
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "n1"));
  const json running = WaitForRunning("n1", "echo");
  const pid_t pid = running.value("pid", 0);
  const std::string cert_file = InstanceDir("n1", "echo") + "/identity.pem";

  // Full: the renewal cannot be kept; the error says so; the service goes on with what is on
  // disk; a new deploy (the same package: no blob to write) cannot be kept either.
  ASSERT_NO_FATAL_FAILURE(FillUp(Path("n1/filler")));
  const SteadyTime full = std::chrono::steady_clock::now();
  const std::string cert_before = ReadWholeFile(cert_file);
  ASSERT_NO_FATAL_FAILURE(Deploy("sturdy", "n1"));
  const json failing = WaitForInstance("n1", "echo", "running", seconds(20), [](const json& i) {
    return Contains(i.value("last_error", ""), "No space left on device");
  });
  const std::string error = failing.value("last_error", "");
  EXPECT_TRUE(Contains(error, "cannot keep the renewed Cert_site")) << error;
  EXPECT_TRUE(Contains(error, InstanceDir("n1", "echo"))) << "the file is not named: " << error;
  std::cout << "[figure] disk full: renewal failure reported " << Since(full).count()
            << " ms after filling: " << error.substr(0, 160) << "\n";
  EXPECT_EQ(ReadWholeFile(cert_file), cert_before);
  EXPECT_EQ(NotAfter(failing), NotAfter(running)) << "a Cert_site that could not be kept is used";
  WaitForInstance("n1", "sturdy", "refused", seconds(10), [](const json& i) {
    return Contains(i.value("last_error", ""), "No space left on device");
  });
  EXPECT_TRUE(InstanceProcesses("n1", "sturdy").empty());

  // Space back: renewed and kept, the same process; sturdy deployed.
  ASSERT_TRUE(std::filesystem::remove(Path("n1/filler")));
  const SteadyTime freed = std::chrono::steady_clock::now();
  const json recovered = WaitForInstance("n1", "echo", "running", seconds(20), [&](const json& i) {
    return NotAfter(i) > NotAfter(running) && i.value("last_error", "x").empty();
  });
  EXPECT_EQ(recovered.value("pid", 0), pid);
  WaitForRunning("n1", "sturdy", seconds(20));
  std::cout << "[figure] disk full: space back to renewed and sturdy running: "
            << Since(freed).count() << " ms\n";
  EXPECT_NE(ReadWholeFile(cert_file), cert_before);

  // Read-only: the same story with "Read-only file system".
  ASSERT_TRUE(MountReadOnly(Path("n1"), &why)) << why;
  const SteadyTime ro = std::chrono::steady_clock::now();
  const json ro_failing = WaitForInstance("n1", "echo", "running", seconds(20), [](const json& i) {
    return Contains(i.value("last_error", ""), "Read-only file system");
  });
  std::cout << "[figure] read-only state directory: renewal failure reported " << Since(ro).count()
            << " ms after the remount\n";
  EXPECT_EQ(ro_failing.value("pid", 0), pid);
  ASSERT_NO_FATAL_FAILURE(Unmount(Path("n1")));
  WaitForInstance("n1", "echo", "running", seconds(20), [&](const json& i) {
    return NotAfter(i) > NotAfter(ro_failing) && i.value("last_error", "x").empty();
  });

  // Nothing on disk was damaged: a restart recovers and re-verifies both instances.
  ASSERT_TRUE(Node("n1").Restart(SIGKILL));
  for (const char* service : {"echo", "sturdy"}) {
    const json i = WaitForRunning("n1", service);
    EXPECT_EQ(i.value("last_error", "x"), "") << i.dump();
  }
  EXPECT_FALSE(Contains(Node("n1").log(), "not recovered")) << Node("n1").log();
}

// --- corrupted files
// -------------------------------------------------------------------------------

class FaultNodeCorruption : public FaultNodeTest {};

// A byte of the package blob changes under a running service: the next check (its renewal)
// finds the digest wrong, stops it, fetches the package again and runs the good bytes.
TEST_F(FaultNodeCorruption, TamperedBlobIsRefusedAtTheNextCheckAndFetchedAgain) {
  StartSite({{"cert_site_lifetime", "15s"}});
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  StartNode("n1");
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "n1"));
  const json running = WaitForRunning("n1", "echo");
  const std::string blob = PackagePath("n1", running.value("digest", ""));
  ASSERT_NO_FATAL_FAILURE(FlipByte(blob, ReadWholeFile(blob).size() / 2));
  const SteadyTime tampered = std::chrono::steady_clock::now();
  const json again = WaitForInstance("n1", "echo", "running", seconds(30), [&](const json& i) {
    return i.value("pid", 0) > 0 && i.value("pid", 0) != running.value("pid", 0);
  });
  std::cout << "[figure] tampered blob under a running service: refused and running a fetched "
               "copy again "
            << Since(tampered).count() << " ms later\n";
  const std::string log = Node("n1").log();
  EXPECT_TRUE(Contains(log, "stopped: rule 6, cert-dev: DIGEST_MISMATCH")) << log;
  EXPECT_TRUE(Contains(again.value("last_error", ""), "DIGEST_MISMATCH")) << again.dump();
  EXPECT_EQ(ReadWholeFile(blob), ReadWholeFile(Path("echo-service")));
  EXPECT_EQ(ReadWholeFile("/proc/" + std::to_string(again.value("pid", 0)) + "/exe"),
            ReadWholeFile(Path("echo-service")));
}

// The instance's state record and its key, then the node key: each is found at the restart,
// named, and not used.
TEST_F(FaultNodeCorruption, DamagedStateRecordInstanceKeyAndNodeKeyAreDetectedAndNeverUsed) {
  StartSite();
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  ASSERT_NO_FATAL_FAILURE(Install("sturdy"));
  StartNode("n1");
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "n1"));
  ASSERT_NO_FATAL_FAILURE(Deploy("sturdy", "n1"));
  const json echo = WaitForRunning("n1", "echo");
  const json sturdy = WaitForRunning("n1", "sturdy");
  const std::string echo_key = InstanceDir("n1", "echo") + "/identity.pem";
  const std::string key_before = ReadWholeFile(echo_key);

  ASSERT_TRUE(Node("n1").Stop(SIGKILL));
  ASSERT_TRUE(WaitUntil([&] { return InstanceProcesses("", "").empty(); }, kStateDeadline, kPoll));
  // echo: a key that still parses, but is another key; sturdy: a state record that is not JSON.
  ASSERT_NO_FATAL_FAILURE(FlipByte(echo_key, 40, /*keep_base64=*/true));
  ASSERT_NO_FATAL_FAILURE(FlipByte(InstanceDir("n1", "sturdy") + "/instance.json", 0));
  const SteadyTime restart = std::chrono::steady_clock::now();
  ASSERT_TRUE(Node("n1").Start());
  const std::string log_at_start = Node("n1").log();

  // Both refused at the recovery, with the file named; then deployed again by the slsm (the
  // node reconnects and the slsm repeats its deploys): fresh keys, fresh records, running.
  EXPECT_TRUE(Contains(log_at_start, echo_key + ": the key is not the key of its Cert_site"))
      << log_at_start;
  EXPECT_TRUE(Contains(log_at_start, InstanceDir("n1", "sturdy") + "/instance.json is corrupt"))
      << log_at_start;
  for (const char* service : {"echo", "sturdy"}) {
    const json i = WaitForRunning("n1", service);
    EXPECT_NE(i.value("pid", 0), (service == std::string("echo") ? echo : sturdy).value("pid", 0));
    EXPECT_TRUE(Contains(i.value("last_error", ""), "runs a freshly fetched, verified copy"))
        << i.dump();
  }
  std::cout << "[figure] damaged instance key and state record: both refused and running again "
            << Since(restart).count() << " ms after the restart\n";
  EXPECT_NE(ReadWholeFile(echo_key), key_before);  // a new key, with a Cert_site for it
  ProcessResult cert_key = Run(
      "openssl", {"x509", "-in", InstanceDir("n1", "echo") + "/identity.pem", "-noout", "-pubkey"});
  ProcessResult key_pub = Run("openssl", {"pkey", "-in", echo_key, "-pubout"});
  ASSERT_EQ(cert_key.exit_code, kExitOk) << cert_key.Describe();
  ASSERT_EQ(key_pub.exit_code, kExitOk) << key_pub.Describe();
  EXPECT_TRUE(Contains(key_pub.out, "-----BEGIN PUBLIC KEY-----")) << key_pub.Describe();
  EXPECT_EQ(cert_key.out, key_pub.out);

  // The node key: the daemon refuses to start, naming the file.
  ASSERT_TRUE(Node("n1").Stop(SIGTERM));
  ASSERT_NO_FATAL_FAILURE(FlipByte(Path("n1/node.key"), 40, /*keep_base64=*/true));
  EXPECT_FALSE(Node("n1").Start(seconds(10)));
  const std::string log = Node("n1").log();
  EXPECT_TRUE(Contains(log, "node.pem is not for the key in")) << log;
  EXPECT_TRUE(Contains(log, "node.key")) << log;
  EXPECT_TRUE(InstanceProcesses("", "").empty());
}

}  // namespace
}  // namespace sitechain::testutil
