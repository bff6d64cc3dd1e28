// The telemetry example (examples/telemetry/) without a node manager: the collector and the
// sensor run as real processes with identity files this test makes and renews itself (a site root,
// Cert_sites issued with the real builders), so that the pair is checked on its own, end to end
// over mutual TLS. tests/integration/service_identity_e2e_test.cc runs it under real nlsm nodes.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/identity_file.h"
#include "common/random.h"
#include "pki/profile.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/process.h"
#include "tests/integration/store_server.h"
#include "tests/support/log_scan.h"
#include "tests/support/test_chain.h"

namespace sitechain {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testutil::ChildProcess;
using testutil::Contains;
using testutil::ProcessResult;

constexpr char kSite[] = "site-a";
constexpr milliseconds kDeadline = seconds(30);

// A site (its root, from a test chain made now, since the programs check certificates against
// the real clock) and services with their identity files, in one directory per service.
class TelemetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(testutil::BinDir().empty())
        << "SITECHAIN_BIN_DIR is not set; run the tests with ctest";
    for (const char* program : {"collector", "sensor"}) {
      ASSERT_TRUE(std::filesystem::exists(Bin(program)))
          << Bin(program) << " is missing; build the " << program << " target";
    }
    testing::TestPkiOptions options;
    options.site = kSite;
    SITECHAIN_ASSERT_OK_AND_ASSIGN(chain_, testing::MakeTestPki(clock_, rng_, options));
  }

  static std::string Bin(const std::string& program) { return testutil::BinDir() + "/" + program; }

  // Issues a fresh key and Cert_site for `service` on `node` into <dir>/<service>/identity.pem
  // (replacing the one there: a renewal); its serial.
  std::string Issue(const std::string& node, const std::string& service) {
    const pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    auto cert =
        pki::BuildCertSite(chain_->cert_store, {node, service, key.PublicKeyDer(), "{}"},
                           chain_->site_root, chain_->site_key, seconds(3600), {clock_, rng_});
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    if (!cert.ok()) return "";
    std::filesystem::create_directories(dir_.Path(service));
    const Status written = WriteIdentityFile(dir_.Path(service + "/identity.pem"),
                                             {key.ToPem(std::nullopt, rng_), cert->ToPem()});
    EXPECT_TRUE(written.ok()) << written.ToString();
    return cert->SerialHex();
  }

  // The argv that runs `program` as `service` on `node` with `args`, accepting `peers`: env(1)
  // with the variables a node manager sets.
  std::vector<std::string> AsService(const std::string& node, const std::string& service,
                                     const std::vector<std::string>& peers,
                                     const std::string& program, std::vector<std::string> args) {
    nlohmann::json policy = {{"peers", peers}};
    EXPECT_TRUE(testutil::WriteWholeFile(dir_.Path(service + "/policy.json"), policy.dump()));
    EXPECT_TRUE(
        testutil::WriteWholeFile(dir_.Path(service + "/bundle.pem"), chain_->site_root.ToPem()));
    std::vector<std::string> argv = {
        "/usr/bin/env",
        "SITECHAIN_IDENTITY_FILE=" + dir_.Path(service + "/identity.pem"),
        "SITECHAIN_TRUST_BUNDLE_FILE=" + dir_.Path(service + "/bundle.pem"),
        "SITECHAIN_POLICY_FILE=" + dir_.Path(service + "/policy.json"),
        "SITECHAIN_SPIFFE_ID=" + pki::ServiceSpiffeId(kSite, node, service),
        Bin(program)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Starts the collector (node1) on a port the kernel picks, accepting `peers`; its address.
  std::string StartCollector(const std::vector<std::string>& peers) {
    Issue("node1", "collector");
    EXPECT_TRUE(collector_.Start(AsService("node1", "collector", peers, "collector",
                                           {"--listen", "127.0.0.1:0", "--log-every", "10"}),
                                 dir_.path(), dir_.Path("collector.out"),
                                 dir_.Path("collector.err")));
    const auto address = [&] { return testing::TokensAfter(collector_.out(), "listening on "); };
    const bool up = testutil::WaitUntil([&] { return !address().empty() || !collector_.running(); },
                                        kDeadline, milliseconds(20));
    EXPECT_TRUE(up && !address().empty()) << collector_.Describe();
    return address().empty() ? "127.0.0.1:1" : address().front();
  }

  // Starts the sensor (node2) reporting to `address`, accepting `peers`.
  void StartSensor(const std::string& address, const std::vector<std::string>& peers,
                   std::vector<std::string> extra = {}) {
    Issue("node2", "sensor");
    std::vector<std::string> args = {"--collector",         address, "--interval-ms", "20",
                                     "--calls-per-channel", "3",     "--log-every",   "10"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(sensor_.Start(AsService("node2", "sensor", peers, "sensor", args), dir_.path(),
                              dir_.Path("sensor.out"), dir_.Path("sensor.err")));
  }

  static std::string Id(const std::string& node, const std::string& service) {
    return pki::ServiceSpiffeId(kSite, node, service);
  }

  SystemClock clock_;
  SystemRandom rng_;
  std::optional<testing::TestPki> chain_;  // set by SetUp
  testutil::TempDir dir_;
  ChildProcess collector_, sensor_;  // stopped (SIGTERM, exit 0 checked) by their destructors
};

// The pair talks, each accepting the other by SPIFFE ID pattern, and goes on talking with no
// failed call while both identity files are renewed three times (a new key each time): the
// sensor's new channels see each new certificate of the collector, and the collector each new
// certificate of the sensor.
TEST_F(TelemetryTest, TalkAcrossRenewalsOfBothIdentities) {
  const std::string address =
      StartCollector({std::string("spiffe://") + kSite + "/node/*/svc/sensor"});
  ASSERT_NO_FATAL_FAILURE(
      StartSensor(address, {std::string("spiffe://") + kSite + "/node/*/svc/collector"}));
  ASSERT_TRUE(testutil::WaitUntil([&] { return testing::LastSensorCounts(sensor_.out()).ok >= 20; },
                                  kDeadline, milliseconds(20)))
      << sensor_.Describe() << collector_.Describe();

  for (int renewal = 1; renewal <= 3; ++renewal) {
    const std::string collector_serial = Issue("node1", "collector");
    const std::string sensor_serial = Issue("node2", "sensor");
    // gRPC looks at the identity file every second; new channels then use the new one.
    EXPECT_TRUE(testutil::WaitUntil(
        [&] {
          return Contains(sensor_.out(), "presents certificate " + collector_serial) &&
                 Contains(collector_.out(),
                          Id("node2", "sensor") + " presents certificate " + sensor_serial);
        },
        kDeadline, milliseconds(20)))
        << "renewal " << renewal << ": collector " << collector_serial << ", sensor "
        << sensor_serial << "\n"
        << sensor_.Describe() << collector_.Describe();
  }

  ASSERT_TRUE(sensor_.CheckStop(SIGTERM, kDeadline, "after the renewals"));
  const testing::SensorCounts counts = testing::LastSensorCounts(sensor_.out());
  EXPECT_GT(counts.ok, 20) << sensor_.Describe();
  EXPECT_EQ(counts.failed, 0) << sensor_.Describe();
  ASSERT_TRUE(collector_.CheckStop(SIGTERM, kDeadline, "after the sensor"));
  const std::string out = collector_.out();
  EXPECT_TRUE(Contains(out, "from 1 peer(s)")) << out;
  EXPECT_TRUE(Contains(
      out, Id("node2", "sensor") + ": " + std::to_string(counts.ok) + " reports, 4 certificate(s)"))
      << out;
  EXPECT_TRUE(Contains(out, "0 refused")) << out;
}

// A sensor the collector's "peers" do not name is refused at the handshake, and the collector
// logs why; the sensor counts every call as failed.
TEST_F(TelemetryTest, CollectorRefusesASensorItsPeersDoNotName) {
  const std::string address =
      StartCollector({std::string("spiffe://") + kSite + "/node/*/svc/thermometer"});
  ASSERT_NO_FATAL_FAILURE(StartSensor(
      address, {std::string("spiffe://") + kSite + "/node/*/svc/collector"}, {"--count", "3"}));
  const std::optional<int> code = sensor_.WaitForExit(kDeadline);
  ASSERT_EQ(code, std::optional<int>(0)) << sensor_.Describe();
  const testing::SensorCounts counts = testing::LastSensorCounts(sensor_.out());
  EXPECT_EQ(counts.ok, 0) << sensor_.Describe();
  EXPECT_EQ(counts.failed, 3) << sensor_.Describe();
  EXPECT_TRUE(Contains(sensor_.out(), "failed: UNAVAILABLE")) << sensor_.Describe();
  EXPECT_TRUE(Contains(collector_.err(), "refused " + Id("node2", "sensor") + ": PEER_NOT_ALLOWED"))
      << collector_.Describe();
}

// ... and so is a collector the sensor's "peers" do not name: the sensor refuses it.
TEST_F(TelemetryTest, SensorRefusesACollectorItsPeersDoNotName) {
  const std::string address =
      StartCollector({std::string("spiffe://") + kSite + "/node/*/svc/sensor"});
  ASSERT_NO_FATAL_FAILURE(StartSensor(
      address, {std::string("spiffe://") + kSite + "/node/node9/svc/collector"}, {"--count", "3"}));
  const std::optional<int> code = sensor_.WaitForExit(kDeadline);
  ASSERT_EQ(code, std::optional<int>(0)) << sensor_.Describe();
  EXPECT_EQ(testing::LastSensorCounts(sensor_.out()).failed, 3) << sensor_.Describe();
  EXPECT_TRUE(Contains(sensor_.err(), "refused " + Id("node1", "collector") + ": PEER_NOT_ALLOWED"))
      << sensor_.Describe();
}

// Started by hand, without a node manager's variables, both say what is missing and exit 1.
TEST_F(TelemetryTest, WithoutANodeManagerTheyExplainAndExit1) {
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{Bin("collector"), "--listen", "127.0.0.1:0"},
                                             {Bin("sensor"), "--collector", "127.0.0.1:1"}}) {
    const ProcessResult r = testutil::RunProcess(argv, dir_.path(), kDeadline);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "SITECHAIN_IDENTITY_FILE is not set")) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "node manager")) << r.Describe();
    const ProcessResult help = testutil::RunProcess({argv[0], "--help"}, dir_.path(), kDeadline);
    EXPECT_EQ(help.exit_code, 0) << help.Describe();
  }
}

}  // namespace
}  // namespace sitechain
