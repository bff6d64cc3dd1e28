// Service identity end to end (issue 15): the telemetry example's collector and sensor
// (examples/telemetry/) run on two nodes of a real site (store, slsm, two `nlsm serve`), each with
// the Cert_site its node manager keeps for it and renews every few seconds, and each accepting the
// other only by its SPIFFE ID (the sitePolicy's "peers"). They must go on talking across several
// renewals with no failed call, and the renewed certificates must be the ones their new handshakes
// use.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "pki/profile.h"
#include "tests/integration/nlsm_fixture.h"
#include "tests/support/log_scan.h"

namespace sitechain::testutil {
namespace {

constexpr int kRenewals = 3;
// Renewals every 7.5 to 11 s (the 50-75 % window), and at least 3.75 s between a renewal and the
// expiry of the certificate it replaces, for a loaded machine (the slsm accepts 10 s at least).
constexpr char kLifetime[] = "15s";

// A TCP port on 127.0.0.1 that was free a moment ago: the collector's policy names its port
// before it starts.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The serials of the Cert_sites a node renewed for `service`, in order (its log's "renewed
// <service>: Cert_site <serial> until ..." lines).
std::vector<std::string> RenewedSerials(const std::string& node_log, const std::string& service) {
  return sitechain::testing::TokensAfter(node_log, "renewed " + service + ": Cert_site ");
}

// The serials a telemetry program logged as presented by `peer` ("<peer> presents certificate
// <serial>").
std::set<std::string> SerialsSeen(const std::string& log, const std::string& peer) {
  const auto serials = sitechain::testing::TokensAfter(log, peer + " presents certificate ");
  return {serials.begin(), serials.end()};
}

// How many of `renewed` are in `seen`.
size_t CountSeen(const std::vector<std::string>& renewed, const std::set<std::string>& seen) {
  size_t n = 0;
  for (const auto& serial : renewed) n += seen.contains(serial) ? 1 : 0;
  return n;
}

// The site's store also holds the telemetry example's two programs, published by a developer of
// their own (the template's alice is not this world's registered developer).
class ServiceIdentityE2E : public NlsmTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(NlsmTest::SetUp());
    for (const char* program : {"collector", "sensor"}) {
      ASSERT_TRUE(std::filesystem::exists(Bin(program)))
          << Bin(program) << " is missing; build the " << program << " target";
    }
    ASSERT_OK(world_.RegisterDeveloper("tess"));
    for (const char* program : {"collector", "sensor"}) {
      ASSERT_OK(world_.CopyProgram(program));
      ASSERT_OK(world_.Publish({.file = program, .name = program}));
    }
  }

  static std::string Id(const std::string& node, const std::string& service) {
    return pki::ServiceSpiffeId(kSite, node, service);
  }
  static std::string AnyNode(const std::string& service) {
    return std::string("spiffe://") + kSite + "/node/*/svc/" + service;
  }
};

