// SiteService tests of what an unauthenticated caller, or an enrolled node that means harm, can
// make the site's enrollment do (issue 17): the join token is checked before the CSR is parsed,
// a CSR whose key is outside the profile is refused before its signature is checked, and
// RenewNode is limited per node. The fixture is in site_fixture.h; time is a ManualClock.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/time_format.h"
#include "tests/slsm/site_fixture.h"
#include "tests/support/hostile_key_csr.h"

namespace sitechain::slsm::site_test {
namespace {

// A CSR for CN=node-1 naming a random RSA key of `bits` bits with `exponent`, random signature.
Bytes HostileCsr(size_t bits, const std::vector<uint8_t>& exponent, Random& rng) {
  return sitechain::testing::CsrDerWithKey(sitechain::testing::RandomRsaSpki(bits, exponent, rng),
                                           "node-1", bits / 8, rng);
}

// === Enroll: the token before the CSR ============================================================

TEST_F(SiteServiceTest, EnrollChecksTheTokenBeforeTheCsr) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  const std::string unknown =
      "00000000.00000000000000000000000000000000." + service().site_root().Sha256Fingerprint();
  const Bytes garbage = {0x30, 0x03, 0x02, 0x01, 0x00};
  const Bytes oversized = HostileCsr(16384, sitechain::testing::kExponent65537, rng_);
  for (const Bytes& csr : {garbage, oversized}) {
    EXPECT_TRUE(Refused(service().Enroll(unknown, "node-1", csr), StatusCode::kUnauthenticated,
                        {"unknown join token"}));
    EXPECT_TRUE(Refused(service().Enroll("garbage", "node-1", csr), StatusCode::kUnauthenticated,
                        {"join token"}));
    // A good token for another node: refused for the name, the CSR never looked at.
    EXPECT_TRUE(Refused(service().Enroll(t.token, "node-2", csr), StatusCode::kPermissionDenied,
                        {"made for node 'node-1'"}));
  }
  clock_.Advance(options_.default_token_ttl);
  EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1", oversized), StatusCode::kUnauthenticated,
                      {"expired"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  EXPECT_TRUE(nodes.empty());
}

// With a good token, a key outside the profile is refused by its parameters (INVALID_ARGUMENT,
// saying what is allowed), not by its signature (which a check with that key would cost), and
// the token stays usable.
TEST_F(SiteServiceTest, EnrollRefusesKeysOutsideTheProfileBeforeTheirSignature) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  struct Case {
    size_t bits;
    std::vector<uint8_t> exponent;
    std::string fragment;
  };
  for (const Case& c :
       {Case{16384, sitechain::testing::kExponent65537, "16384-bit modulus, more than the 4096"},
        Case{8192, sitechain::testing::kExponent65537, "8192-bit modulus"},
        Case{2048, sitechain::testing::kExponent3, "public exponent is 3"},
        Case{3072, sitechain::testing::RandomOddNumber(16384, rng_), "a 16384-bit number"}}) {
    SCOPED_TRACE(c.fragment);
    EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1", HostileCsr(c.bits, c.exponent, rng_)),
                        StatusCode::kInvalidArgument,
                        {c.fragment, "RSA of 2048 or 3072 bits with public exponent 65537"}));
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_TRUE(issued.empty());
  EXPECT_TRUE(JoinWith(t.token, "node-1").ok());
}

