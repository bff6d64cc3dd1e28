// SiteService tests: join tokens, enrollment, node authentication, deployments, packages and
// eviction.
// The fixture is in site_fixture.h. Every refusal asserts its status code and a piece of its
// message; refusals that must leave the site unchanged check that too.

#include <gtest/gtest.h>

#include <cstdint>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "tests/slsm/site_fixture.h"

namespace sitechain::slsm::site_test {
namespace {

// === Join tokens and enrollment =================================================================

TEST_F(SiteServiceTest, AJoinTokenCarriesTheSiteRootFingerprint) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  // <id>.<secret>.<root sha256>
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = t.token.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(t.token.substr(start, dot - start));
  }
  parts.push_back(t.token.substr(start));
  ASSERT_EQ(parts.size(), 3u) << t.token;
  EXPECT_EQ(parts[0], t.record.id);
  EXPECT_EQ(parts[0].size(), 8u);
  EXPECT_EQ(parts[1].size(), 32u);  // 128-bit secret
  SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca, slca::SiteCa::Open(CaDir(), std::nullopt));
  EXPECT_EQ(parts[2], ca.RootFingerprint());
  const Bytes root_der = service().site_root().ToDer();
  EXPECT_EQ(parts[2],
            pki::HashBytes(
                pki::HashAlgorithm::kSha256,
                std::string_view(reinterpret_cast<const char*>(root_der.data()), root_der.size()))
                .Hex());

  EXPECT_EQ(t.record.node, "node-1");
  EXPECT_EQ(t.record.created_at, clock_.Now());
  EXPECT_EQ(t.record.expires_at, clock_.Now() + options_.default_token_ttl);
  EXPECT_FALSE(t.record.used_at);
  // The site keeps a hash, never the secret.
  EXPECT_EQ(t.record.hash.find(parts[1]), std::string::npos);
  const std::string on_disk = ReadWholeFile(DbPath()) + ReadWholeFile(DbPath() + "-wal");
  EXPECT_EQ(on_disk.find(parts[1]), std::string::npos);

  // Two tokens differ.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t2,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  EXPECT_NE(t2.token, t.token);
}

TEST_F(SiteServiceTest, CreateJoinTokenRefusesBadNamesAndLifetimes) {
  EXPECT_TRUE(Refused(service().CreateJoinToken("Node 1", Seconds(0)), StatusCode::kInvalidArgument,
                      {"node name"}));
  EXPECT_TRUE(Refused(service().CreateJoinToken("node-1", Seconds(-5)),
                      StatusCode::kInvalidArgument, {"join token may live"}));
  EXPECT_TRUE(Refused(service().CreateJoinToken("node-1", options_.max_token_ttl + Seconds(1)),
                      StatusCode::kInvalidArgument, {"join token may live"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", options_.max_token_ttl));
  EXPECT_EQ(t.record.expires_at, clock_.Now() + options_.max_token_ttl);
}

TEST_F(SiteServiceTest, EnrollIssuesANodeCertificateAndHandsOverTheSiteRoot) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr, pki::CertificateRequest::Create(key, "node-1", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Enrolled e, service().Enroll(t.token, "node-1", csr.ToDer()));

  EXPECT_EQ(e.site_root, service().site_root());
  EXPECT_NE(e.site_root, pki_->store_root);  // the slsm never hands out a store root
  const pki::Certificate& cert = e.node_certificate;
  EXPECT_EQ(cert.PublicKeyDer(), key.PublicKeyDer());
  EXPECT_EQ(cert.Subject().common_name, "node-1");
  EXPECT_EQ(cert.UriSans(), std::vector<std::string>{pki::NodeSpiffeId(kSite, "node-1")});
  EXPECT_EQ(cert.NotAfter(), clock_.Now() + options_.node_lifetime);
  const pki::Verification v =
      pki::Verifier(clock_).VerifyIssuedBy(cert, pki::CertRole::kNode, e.site_root);
  EXPECT_TRUE(v.ok()) << sitechain::testing::Describe(v);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "node-1");
  EXPECT_EQ(nodes[0].certificate_serial, cert.SerialHex());
  EXPECT_EQ(nodes[0].certificate_not_after, cert.NotAfter());
  EXPECT_EQ(nodes[0].enrolled_at, clock_.Now());
  EXPECT_FALSE(nodes[0].evicted_at);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].serial, cert.SerialHex());
  EXPECT_EQ(issued[0].kind, "node");
  EXPECT_EQ(issued[0].node, "node-1");
}

