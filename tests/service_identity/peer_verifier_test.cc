// The attacks of issue 15 on the check behind every handshake, one at a time: each must be
// refused with its coded reason. service_identity_test.cc makes the same attacks over real
// gRPC handshakes.
#include "service_identity/peer_verifier.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/service_identity/identities.h"

namespace sitechain::service_identity {
namespace {

using testing::Identity;
using testing::Sites;

class PeerVerifierTest : public ::testing::Test {
 protected:
  // The collector on site-a: accepts sensors of its site, and of site-b when federated.
  PeerVerifier Collector(const std::string& federation_pem = "") {
    auto roots = TrustRoots::FromPem(sites_.a().site_root.ToPem(), federation_pem, sites_.clock());
    EXPECT_TRUE(roots.ok()) << roots.status().ToString();
    auto peers = PeerPolicy::FromPatterns(
        {"spiffe://site-a/node/*/svc/sensor", "spiffe://site-b/node/*/svc/sensor"});
    EXPECT_TRUE(peers.ok());
    return PeerVerifier(std::move(*roots), std::move(*peers), sites_.clock());
  }

  void ExpectRefused(const PeerVerifier& v, const pki::Certificate& cert, const std::string& code) {
    const PeerCheck check = v.Check(cert);
    EXPECT_EQ(check.code, code) << check.ToString();
    EXPECT_FALSE(check.ok());
    EXPECT_NE(check.ToString().find(code), std::string::npos) << check.ToString();
  }

