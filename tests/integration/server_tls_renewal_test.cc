// The TLS server certificates of the site manager and the store renew while they serve (issue 15,
// point 5): with a short tls_lifetime, new TLS connections are shown a new certificate (another
// serial, a later notAfter, still chaining to the service's root and naming localhost) at least
// twice, while the streams opened before (the nodes' command streams to the slsm, the slsm's
// revocation feed from the store) are never dropped.
//
// The served certificate is fetched with `openssl s_client`, an independent TLS client that makes
// a new connection each time.

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/time_format.h"
#include "pki/certificate.h"
#include "tests/integration/nlsm_fixture.h"

namespace sitechain::testutil {
namespace {

// Short enough for two renewals (every 6 s) in a quick test, long enough that a loaded machine
// does not see the old certificate expire before the new one is read (3 s of slack).
constexpr char kTlsLifetime[] = "9s";
constexpr milliseconds kRenewalDeadline = seconds(40);
constexpr seconds kMinRenewalStep{4};  // two thirds of 9 s, less rounding

struct Served {
  std::string serial;
  TimePoint not_after;
};

class ServerTlsRenewalTest : public NlsmTest {
 protected:
  // The leaf certificate a new TLS connection to 127.0.0.1:port is shown, verified by openssl
  // against `root` (a path) for the name localhost; nullopt (with the reason added to *why) if
  // the handshake or the verification failed.
  std::optional<Served> ServedCertificate(int port, const std::string& root, std::string* why) {
    const ProcessResult r =
        Run("openssl", {"s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
                        "localhost", "-alpn", "h2", "-CAfile", root, "-verify_hostname",
                        "localhost", "-verify_return_error", "-showcerts"});
    const std::string begin = "-----BEGIN CERTIFICATE-----";
    const std::string end = "-----END CERTIFICATE-----";
    const size_t from = r.out.find(begin);
    const size_t to = r.out.find(end, from == std::string::npos ? 0 : from);
    if (from == std::string::npos || to == std::string::npos ||
        !Contains(r.out, "Verify return code: 0 (ok)")) {
      *why = r.Describe();
      return std::nullopt;
    }
    auto cert = pki::Certificate::FromPem(r.out.substr(from, to + end.size() - from));
    if (!cert.ok()) {
      *why = cert.status().ToString();
      return std::nullopt;
    }
    return Served{cert->SerialHex(), cert->NotAfter()};
  }