TEST_F(SiteServiceTest, AJoinTokenIsSingleUse) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode first, JoinWith(t.token, "node-1"));
  clock_.Advance(Seconds(5));
  EXPECT_TRUE(Refused(JoinWith(t.token, "node-1"), StatusCode::kUnauthenticated,
                      {"join token " + t.record.id, "already used"}));
  // The node keeps the key it enrolled with.
  EXPECT_TRUE(service().AuthenticateNode(first.cert.ToPem()).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_EQ(issued.size(), 1u);
}

TEST_F(SiteServiceTest, AJoinTokenUsedByTwoNodesAtOnceEnrollsOne) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  std::vector<Bytes> csrs;
  for (int i = 0; i < 4; ++i) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr, pki::CertificateRequest::Create(key, "node-1", rng_));
    csrs.push_back(csr.ToDer());
  }
  std::vector<std::future<Result<Enrolled>>> attempts;
  for (const auto& der : csrs) {
    attempts.push_back(std::async(std::launch::async,
                                  [&, der] { return service().Enroll(t.token, "node-1", der); }));
  }
  int enrolled = 0;
  for (auto& a : attempts) {
    Result<Enrolled> r = a.get();
    if (r.ok()) {
      ++enrolled;
    } else {
      EXPECT_TRUE(Refused(r, StatusCode::kUnauthenticated, {"already used"}));
    }
  }
  EXPECT_EQ(enrolled, 1);
}

TEST_F(SiteServiceTest, AnExpiredJoinTokenIsRefused) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t1,
                                 service().CreateJoinToken("node-1", Seconds(600)));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t2,
                                 service().CreateJoinToken("node-2", Seconds(600)));
  clock_.Advance(Seconds(599));
  EXPECT_TRUE(JoinWith(t2.token, "node-2").ok());  // one second left
  clock_.Advance(Seconds(1));
  EXPECT_TRUE(Refused(JoinWith(t1.token, "node-1"), StatusCode::kUnauthenticated,
                      {"join token " + t1.record.id, "expired"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "node-2");
}

TEST_F(SiteServiceTest, AJoinTokenIsBoundToItsNode) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  EXPECT_TRUE(Refused(JoinWith(t.token, "node-2"), StatusCode::kPermissionDenied,
                      {"made for node 'node-1'", "not 'node-2'"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  EXPECT_TRUE(nodes.empty());
  // The refusal did not use it up.
  EXPECT_TRUE(JoinWith(t.token, "node-1").ok());
}

TEST_F(SiteServiceTest, EnrollRefusesCsrsAskingForMoreAndKeepsTheToken) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  auto der_of = [&](const std::vector<pki::RawExtension>& exts, const std::string& cn) {
    Result<pki::CertificateRequest> csr =
        pki::CertificateRequest::FromPem(sitechain::testing::HandMadeCsrPem(key, cn, exts, rng_));
    EXPECT_TRUE(csr.ok()) << csr.status().ToString();
    return csr.ok() ? csr->ToDer() : Bytes{};
  };
  // CA rights.
  EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1",
                                       der_of({sitechain::testing::CaTrueExtension()}, "node-1")),
                      StatusCode::kPermissionDenied, {"asks for CA rights"}));
  // Another node's identity as an extra SAN.
  const std::string uri = pki::NodeSpiffeId(kSite, "node-2");
  const pki::RawExtension san{
      pki::kSubjectAltNameOid, false,
      sitechain::testing::der::Tlv(
          0x30, sitechain::testing::der::Tlv(0x86, Bytes(uri.begin(), uri.end())))};
  EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1", der_of({san}, "node-1")),
                      StatusCode::kPermissionDenied, {"asks for the extension"}));
  // A CSR naming another node.
  EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1", der_of({}, "node-2")),
                      StatusCode::kInvalidArgument, {"names node 'node-2'"}));
  // Not a CSR at all.
  EXPECT_FALSE(service().Enroll(t.token, "node-1", Bytes{0x30, 0x03, 0x02, 0x01, 0x00}).ok());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  EXPECT_TRUE(nodes.empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_TRUE(issued.empty());
  // The token is still good for a proper CSR.
  EXPECT_TRUE(JoinWith(t.token, "node-1").ok());
}