// The same key check guards the CSRs of enrolled nodes: RenewNode and the instance CSRs of a
// Cert_site renewal (one entry refused, the others served).
TEST_F(SiteServiceTest, RenewalsRefuseKeysOutsideTheProfileBeforeTheirSignature) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  EXPECT_TRUE(
      Refused(service().RenewNode(nodes[0].record,
                                  HostileCsr(16384, sitechain::testing::kExponent65537, rng_)),
              StatusCode::kInvalidArgument, {"16384-bit modulus"}));
  const Bytes hostile = sitechain::testing::CsrDerWithKey(
      sitechain::testing::RandomRsaSpki(16384, sitechain::testing::kExponent65537, rng_), kHello,
      16384 / 8, rng_);
  // (A call names each service once: the refused CSR and the served one in calls of their own.)
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results,
                                 service().Renew(nodes[0].record, {{kHello, hostile}}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kInvalidArgument,
                      {"the CSR's public key is refused", "16384-bit modulus"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(results, service().Renew(nodes[0].record, {Request(kHello)}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].status.ok()) << results[0].status.ToString();
}

// === RenewNode: limited per node ================================================================

class RenewNodeLimitTest : public SiteServiceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SiteServiceTest::SetUp());
    SiteOptions o;
    o.node_lifetime = Seconds(3600);  // with the default burst of 4: one renewal back per 900 s
    ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  }

  Result<pki::Certificate> Renew(const TestNode& node) {
    SITECHAIN_ASSIGN_OR_RETURN(auto csr,
                               pki::CertificateRequest::Create(node.key, node.name, rng_));
    return service().RenewNode(node.record, csr.ToDer());
  }
};

TEST_F(RenewNodeLimitTest, ANodeRenewingInALoopIsRefusedWithWhenToRetry) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode hostile, Join("node-1"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode honest, Join("node-2"));
  ASSERT_EQ(options_.node_renewal_burst, 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Renew(hostile).ok()) << i;
  const TimePoint retry = clock_.Now() + Seconds(900);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Refused(Renew(hostile), StatusCode::kResourceExhausted,
                        {"node 'node-1' renews its certificate too often", "at most 4 renewals",
                         "retry after " + FormatTime(retry), "(in 900 s)"}));
  }
  // Another node is not affected.
  EXPECT_TRUE(Renew(honest).ok());
  // Not a second early; at the time given, one renewal.
  clock_.Advance(Seconds(899));
  EXPECT_TRUE(Refused(Renew(hostile), StatusCode::kResourceExhausted, {"(in 1 s)"}));
  clock_.Advance(Seconds(1));
  EXPECT_TRUE(Renew(hostile).ok());
  EXPECT_TRUE(Refused(Renew(hostile), StatusCode::kResourceExhausted, {"(in 900 s)"}));
  // Only 4 + 1 certificates for node-1 beside its enrollment.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  size_t for_hostile = 0;
  for (const auto& e : issued) for_hostile += e.node == "node-1" ? 1 : 0;
  EXPECT_EQ(for_hostile, 1u + 4u + 1u);
}

// An honest node renews at half its lifetime, and after each renewal retries once (it crashed
// before saving the certificate, or the answer was lost): never refused, over many lifetimes.
TEST_F(RenewNodeLimitTest, AnHonestNodeWithARetryAfterEachRenewalIsNeverRefused) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  for (int i = 0; i < 48; ++i) {
    clock_.Advance(Seconds(1800));
    EXPECT_TRUE(Renew(node).ok()) << i;
    clock_.Advance(Seconds(5));
    EXPECT_TRUE(Renew(node).ok()) << i;
  }
}

// A refused CSR (another key) takes nothing: the limit counts renewals the site signs for.
TEST_F(RenewNodeLimitTest, ACsrForAnotherKeyTakesNoRenewal) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  pki::PrivateKey other = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto other_csr,
                                 pki::CertificateRequest::Create(other, "node-1", rng_));
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(Refused(service().RenewNode(node.record, other_csr.ToDer()),
                        StatusCode::kInvalidArgument, {"another key"}));
  }
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Renew(node).ok()) << i;
}

TEST(SiteOptionsTest, NodeRenewalBurstIsValidated) {
  SiteOptions o;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(o.NodeRenewalRefill(), Seconds(6 * 3600));  // 24 h / 4
  o.node_renewal_burst = 0;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  o.node_renewal_burst = 101;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sitechain::slsm::site_test