  // Waits until new connections to `port` are shown `renewals` certificates after the one they
  // are shown now, each with a later notAfter; the certificates seen, the first one first.
  std::vector<Served> WaitForRenewals(int port, const std::string& root, int renewals,
                                      const std::string& server_log_name) {
    std::vector<Served> seen;
    std::string why;
    auto first = ServedCertificate(port, root, &why);
    EXPECT_TRUE(first) << why;
    if (!first) return seen;
    seen.push_back(*first);
    int failed_handshakes = 0;
    for (int i = 0; i < renewals; ++i) {
      std::optional<Served> next;
      const bool renewed = WaitUntil(
          [&] {
            next = ServedCertificate(port, root, &why);
            // Every handshake succeeds and verifies, at any time (the first failure is shown).
            if (!next && failed_handshakes++ == 0) ADD_FAILURE() << why;
            return next && next->serial != seen.back().serial;
          },
          kRenewalDeadline, milliseconds(250));
      EXPECT_TRUE(renewed) << server_log_name << " still serves certificate " << seen.back().serial
                           << " after " << kRenewalDeadline.count() << " ms (renewal " << i + 1
                           << ")";
      EXPECT_EQ(failed_handshakes, 0);
      if (!renewed) return seen;
      // Renewals come two thirds into each certificate's life (every 6 s), not more often: the
      // notAfter moves by about that much (whole seconds, and the renewer wakes within one).
      EXPECT_GE(next->not_after - seen.back().not_after, kMinRenewalStep)
          << "renewal " << i + 1 << ": " << FormatTime(seen.back().not_after) << " -> "
          << FormatTime(next->not_after);
      std::cout << "[figure] " << server_log_name << " TLS certificate " << seen.back().serial
                << " -> " << next->serial << ", valid until " << FormatTime(next->not_after)
                << "\n";
      seen.push_back(*next);
    }
    return seen;
  }
};

// The slsm's certificate renews twice while 3 nodes stay connected on the streams they opened
// first, and keep renewing their Cert_site over them.
TEST_F(ServerTlsRenewalTest, SiteManagerCertificateRenewsWhileThreeNodesStayConnected) {
  SiteServer& site = StartSite({{"tls_lifetime", kTlsLifetime}, {"cert_site_lifetime", "10s"}});
  ASSERT_NO_FATAL_FAILURE(Install("echo"));
  const std::vector<std::string> nodes = {"n1", "n2", "n3"};
  for (const auto& n : nodes) StartNode(n);
  for (const auto& n : nodes) {
    ASSERT_TRUE(
        WaitUntil([&] { return NodeStatus(n).value("connected", false); }, kStateDeadline, kPoll))
        << n << "\n"
        << Node(n).log();
  }
  ASSERT_NO_FATAL_FAILURE(Deploy("echo", "n1,n2,n3"));
  std::vector<TimePoint> cert_site_until;
  for (const auto& n : nodes) cert_site_until.push_back(NotAfter(WaitForRunning(n, "echo")));
  const size_t issued_before = Count(site.log(), "issued Cert_site");

  const std::vector<Served> served = WaitForRenewals(site.port(), Path("site/root.pem"), 2, "slsm");
  ASSERT_EQ(served.size(), 3u) << site.log();
  // The slsm logged the renewals it made, with the serials new connections were shown.
  const std::string log = site.log();
  EXPECT_GE(Count(log, "renewed the TLS server certificate"), 2u) << log;
  for (size_t i = 1; i < served.size(); ++i) {
    EXPECT_TRUE(Contains(log, "renewed the TLS server certificate: serial " + served[i].serial))
        << served[i].serial << "\n"
        << log;
  }

  // Meanwhile every node kept the one stream it opened: one connection on both sides, no end.
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string& n = nodes[i];
    const std::string node_log = Node(n).log();
    EXPECT_EQ(Count(node_log, "connected to the site manager at"), 1u) << n << "\n" << node_log;
    EXPECT_EQ(Count(node_log, "the command stream to"), 0u) << n << "\n" << node_log;
    EXPECT_EQ(Count(log, "node connected node=" + n + " "), 1u) << n << "\n" << log;
    EXPECT_EQ(Count(log, "node disconnected node=" + n), 0u) << n << "\n" << log;
    EXPECT_TRUE(NodeStatus(n).value("connected", false)) << n;
    // ... and renews its Cert_site over it (10 s lifetime: due 5 to 7.5 s after issue).
    WaitForInstance(n, "echo", "running", kStateDeadline,
                    [&](const json& echo) { return NotAfter(echo) > cert_site_until[i]; });
  }
  EXPECT_GT(Count(site.log(), "issued Cert_site"), issued_before) << site.log();
  for (const auto& n : nodes) {
    EXPECT_EQ(Count(Node(n).log(), "connected to the site manager at"), 1u) << Node(n).log();
  }
  EXPECT_EQ(Count(site.log(), "node disconnected"), 0u) << site.log();
}

// The store's certificate renews twice while the slsm's revocation feed (a stream opened before)
// stays up; a developer's command afterwards verifies the new certificate and is answered.
TEST_F(ServerTlsRenewalTest, StoreCertificateRenewsWithoutDroppingTheRevocationFeed) {
  ASSERT_TRUE(store_->Stop());
  ASSERT_OK(world_.ServeStore({"--tls-lifetime", kTlsLifetime}));
  SiteServer& site = StartSite();
  auto applied = [&] { return Count(site.log(), "revocation feed: entry"); };
  // A revocation reaching the site shows that its feed is up.
  ProcessResult revoke =
      Store({"revoke", "release", "crasher", "1.0.0", "--reason", "first", "--dir", store_->dir()});
  ASSERT_EQ(revoke.exit_code, kExitOk) << revoke.Describe();
  ASSERT_TRUE(WaitUntil([&] { return applied() == 1; }, kStateDeadline, kPoll)) << site.log();

  const std::vector<Served> served =
      WaitForRenewals(store_->port(), world_.store_root(), 2, "store");
  ASSERT_EQ(served.size(), 3u) << store_->log();
  EXPECT_GE(Count(store_->log(), "renewed the TLS server certificate"), 2u) << store_->log();

  // A new client (devkit) verifies the renewed certificate and is answered.
  ProcessResult releases = Run(Bin("devkit"), world_.AtStore({"releases"}));
  EXPECT_EQ(releases.exit_code, kExitOk) << releases.Describe();
  EXPECT_TRUE(Contains(releases.out, "echo")) << releases.out;
  // The feed opened before the renewals never ended, and still delivers.
  EXPECT_FALSE(Contains(site.log(), "revocation feed from")) << site.log();
  revoke =
      Store({"revoke", "release", "sturdy", "1.0.0", "--reason", "second", "--dir", store_->dir()});
  ASSERT_EQ(revoke.exit_code, kExitOk) << revoke.Describe();
  EXPECT_TRUE(WaitUntil([&] { return applied() == 2; }, kStateDeadline, kPoll)) << site.log();
  EXPECT_FALSE(Contains(site.log(), "revocation feed from")) << site.log();
}

// A lifetime too short to renew in time is refused at start, naming the setting.
TEST_F(ServerTlsRenewalTest, LifetimesTooShortToRenewAreRefused) {
  ProcessResult store = Store({"serve", "--dir", store_->dir(), "--tls-lifetime", "5s"});
  EXPECT_NE(store.exit_code, kExitOk) << store.Describe();
  EXPECT_TRUE(Contains(store.err, "at least 6s")) << store.Describe();
  ProcessResult bad = Store({"serve", "--dir", store_->dir(), "--tls-lifetime", "soon"});
  EXPECT_NE(bad.exit_code, kExitOk) << bad.Describe();
  EXPECT_TRUE(Contains(bad.err, "--tls-lifetime")) << bad.Describe();

  ASSERT_OK(world_.InitSite("site", kSite));
  ASSERT_TRUE(WriteWholeFile(Path("short.json"), R"({"tls_lifetime": "5s"})"));
  ProcessResult slsm = Slsm({"serve", "--config", "short.json"});
  EXPECT_NE(slsm.exit_code, kExitOk) << slsm.Describe();
  EXPECT_TRUE(Contains(slsm.err, "tls_lifetime must be at least 6s")) << slsm.Describe();
}

}  // namespace
}  // namespace sitechain::testutil