TEST_F(SiteServiceTest, EnrollRefusesGarbageTokens) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  const std::string fp = service().site_root().Sha256Fingerprint();
  const std::string id = t.record.id;
  const std::string secret = t.token.substr(id.size() + 1, 32);
  std::string flipped = secret;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  for (const std::string& bad :
       {std::string(), std::string("garbage"), std::string("a.b"), std::string(".."),
        id + "." + flipped + "." + fp, id + "x." + secret + "." + fp, "." + secret + "." + fp,
        id + "." + secret + std::string(300, 'a') + "." + fp,
        "00000000.00000000000000000000000000000000." + fp}) {
    EXPECT_TRUE(Refused(JoinWith(bad, "node-1"), StatusCode::kUnauthenticated, {"join token"}))
        << "token '" << bad << "'";
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  EXPECT_TRUE(nodes.empty());
  EXPECT_TRUE(JoinWith(t.token, "node-1").ok());
}

// === Node authentication ========================================================================

TEST_F(SiteServiceTest, AuthenticateNodeAcceptsAnEnrolledNode) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  EXPECT_EQ(node.record.name, "node-1");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord again, service().AuthenticateNode(node.cert.ToPem()));
  EXPECT_EQ(again.key_fingerprint, node.record.key_fingerprint);
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesACallWithoutACertificate) {
  EXPECT_TRUE(Refused(service().AuthenticateNode(std::nullopt), StatusCode::kUnauthenticated,
                      {"mutual TLS", "site 'site-a'"}));
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesAnotherSitesNodes) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  // A site of the same name with its own root: same issuer name, another key.
  ASSERT_EQ(pki_->site_root.Subject().common_name, kSite);
  ASSERT_EQ(pki_->node_cert.Subject().common_name, "node-1");
  EXPECT_TRUE(Refused(service().AuthenticateNode(pki_->node_cert.ToPem()),
                      StatusCode::kUnauthenticated,
                      {"not a valid node certificate of site 'site-a'", "rule 3"}));
  // A site of another name.
  slca::SiteCa::InitOptions other;
  other.dir = tmp_.Path("other-ca");
  other.site = "site-b";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca_b, slca::SiteCa::Init(other, clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(node.key, "node-1", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate foreign,
                                 ca_b.IssueNode(csr, "node-1", Seconds(3600), ctx()));
  EXPECT_TRUE(Refused(service().AuthenticateNode(foreign.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate"}));
  // A forgery of node-1's own certificate under a look-alike of the site root.
  pki::PrivateKey wrong = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate forged,
      sitechain::testing::SignWithWrongKey(sitechain::testing::SpecFrom(node.cert),
                                           service().site_root(), wrong, rng_));
  EXPECT_TRUE(Refused(service().AuthenticateNode(forged.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate", "BAD_SIGNATURE"}));
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesAnExpiredNodeCertificate) {
  SiteOptions o;
  o.node_lifetime = Seconds(3600);
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  clock_.Advance(Seconds(3600));
  EXPECT_TRUE(service().AuthenticateNode(node.cert.ToPem()).ok());  // the last second
  clock_.Advance(Seconds(1));
  EXPECT_TRUE(Refused(service().AuthenticateNode(node.cert.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate", "EXPIRED"}));
}

// A node that was offline past its certificate's expiry recovers with proof of its key within
// the grace, for RenewNode only; every other call, and any call after the grace, is refused.
TEST_F(SiteServiceTest, AnExpiredNodeCertificateRenewsOnlyWithinTheRecoveryGrace) {
  SiteOptions o;
  o.node_lifetime = Seconds(3600);
  o.node_recovery_grace = Seconds(600);
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  clock_.Advance(Seconds(3600 + 300));
  EXPECT_TRUE(Refused(service().AuthenticateNode(node.cert.ToPem()), StatusCode::kUnauthenticated,
                      {"EXPIRED"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord record,
                                 service().AuthenticateNodeForRenewal(node.cert.ToPem()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(node.key, "node-1", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate renewed,
                                 service().RenewNode(record, csr.ToDer()));
  EXPECT_GT(renewed.NotAfter(), clock_.Now());
  EXPECT_TRUE(service().AuthenticateNode(renewed.ToPem()).ok());

  // Past the grace, even the renewal is refused: the node needs a new join token.
  clock_.Advance(Seconds(301));
  EXPECT_TRUE(Refused(service().AuthenticateNodeForRenewal(node.cert.ToPem()),
                      StatusCode::kUnauthenticated, {"EXPIRED"}));
  // A forged, expired look-alike gains nothing from the grace: only time is forgiven.
  clock_.Advance(Seconds(-400));
  pki::PrivateKey wrong = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate forged,
      sitechain::testing::SignWithWrongKey(sitechain::testing::SpecFrom(node.cert),
                                           service().site_root(), wrong, rng_));
  EXPECT_TRUE(Refused(service().AuthenticateNodeForRenewal(forged.ToPem()),
                      StatusCode::kUnauthenticated, {"BAD_SIGNATURE"}));
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesCertificatesOfOtherRoles) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_site, RenewOne(nodes[0], kHello));
  // The instance's Cert_site, issued by this very site root for node-1.
  EXPECT_TRUE(Refused(service().AuthenticateNode(cert_site.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate"}));
  // The site root itself, and certificates of the store's chain.
  const std::vector<pki::Certificate> others = {service().site_root(), pki_->store_root,
                                                pki_->developer_identity, pki_->cert_dev,
                                                pki_->cert_store};
  for (const pki::Certificate& c : others) {
    EXPECT_TRUE(Refused(service().AuthenticateNode(c.ToPem()), StatusCode::kUnauthenticated,
                        {"not a valid node certificate"}))
        << c.Subject().ToString();
  }
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesAKeyTheSiteNoLongerKnows) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode old_node, Join("node-1"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode new_node, Join("node-1"));  // re-enrolled, new key
  EXPECT_TRUE(service().AuthenticateNode(new_node.cert.ToPem()).ok());
  EXPECT_TRUE(Refused(service().AuthenticateNode(old_node.cert.ToPem()),
                      StatusCode::kUnauthenticated, {"no longer knows"}));
  // A certificate of this CA for a node the site has no record of (a restored backup, say).
  SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca, slca::SiteCa::Open(CaDir(), std::nullopt));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(old_node.key, "ghost", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate ghost,
                                 ca.IssueNode(csr, "ghost", Seconds(3600), ctx()));
  EXPECT_TRUE(Refused(service().AuthenticateNode(ghost.ToPem()), StatusCode::kUnauthenticated,
                      {"node 'ghost' is not enrolled"}));
}

TEST_F(SiteServiceTest, RenewNodeKeepsTheKeyAndRefusesAnother) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  clock_.Advance(Seconds(3600));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(node.key, "node-1", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate renewed,
                                 service().RenewNode(node.record, csr.ToDer()));
  EXPECT_EQ(renewed.PublicKeyDer(), node.key.PublicKeyDer());
  EXPECT_NE(renewed.SerialHex(), node.cert.SerialHex());
  EXPECT_EQ(renewed.NotAfter(), clock_.Now() + options_.node_lifetime);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord record, service().AuthenticateNode(renewed.ToPem()));
  EXPECT_EQ(record.certificate_serial, renewed.SerialHex());

  pki::PrivateKey other = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto other_csr,
                                 pki::CertificateRequest::Create(other, "node-1", rng_));
  EXPECT_TRUE(Refused(service().RenewNode(node.record, other_csr.ToDer()),
                      StatusCode::kInvalidArgument, {"another key", "new join token"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto ca_csr, pki::CertificateRequest::FromPem(sitechain::testing::HandMadeCsrPem(
                       node.key, "node-1", {sitechain::testing::CaTrueExtension()}, rng_)));
  EXPECT_TRUE(Refused(service().RenewNode(node.record, ca_csr.ToDer()),
                      StatusCode::kPermissionDenied, {"CA rights"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_EQ(issued.size(), 2u);
}

// === Deployments and packages ===================================================================

TEST_F(SiteServiceTest, DeployAddsInstancesAndTellsTheNodes) {
  ASSERT_TRUE(service().Install(kHello, "1.0.0").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n1, Join("node-1"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n2, Join("node-2"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto added, service().Deploy(kHello, {"node-1", "node-2"}));
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0].node, "node-1");
  EXPECT_EQ(added[0].deployed_at, clock_.Now());
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].kind, Kind::kDeploy);
  EXPECT_EQ(sent[0].node, "node-1");
  EXPECT_EQ(sent[0].detail, pki_->executable_digest.Hex());
  EXPECT_EQ(sent[1].node, "node-2");

  // Deploying again skips the nodes that run it.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(added, service().Deploy(kHello, {"node-1", "node-2"}));
  EXPECT_TRUE(added.empty());
  EXPECT_TRUE(notifier_.Take().empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances(kHello, ""));
  EXPECT_EQ(instances.size(), 2u);
}

TEST_F(SiteServiceTest, DeployIsAllOrNothing) {
  ASSERT_TRUE(service().Install(kHello, "1.0.0").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n1, Join("node-1"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n2, Join("node-2"));
  ASSERT_TRUE(service().EvictNode("node-2").ok());
  notifier_.Take();
  EXPECT_TRUE(
      Refused(service().Deploy(kHello, {"node-1", "node-9"}), StatusCode::kNotFound, {"node-9"}));
  EXPECT_TRUE(Refused(service().Deploy(kHello, {"node-1", "node-2"}),
                      StatusCode::kFailedPrecondition, {"node 'node-2' is evicted"}));
  EXPECT_TRUE(Refused(service().Deploy("nosuch", {"node-1"}), StatusCode::kNotFound, {"nosuch"}));
  EXPECT_TRUE(
      Refused(service().Deploy(kHello, {}), StatusCode::kInvalidArgument, {"at least one"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances("", ""));
  EXPECT_TRUE(instances.empty());
  EXPECT_TRUE(notifier_.Take().empty());
}

TEST_F(SiteServiceTest, UndeployStopsTheInstanceAndEndsItsCertificates) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  notifier_.Take();
  // All or nothing: one node that does not run it refuses the whole call.
  EXPECT_TRUE(Refused(service().Undeploy(kHello, {"node-1", "node-9"}), StatusCode::kNotFound,
                      {"not deployed to node 'node-9'"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances(kHello, ""));
  EXPECT_EQ(instances.size(), 2u);
  EXPECT_TRUE(notifier_.Take().empty());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto removed, service().Undeploy(kHello, {"node-1"}));
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].node, "node-1");
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kStop);
  EXPECT_EQ(sent[0].node, "node-1");
  EXPECT_NE(sent[0].detail.find("undeployed"), std::string::npos);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied,
                      {"service 'hello' is not deployed to node 'node-1'"}));
  EXPECT_FALSE(results[0].certificate);
  EXPECT_TRUE(Refused(service().PackageFor(nodes[0].record, kHello), StatusCode::kPermissionDenied,
                      {"not deployed to node 'node-1'"}));
  EXPECT_TRUE(RenewOne(nodes[1], kHello).ok());  // node-2 still runs it
}

TEST_F(SiteServiceTest, ANodeFetchesOnlyPackagesDeployedToIt) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode other, Join("node-2"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Package p, service().PackageFor(nodes[0].record, kHello));
  EXPECT_EQ(p.release.version, "1.0.0");
  EXPECT_EQ(ReadFd(p.fd.get()), pki_->options.executable);

  EXPECT_TRUE(Refused(service().PackageFor(other.record, kHello), StatusCode::kPermissionDenied,
                      {"service 'hello' is not deployed to node 'node-2'"}));
  EXPECT_TRUE(Refused(service().PackageFor(nodes[0].record, "nosuch"),
                      StatusCode::kPermissionDenied, {"not deployed"}));
}

TEST_F(SiteServiceTest, NodeReportsAreRecorded) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  service().ReportInstance("node-1", kHello, "running" + std::string(100, '!'), "pid 42");
  service().ReportInstance("node-1", "nosuch", "running", "");  // ignored
  clock_.Advance(Seconds(30));
  service().NodeSeen("node-1");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances("", "node-1"));
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].node_state.size(), 64u);  // capped
  EXPECT_EQ(instances[0].node_detail, "pid 42");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto listed, service().ListNodes());
  ASSERT_EQ(listed.size(), 1u);
  ASSERT_TRUE(listed[0].last_seen);
  EXPECT_EQ(*listed[0].last_seen, clock_.Now());
}

TEST_F(SiteServiceTest, NodeReportsAreCutAtTheStartOfAUtf8Sequence) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  // The limits (64 and 1024 bytes) fall inside a two-byte character: it is left out whole.
  const std::string state = std::string(63, 'a') + "\u00e9";
  std::string detail = "x";
  for (int i = 0; i < 600; ++i) detail += "\u00fc";
  service().ReportInstance("node-1", kHello, state, detail);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances(kHello, "node-1"));
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].node_state, std::string(63, 'a'));
  EXPECT_EQ(instances[0].node_detail, detail.substr(0, 1023));

  // The same for a hello's states; one byte more in front, and the limits fall between
  // characters.
  service().ReportInstances("node-1", {{kHello, "b" + state, "y" + detail}});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(instances, service().ListInstances(kHello, "node-1"));
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].node_state, "b" + std::string(63, 'a'));
  EXPECT_EQ(instances[0].node_detail, ("y" + detail).substr(0, 1024));
}