  Sites sites_;
};

TEST_F(PeerVerifierTest, AcceptsASensorOfItsSite) {
  const Identity sensor = sites_.CertSite(sites_.a(), "n2", "sensor");
  const PeerCheck check = Collector().Check(sensor.cert);
  EXPECT_TRUE(check.ok()) << check.ToString();
  EXPECT_EQ(check.spiffe_id, "spiffe://site-a/node/n2/svc/sensor");
  EXPECT_TRUE(Collector().CheckPem(sensor.cert.ToPem()).ok());
}

// A registered developer's identity is a CA under the store root: a leaf it signs for the
// sensor's SPIFFE ID chains to the store root, never to the site root.
TEST_F(PeerVerifierTest, RefusesALeafSignedByADeveloperIdentity) {
  const Identity sensor = sites_.CertSite(sites_.a(), "n2", "sensor");
  auto forged = sites_.Resign(testing::SpecFrom(sensor.cert), sites_.a().developer_identity,
                              sites_.a().developer_key);
  ASSERT_TRUE(forged.ok()) << forged.status().ToString();
  ExpectRefused(Collector(), *forged, "ISSUER_MISMATCH");
}

TEST_F(PeerVerifierTest, RefusesACertSiteFromAnotherSitesRoot) {
  // Under its own name: no root vouches for site-b without federation.
  const Identity other = sites_.CertSite(sites_.b(), "n2", "sensor");
  ExpectRefused(Collector(), other.cert, "UNKNOWN_TRUST_DOMAIN");
  // Under this site's name, signed by site-b's root.
  const Identity sensor = sites_.CertSite(sites_.a(), "n2", "sensor");
  auto forged =
      sites_.Resign(testing::SpecFrom(sensor.cert), sites_.b().site_root, sites_.b().site_key);
  ASSERT_TRUE(forged.ok());
  ExpectRefused(Collector(), *forged, "ISSUER_MISMATCH");
}

TEST_F(PeerVerifierTest, RefusesACertSiteOfAnotherService) {
  ExpectRefused(Collector(), sites_.CertSite(sites_.a(), "n2", "printer").cert, "PEER_NOT_ALLOWED");
  ExpectRefused(Collector(), sites_.CertSite(sites_.a(), "n1", "collector").cert,
                "PEER_NOT_ALLOWED");
}

TEST_F(PeerVerifierTest, RefusesAnExpiredCertSite) {
  ManualClock two_hours_ago(sites_.clock().Now() - std::chrono::hours(2));
  const Identity old =
      sites_.CertSite(sites_.a(), "n2", "sensor", std::chrono::hours(1), &two_hours_ago);
  ExpectRefused(Collector(), old.cert, "EXPIRED");
}

TEST_F(PeerVerifierTest, RefusesACertSiteWhoseSubjectDisagreesWithItsSan) {
  const Identity sensor = sites_.CertSite(sites_.a(), "n2", "sensor");
  for (auto change : {+[](pki::CertificateSpec& s) { s.subject.common_name = "collector"; },
                      +[](pki::CertificateSpec& s) { s.subject.organizational_unit = "n1"; }}) {
    pki::CertificateSpec spec = testing::SpecFrom(sensor.cert);
    spec.subject_der.clear();
    change(spec);
    auto forged = sites_.Resign(spec, sites_.a().site_root, sites_.a().site_key);
    ASSERT_TRUE(forged.ok()) << forged.status().ToString();
    ExpectRefused(Collector(), *forged, "SUBJECT_MISMATCH");
  }
}

TEST_F(PeerVerifierTest, RefusesTheStoresTlsCertificate) {
  auto tls = pki::BuildTlsServerIdentity({{"localhost"}, {"127.0.0.1"}}, sites_.a().store_root,
                                         sites_.a().store_key, std::chrono::hours(1),
                                         {sites_.clock(), sites_.rng()});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  ExpectRefused(Collector(), tls->certificate, "NO_SPIFFE_ID");
  // Nor the site manager's, issued by the site root itself.
  auto slsm =
      pki::BuildTlsServerIdentity({{"localhost"}, {}}, sites_.a().site_root, sites_.a().site_key,
                                  std::chrono::hours(1), {sites_.clock(), sites_.rng()});
  ASSERT_TRUE(slsm.ok());
  ExpectRefused(Collector(), slsm->certificate, "NO_SPIFFE_ID");
}

// A federated site's root vouches for its own trust domain only.
TEST_F(PeerVerifierTest, AFederatedSiteIsAcceptedOnlyUnderItsOwnTrustDomain) {
  const PeerVerifier collector = Collector(sites_.b().site_root.ToPem());
  const Identity remote = sites_.CertSite(sites_.b(), "b7", "sensor");
  const PeerCheck check = collector.Check(remote.cert);
  EXPECT_TRUE(check.ok()) << check.ToString();
  EXPECT_EQ(check.spiffe_id, "spiffe://site-b/node/b7/svc/sensor");
  // site-b's root signing a Cert_site that claims site-a.
  const Identity local = sites_.CertSite(sites_.a(), "n2", "sensor");
  auto forged =
      sites_.Resign(testing::SpecFrom(local.cert), sites_.b().site_root, sites_.b().site_key);
  ASSERT_TRUE(forged.ok());
  ExpectRefused(collector, *forged, "ISSUER_MISMATCH");
  // Its services the policy does not name.
  ExpectRefused(collector, sites_.CertSite(sites_.b(), "b7", "printer").cert, "PEER_NOT_ALLOWED");
}

// A federation file that slips in a second root for this site's own trust domain is not taken:
// the site root alone vouches for the site.
TEST_F(PeerVerifierTest, AFederatedRootForThisSitesTrustDomainIsIgnored) {
  sitechain::testing::TestPkiOptions options;
  options.site = "site-a";  // an impostor "site-a" with its own key
  SystemRandom rng;
  auto impostor = sitechain::testing::MakeTestPki(sites_.clock(), rng, options);
  ASSERT_TRUE(impostor.ok());
  auto roots = TrustRoots::FromPem(sites_.a().site_root.ToPem(), impostor->site_root.ToPem(),
                                   sites_.clock());
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ(roots->roots.size(), 1u);
  ASSERT_EQ(roots->ignored.size(), 1u);
  EXPECT_NE(roots->ignored[0].find("already has a root"), std::string::npos) << roots->ignored[0];
  const Identity forged = sites_.CertSite(*impostor, "n2", "sensor");
  ExpectRefused(PeerVerifier(std::move(*roots),
                             *PeerPolicy::FromPatterns({"spiffe://site-a/node/*/svc/sensor"}),
                             sites_.clock()),
                forged.cert, "BAD_SIGNATURE");
}

TEST_F(PeerVerifierTest, TheBundleMustHoldExactlyTheSiteRoot) {
  EXPECT_EQ(TrustRoots::FromPem("", "", sites_.clock()).status().code(),
            StatusCode::kInvalidArgument);
  // The store root is no site root (and is never to be trusted for service identities).
  EXPECT_EQ(TrustRoots::FromPem(sites_.a().store_root.ToPem(), "", sites_.clock()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TrustRoots::FromPem(sites_.a().site_root.ToPem() + sites_.a().store_root.ToPem(), "",
                                sites_.clock())
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sitechain::service_identity