TEST_F(ServiceIdentityE2E, CollectorAndSensorTalkAcrossRenewalsWithNoFailedCall) {
  StartSite({{"cert_site_lifetime", kLifetime}});
  ASSERT_NO_FATAL_FAILURE(Install("collector"));
  ASSERT_NO_FATAL_FAILURE(Install("sensor"));
  const int port = FreePort();
  ASSERT_NE(port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  // "restart": "never": a crash shows as a stopped service, not as a second run in the same log.
  ASSERT_NO_FATAL_FAILURE(SetPolicy(
      "collector",
      {{"args", {"--listen", address}}, {"peers", {AnyNode("sensor")}}, {"restart", "never"}}));
  ASSERT_NO_FATAL_FAILURE(SetPolicy(
      "sensor",
      {{"args", {"--collector", address, "--interval-ms", "100", "--calls-per-channel", "5"}},
       {"peers", {AnyNode("collector")}},
       {"restart", "never"}}));
  // A stop grace long enough for the programs' last lines on a loaded machine.
  const json node_config = {{"stop_grace", "10s"}};
  StartNode("node1", node_config);
  StartNode("node2", node_config);

  // The collector first, listening, so that the sensor's first call finds it.
  ASSERT_NO_FATAL_FAILURE(Deploy("collector", "node1"));
  WaitForRunning("node1", "collector");
  ASSERT_TRUE(WaitUntil([&] { return Contains(StdoutOf("node1", "collector"), "listening on"); },
                        kStateDeadline, kPoll))
      << StdoutOf("node1", "collector")
      << ReadFileOrEmpty(InstanceDir("node1", "collector") + "/stderr.log") << NodeLog("node1");
  ASSERT_NO_FATAL_FAILURE(Deploy("sensor", "node2"));
  WaitForRunning("node2", "sensor");

  // Each Cert_site renewed kRenewals times, and each renewed certificate seen by the other side
  // in a handshake: the sensor opens a new channel every 5 calls (half a second), and gRPC picks
  // up a renewed identity file within a second.
  std::vector<std::string> collector_renewed, sensor_renewed;
  std::set<std::string> collector_seen, sensor_seen;
  bool call_failed = false;  // stops the wait early: the assertions below say what went wrong
  const auto progress = [&] {
    collector_renewed = RenewedSerials(NodeLog("node1"), "collector");
    sensor_renewed = RenewedSerials(NodeLog("node2"), "sensor");
    const std::string sensor_out = StdoutOf("node2", "sensor");
    collector_seen = SerialsSeen(sensor_out, Id("node1", "collector"));
    sensor_seen = SerialsSeen(StdoutOf("node1", "collector"), Id("node2", "sensor"));
    call_failed = Contains(sensor_out, " failed: ");
    return call_failed || (CountSeen(collector_renewed, collector_seen) >= kRenewals &&
                           CountSeen(sensor_renewed, sensor_seen) >= kRenewals);
  };
  const SteadyTime start = std::chrono::steady_clock::now();
  const bool reached = WaitUntil(progress, seconds(180), milliseconds(200)) && !call_failed;
  const std::string trace =
      "collector renewed " + std::to_string(collector_renewed.size()) +
      ", of which the sensor saw " + std::to_string(CountSeen(collector_renewed, collector_seen)) +
      "; sensor renewed " + std::to_string(sensor_renewed.size()) +
      ", of which the collector saw " + std::to_string(CountSeen(sensor_renewed, sensor_seen)) +
      "\n--- sensor:\n" + StdoutOf("node2", "sensor") + "\n--- collector:\n" +
      StdoutOf("node1", "collector") + "\n--- node1:\n" + NodeLog("node1") + "\n--- node2:\n" +
      NodeLog("node2");
  EXPECT_FALSE(call_failed) << trace;
  EXPECT_GE(CountSeen(collector_renewed, collector_seen), size_t{kRenewals}) << trace;
  EXPECT_GE(CountSeen(sensor_renewed, sensor_seen), size_t{kRenewals}) << trace;
  if (reached) {
    std::cout << "[ measured ] " << kRenewals << " renewals of each Cert_site seen in handshakes "
              << "after " << Since(start).count() << " ms\n";
  }

  // The sensor first (its node's clean shutdown stops it with SIGTERM), then the collector.
  ASSERT_TRUE(Node("node2").Stop(SIGTERM));
  ASSERT_TRUE(Node("node1").Stop(SIGTERM));
  const std::string sensor_out = StdoutOf("node2", "sensor");
  const std::string sensor_err = ReadFileOrEmpty(InstanceDir("node2", "sensor") + "/stderr.log");
  const std::string collector_out = StdoutOf("node1", "collector");
  const std::string collector_err =
      ReadFileOrEmpty(InstanceDir("node1", "collector") + "/stderr.log");
  const std::string all = "--- sensor:\n" + sensor_out + sensor_err + "\n--- collector:\n" +
                          collector_out + collector_err;

  // One run of each, stopped by SIGTERM, with its last lines.
  EXPECT_EQ(Count(sensor_out, "sensor: reporting to " + address + " as " + Id("node2", "sensor")),
            1u)
      << all;
  EXPECT_EQ(Count(collector_out,
                  "collector: listening on " + address + " as " + Id("node1", "collector")),
            1u)
      << all;
  EXPECT_TRUE(Contains(sensor_out, "sensor: stopping on SIGTERM")) << all;
  EXPECT_TRUE(Contains(collector_out, "collector: stopping on SIGTERM")) << all;

  // Calls: many, none failed, every one accepted by the collector from the sensor's exact ID.
  const sitechain::testing::SensorCounts counts = sitechain::testing::LastSensorCounts(sensor_out);
  EXPECT_GT(counts.ok, 0) << all;
  EXPECT_EQ(counts.failed, 0) << all;
  EXPECT_FALSE(Contains(sensor_out, " failed: ")) << all;
  EXPECT_TRUE(Contains(collector_out, "reports accepted from 1 peer(s)")) << all;
  EXPECT_TRUE(Contains(collector_out, "collector: " + Id("node2", "sensor") + ": " +
                                          std::to_string(counts.ok) + " reports, "))
      << all;
  // No handshake refused on either side.
  EXPECT_TRUE(Contains(collector_out, " handshakes accepted, 0 refused")) << all;
  EXPECT_FALSE(Contains(collector_err, "refused")) << all;
  EXPECT_FALSE(Contains(sensor_err, "refused")) << all;

  std::cout << "[ measured ] sensor: " << counts.ok << " ok, " << counts.failed
            << " failed; collector Cert_site renewed " << collector_renewed.size()
            << " times (seen by the sensor: " << CountSeen(collector_renewed, collector_seen)
            << "), sensor's " << sensor_renewed.size()
            << " times (seen by the collector: " << CountSeen(sensor_renewed, sensor_seen) << ")\n";
}

}  // namespace
}  // namespace sitechain::testutil