// === Eviction ===================================================================================

TEST_F(SiteServiceTest, EvictingANodeStopsItsServicesAndLocksItOut) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());
  ASSERT_TRUE(service().Deploy("world", {"node-1"}).ok());
  notifier_.Take();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord evicted, service().EvictNode("node-1"));
  ASSERT_TRUE(evicted.evicted_at);
  EXPECT_EQ(*evicted.evicted_at, clock_.Now());
  std::vector<SentCommand> sent = notifier_.Take();
  // A stop for each service, then the stream is ended with the reason.
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent.back().kind, Kind::kDisconnect);
  EXPECT_EQ(sent.back().node, "node-1");
  EXPECT_NE(sent.back().detail.find("evicted"), std::string::npos);
  sent.pop_back();
  std::set<std::string> stopped;
  for (const auto& c : sent) {
    EXPECT_EQ(c.kind, Kind::kStop);
    EXPECT_EQ(c.node, "node-1");
    EXPECT_NE(c.detail.find("evicted"), std::string::npos);
    stopped.insert(c.services.at(0));
  }
  EXPECT_EQ(stopped, (std::set<std::string>{kHello, "world"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances("", "node-1"));
  EXPECT_TRUE(instances.empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts, service().Counts());
  EXPECT_EQ(counts.nodes, 1u);
  EXPECT_EQ(counts.instances, 1u);

  EXPECT_TRUE(Refused(service().AuthenticateNode(nodes[0].cert.ToPem()),
                      StatusCode::kPermissionDenied,
                      {"node 'node-1' was evicted", "new join token"}));
  // A call already past authentication gets nothing either.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello}));
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied, {"not deployed"}));
  EXPECT_TRUE(Refused(service().PackageFor(nodes[0].record, kHello), StatusCode::kPermissionDenied,
                      {"not deployed"}));
  EXPECT_TRUE(
      Refused(service().Deploy(kHello, {"node-1"}), StatusCode::kFailedPrecondition, {"evicted"}));
  EXPECT_TRUE(
      Refused(service().EvictNode("node-1"), StatusCode::kFailedPrecondition, {"already evicted"}));
  EXPECT_TRUE(Refused(service().EvictNode("ghost"), StatusCode::kNotFound, {"ghost"}));
  // The other node is untouched.
  EXPECT_TRUE(service().AuthenticateNode(nodes[1].cert.ToPem()).ok());
  EXPECT_TRUE(RenewOne(nodes[1], kHello).ok());
}

TEST_F(SiteServiceTest, AnEvictedNodeReEnrollsWithANewToken) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  ASSERT_TRUE(service().EvictNode("node-1").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode again, Join("node-1"));
  EXPECT_FALSE(again.record.evicted_at);
  EXPECT_TRUE(Refused(service().AuthenticateNode(nodes[0].cert.ToPem()),
                      StatusCode::kUnauthenticated, {"no longer knows"}));
  ASSERT_TRUE(service().Deploy(kHello, {"node-1"}).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, RenewOne(again, kHello));
  EXPECT_TRUE(VerifyAsNode(again, cert, kHello).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts, service().Counts());
  EXPECT_EQ(counts.nodes, 1u);
}

}  // namespace
}  // namespace sitechain::slsm::site_test
