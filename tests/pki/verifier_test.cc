// Tests of the shared verifier (pki/verifier.h, ARCHITECTURE.md §3 rules 1-8) and of the role
// builders (pki/builders.h): every certificate kind built and verified for each key type, then
// one attack at a time, each asserting the exact rule, certificate and reason.
//
// Forged certificates are signed with the REAL issuer key through pki::IssueCertificate from a
// faithful copy of the real certificate (testing::SpecFrom) with one field changed; a control
// test re-signs the unchanged copy and checks it verifies, so each attack fails because of the
// one change it makes.

#include "pki/verifier.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/files.h"
#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/issuer.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/test_chain.h"

namespace sitechain::pki {
namespace {

namespace st = ::sitechain::testing;
using Bytes = std::vector<uint8_t>;
using st::der::Cat;
using st::der::Oid;
using st::der::Tlv;

bool Contains(const std::vector<int>& rules, int rule) {
  return std::find(rules.begin(), rules.end(), rule) != rules.end();
}

std::string Expected(int rule, CertRole role, Reason reason) {
  return "rule " + std::to_string(rule) + ", " + std::string(CertRoleName(role)) + ": " +
         std::string(ReasonName(reason));
}

// The verification failed with exactly this rule, certificate and reason, and the failed rule
// is not reported as passed.
::testing::AssertionResult FailsWith(const Verification& v, int rule, CertRole role,
                                     Reason reason) {
  if (v.ok()) {
    return ::testing::AssertionFailure()
           << "verified (" << st::Describe(v) << "), expected " << Expected(rule, role, reason);
  }
  const Failure& f = *v.failure;
  if (f.rule != rule || f.certificate != role || f.reason != reason) {
    return ::testing::AssertionFailure()
           << "expected " << Expected(rule, role, reason) << ", got " << f.ToString();
  }
  if (Contains(v.rules_checked, rule)) {
    return ::testing::AssertionFailure() << "rule " << rule << " failed but is in rules_checked";
  }
  return ::testing::AssertionSuccess();
}

// Same, where the contract leaves open which of several certificates carrying the same
// (already compared) extension the failure is reported on.
::testing::AssertionResult FailsWithOneOf(const Verification& v, int rule,
                                          const std::vector<CertRole>& roles, Reason reason) {
  if (v.ok()) return ::testing::AssertionFailure() << "verified: " << st::Describe(v);
  for (CertRole role : roles) {
    if (v.failure->certificate == role) return FailsWith(v, rule, role, reason);
  }
  return ::testing::AssertionFailure()
         << "failure on an unexpected certificate: " << v.failure->ToString();
}

void FlipByte(const std::string& path, size_t offset_from_end) {
  Result<std::string> data = ReadSmallFile(path, 16 << 20);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  std::string bytes = *data;
  ASSERT_LT(offset_from_end, bytes.size());
  bytes[bytes.size() - 1 - offset_from_end] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomic(path, bytes, 0755).ok());
}

// ---------------------------------------------------------------------------------------------
// A valid Ed25519 chain made fresh for each test at kTestEpoch.

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<st::TestPki> made = st::MakeTestPki(clock_, rng_, Options());
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    pki_.emplace(std::move(made).value());
  }
  virtual st::TestPkiOptions Options() const { return {}; }

  st::TestPki& pki() { return *pki_; }
  BuildContext ctx() { return BuildContext{clock_, rng_}; }
  Verification Verify(const ChainInput& in, VerifyOptions options = {}) {
    return Verifier(clock_, options).Verify(in);
  }
  Verification VerifyWithCertStore(const Certificate& cert_store) {
    ChainInput in = pki().InstallInput();
    in.cert_store = cert_store;
    return Verify(in);
  }
  Verification VerifyWithCertSite(const Certificate& cert_site) {
    ChainInput in = pki().NodeInput();
    in.cert_site = cert_site;
    return Verify(in);
  }
  Result<Certificate> SignAsStore(const CertificateSpec& spec) {
    return IssueCertificate(spec, Issuer{&pki().store_root, pki().store_key}, rng_);
  }
  Result<Certificate> SignAsSite(const CertificateSpec& spec) {
    return IssueCertificate(spec, Issuer{&pki().site_root, pki().site_key}, rng_);
  }
  // Another root of the same kind: same name (an impostor) or another name.
  Result<Certificate> OtherStoreRoot(const PrivateKey& key, const std::string& name) {
    return BuildStoreRoot(key, name, kDefaultRootLifetime, ctx());
  }

  ManualClock clock_{st::kTestEpoch};
  SeededRandom rng_{20260101};
  std::optional<st::TestPki> pki_;
};

// --- the valid chain --------------------------------------------------------------------------

TEST_F(VerifierTest, NodeChainPassesAllEightRules) {
  ChainInput in = pki().NodeInput();
  in.highest_release_counter = pki().options.release.release_counter;
  Verification v = Verify(in);
  ASSERT_TRUE(v.ok()) << st::Describe(v);
  EXPECT_EQ(v.rules_checked, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_TRUE(v.release.has_value());
  EXPECT_EQ(*v.release, pki().options.release);
  EXPECT_EQ(v.evaluated_at, clock_.Now());
}

TEST_F(VerifierTest, PublishInputRunsOnlyTheRulesItHasInputsFor) {
  Verification v = Verify(pki().PublishInput());
  ASSERT_TRUE(v.ok()) << st::Describe(v);
  EXPECT_TRUE(Contains(v.rules_checked, 1));
  EXPECT_TRUE(Contains(v.rules_checked, 6));
  for (int absent : {2, 3, 4, 5, 7}) EXPECT_FALSE(Contains(v.rules_checked, absent)) << absent;
  ASSERT_TRUE(v.release.has_value());
  EXPECT_EQ(*v.release, pki().options.release);
}

TEST_F(VerifierTest, InstallInputChecksStoreRules) {
  Verification v = Verify(pki().InstallInput());
  ASSERT_TRUE(v.ok()) << st::Describe(v);
  for (int rule : {1, 2, 4, 6}) EXPECT_TRUE(Contains(v.rules_checked, rule)) << rule;
  for (int absent : {3, 5, 7}) EXPECT_FALSE(Contains(v.rules_checked, absent)) << absent;
}

TEST_F(VerifierTest, VerifyAtUsesTheGivenTimeNotTheClock) {
  const TimePoint later = clock_.Now() + Seconds(1000);
  Verification v = Verifier(clock_).VerifyAt(pki().NodeInput(), later);
  ASSERT_TRUE(v.ok()) << st::Describe(v);
  EXPECT_EQ(v.evaluated_at, later);
  // The clock still says kTestEpoch, but at this T the 5000 s Cert_site has expired.
  const TimePoint too_late = pki().cert_site.NotAfter() + Seconds(1);
  EXPECT_TRUE(FailsWith(Verifier(clock_).VerifyAt(pki().NodeInput(), too_late), 3,
                        CertRole::kCertSite, Reason::kExpired));
}

TEST_F(VerifierTest, ExecutableByDescriptorLeavesTheOffsetAlone) {
  int fd = open(pki().executable_path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(lseek(fd, 5, SEEK_SET), 5);
  ChainInput in = pki().NodeInput();
  in.executable_path.reset();
  in.executable_fd = fd;
  Verification v = Verify(in);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
  EXPECT_TRUE(Contains(v.rules_checked, 6));
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5);
  close(fd);
}

TEST_F(VerifierTest, ExecutableGivenTwiceIsRefused) {
  // "At most one of the two": given both, a fail-closed verifier refuses rather than check one
  // and leave the caller believing the other was checked. Here the path names a modified copy.
  const std::string copy = pki().dir.File("copy-of-executable");
  ASSERT_TRUE(WriteFileAtomic(copy, pki().options.executable, 0755).ok());
  FlipByte(copy, 0);
  int fd = open(pki().executable_path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ChainInput in = pki().PublishInput();
  in.executable_path = copy;
  in.executable_fd = fd;
  Verification v = Verify(in);
  EXPECT_FALSE(v.ok()) << "path and descriptor together must be refused: " << st::Describe(v);
  close(fd);
}

TEST_F(VerifierTest, OffNodeTheNodeNameIsNotChecked) {
  // The site manager checks a Cert_site for another node without expected_node_id.
  SiteBinding binding{"node-2", pki().options.release.name, pki().instance_key.PublicKeyDer()};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate other, BuildCertSite(pki().cert_store, binding, pki().site_root, pki().site_key,
                                       kDefaultCertSiteLifetime, ctx()));
  ChainInput in = pki().NodeInput();
  in.cert_site = other;
  in.expected_node_id.reset();
  Verification v = Verify(in);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_F(VerifierTest, FailureToStringNamesRuleCertificateAndReason) {
  FlipByte(pki().executable_path, 0);
  Verification v = Verify(pki().PublishInput());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.failure->ToString().rfind("rule 6, cert-dev: DIGEST_MISMATCH", 0), 0u)
      << v.failure->ToString();
  EXPECT_FALSE(v.failure->detail.empty());
}

TEST(VerifierNames, StableNames) {
  EXPECT_EQ(CertRoleName(CertRole::kStoreRoot), "store-root");
  EXPECT_EQ(CertRoleName(CertRole::kDeveloperIdentity), "developer-identity");
  EXPECT_EQ(CertRoleName(CertRole::kCertDev), "cert-dev");
  EXPECT_EQ(CertRoleName(CertRole::kCertStore), "cert-store");
  EXPECT_EQ(CertRoleName(CertRole::kSiteRoot), "site-root");
  EXPECT_EQ(CertRoleName(CertRole::kNode), "node");
  EXPECT_EQ(CertRoleName(CertRole::kCertSite), "cert-site");
  EXPECT_EQ(ReasonName(Reason::kMissingInput), "MISSING_INPUT");
  EXPECT_EQ(ReasonName(Reason::kNotTrustAnchor), "NOT_TRUST_ANCHOR");
  EXPECT_EQ(ReasonName(Reason::kIssuerMismatch), "ISSUER_MISMATCH");
  EXPECT_EQ(ReasonName(Reason::kBadSignature), "BAD_SIGNATURE");
  EXPECT_EQ(ReasonName(Reason::kNotYetValid), "NOT_YET_VALID");
  EXPECT_EQ(ReasonName(Reason::kExpired), "EXPIRED");
  EXPECT_EQ(ReasonName(Reason::kWrongRole), "WRONG_ROLE");
  EXPECT_EQ(ReasonName(Reason::kExtensionNotAllowed), "EXTENSION_NOT_ALLOWED");
  EXPECT_EQ(ReasonName(Reason::kExtensionMissing), "EXTENSION_MISSING");
  EXPECT_EQ(ReasonName(Reason::kExtensionMalformed), "EXTENSION_MALFORMED");
  EXPECT_EQ(ReasonName(Reason::kSubjectMismatch), "SUBJECT_MISMATCH");
  EXPECT_EQ(ReasonName(Reason::kKeyMismatch), "KEY_MISMATCH");
  EXPECT_EQ(ReasonName(Reason::kExtensionMismatch), "EXTENSION_MISMATCH");
  EXPECT_EQ(ReasonName(Reason::kWrongNode), "WRONG_NODE");
  EXPECT_EQ(ReasonName(Reason::kDigestMismatch), "DIGEST_MISMATCH");
  EXPECT_EQ(ReasonName(Reason::kExecutableUnreadable), "EXECUTABLE_UNREADABLE");
  EXPECT_EQ(ReasonName(Reason::kRollback), "ROLLBACK");
  EXPECT_EQ(ReasonName(Reason::kUnknownCriticalExtension), "UNKNOWN_CRITICAL_EXTENSION");
}

// --- rule 6: the executable -------------------------------------------------------------------

TEST_F(VerifierTest, Rule6_LastByteFlippedIsDigestMismatch) {
  ASSERT_TRUE(Verify(pki().PublishInput()).ok());
  FlipByte(pki().executable_path, 0);  // the last byte: the whole file must be hashed
  EXPECT_TRUE(
      FailsWith(Verify(pki().PublishInput()), 6, CertRole::kCertDev, Reason::kDigestMismatch));
}

TEST_F(VerifierTest, Rule6_OnANode) {
  FlipByte(pki().executable_path, pki().options.executable.size() - 1);  // the first byte
  Verification v = Verify(pki().NodeInput());
  // Rules 4 and 5 made the three digests equal, so any of them may carry the report.
  EXPECT_TRUE(FailsWithOneOf(v, 6, {CertRole::kCertDev, CertRole::kCertStore, CertRole::kCertSite},
                             Reason::kDigestMismatch));
}

TEST_F(VerifierTest, Rule6_OneByteAppendedIsDigestMismatch) {
  ASSERT_TRUE(WriteFileAtomic(pki().executable_path, pki().options.executable + "x", 0755).ok());
  EXPECT_TRUE(
      FailsWith(Verify(pki().PublishInput()), 6, CertRole::kCertDev, Reason::kDigestMismatch));
}

TEST_F(VerifierTest, Rule6_MissingExecutableIsUnreadable) {
  ASSERT_EQ(unlink(pki().executable_path.c_str()), 0);
  EXPECT_TRUE(FailsWith(Verify(pki().PublishInput()), 6, CertRole::kCertDev,
                        Reason::kExecutableUnreadable));
}

class VerifierSha512Test : public VerifierTest {
  st::TestPkiOptions Options() const override {
    st::TestPkiOptions o;
    o.hash_algorithm = HashAlgorithm::kSha512;
    return o;
  }
};

TEST_F(VerifierSha512Test, Rule6_UsesTheAlgorithmNamedInExecutableHash) {
  std::optional<RawExtension> ext = pki().cert_dev.FindExtension(ExecutableHashOid());
  ASSERT_TRUE(ext.has_value());
  Result<Digest> named = DecodeHashExtension(ext->value);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->algorithm, HashAlgorithm::kSha512);
  EXPECT_EQ(*named, pki().executable_digest);
  Verification v = Verify(pki().NodeInput());
  ASSERT_TRUE(v.ok()) << st::Describe(v);
  FlipByte(pki().executable_path, 1000);
  EXPECT_TRUE(
      FailsWith(Verify(pki().PublishInput()), 6, CertRole::kCertDev, Reason::kDigestMismatch));
}

class VerifierMetadataTest : public VerifierTest {
  st::TestPkiOptions Options() const override {
    st::TestPkiOptions o;
    o.metadata = R"({"description":"hello service","ports":[8080]})";
    return o;
  }
};

TEST_F(VerifierMetadataTest, MetadataHashIsCarriedAndChecked) {
  for (const Certificate* cert : {&pki().cert_dev, &pki().cert_store, &pki().cert_site}) {
    std::optional<RawExtension> ext = cert->FindExtension(MetadataHashOid());
    ASSERT_TRUE(ext.has_value()) << cert->Subject().ToString();
    Result<Digest> d = DecodeHashExtension(ext->value);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, *pki().metadata_digest);
  }
  Verification v = Verify(pki().NodeInput());
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_F(VerifierMetadataTest, Rule6_ModifiedMetadataIsDigestMismatch) {
  FlipByte(*pki().metadata_path, 3);
  EXPECT_TRUE(
      FailsWith(Verify(pki().PublishInput()), 6, CertRole::kCertDev, Reason::kDigestMismatch));
}

TEST_F(VerifierMetadataTest, Rule6_MetadataFileNotGivenIsMissingInput) {
  ChainInput in = pki().PublishInput();
  in.metadata_path.reset();
  EXPECT_TRUE(FailsWith(Verify(in), 6, CertRole::kCertDev, Reason::kMissingInput));
}

TEST_F(VerifierMetadataTest, Rule4_CertStoreWithoutMetadataHash) {
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  std::erase_if(spec.extra_extensions,
                [](const RawExtension& e) { return e.oid == MetadataHashOid(); });
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  Verification v = VerifyWithCertStore(forged);
  // The profile does not say whether a dropped protected extension is "missing" or "differs".
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(FailsWith(v, 4, CertRole::kCertStore, v.failure->reason));
  EXPECT_TRUE(v.failure->reason == Reason::kExtensionMismatch ||
              v.failure->reason == Reason::kExtensionMissing)
      << v.failure->ToString();
}

// --- rule 4: the store did not tamper ---------------------------------------------------------

TEST_F(VerifierTest, Rule4_ControlFaithfulReissueOfCertStoreVerifies) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate copy, SignAsStore(st::SpecFrom(pki().cert_store)));
  EXPECT_NE(copy.SerialHex(), pki().cert_store.SerialHex());
  Verification v = VerifyWithCertStore(copy);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_F(VerifierTest, Rule4_DifferentExecutableHash) {
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  ASSERT_TRUE(st::ReplaceExtension(
      spec, ExecutableHashOid(),
      EncodeHashExtension(HashBytes(HashAlgorithm::kSha256, "a different executable"))));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertStore(forged), 4, CertRole::kCertStore, Reason::kExtensionMismatch));
}

TEST_F(VerifierTest, Rule4_SameExecutableOtherAlgorithmIsStillAMismatch) {
  // The SHA-512 digest of the very same executable: true, but not byte for byte.
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  ASSERT_TRUE(st::ReplaceExtension(
      spec, ExecutableHashOid(),
      EncodeHashExtension(HashBytes(HashAlgorithm::kSha512, pki().options.executable))));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertStore(forged), 4, CertRole::kCertStore, Reason::kExtensionMismatch));
}

class VerifierReleaseTamperTest : public VerifierTest, public ::testing::WithParamInterface<int> {};

TEST_P(VerifierReleaseTamperTest, Rule4_DifferentServiceRelease) {
  ServiceRelease changed = pki().options.release;
  switch (GetParam()) {
    case 0:
      changed.name = "evil";
      break;
    case 1:
      changed.version = "1.0.1";
      break;
    case 2:
      changed.release_counter += 1;
      break;
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Bytes value, EncodeServiceRelease(changed));
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  ASSERT_TRUE(st::ReplaceExtension(spec, ServiceReleaseOid(), value));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertStore(forged), 4, CertRole::kCertStore, Reason::kExtensionMismatch));
}

std::string ReleaseFieldName(const ::testing::TestParamInfo<int>& info) {
  static const char* const kNames[] = {"Name", "Version", "Counter"};
  return kNames[info.param];
}

INSTANTIATE_TEST_SUITE_P(Field, VerifierReleaseTamperTest, ::testing::Values(0, 1, 2),
                         ReleaseFieldName);

TEST_F(VerifierTest, Rule4_DifferentSubjectKey) {
  PrivateKey other = PrivateKey::Generate(pki().options.key_type, rng_);
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  spec.subject_public_key = other.PublicKeyDer();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertStore(forged), 4, CertRole::kCertStore, Reason::kKeyMismatch));
}

TEST_F(VerifierTest, Rule4_DifferentSubject) {
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  spec.subject.organization = "mallory";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertStore(forged), 4, CertRole::kCertStore, Reason::kSubjectMismatch));
}

TEST_F(VerifierTest, Rule4_ExtraSitePolicyExtensionIsNotAllowed) {
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Bytes policy, EncodeSitePolicy(R"({"args":["--debug"]})"));
  spec.extra_extensions.push_back(RawExtension{SitePolicyOid(), false, policy});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  EXPECT_TRUE(FailsWith(VerifyWithCertStore(forged), 4, CertRole::kCertStore,
                        Reason::kExtensionNotAllowed));
}

TEST_F(VerifierTest, Rule4_ExtraUnknownNonCriticalExtensionIsNotAllowed) {
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  spec.extra_extensions.push_back(
      RawExtension{std::string(kOidArc) + ".99", false, Bytes{0x0C, 0x02, 'h', 'i'}});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  EXPECT_TRUE(FailsWith(VerifyWithCertStore(forged), 4, CertRole::kCertStore,
                        Reason::kExtensionNotAllowed));
}

// --- rule 5: the site manager did not tamper, and the certificate is this node's ---------------

TEST_F(VerifierTest, Rule5_ControlFaithfulReissueOfCertSiteVerifies) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate copy, SignAsSite(st::SpecFrom(pki().cert_site)));
  Verification v = VerifyWithCertSite(copy);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_F(VerifierTest, Rule5_SitePolicyIsNotProtected) {
  // The site manager may change the policy: only the protected extensions must match.
  CertificateSpec spec = st::SpecFrom(pki().cert_site);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Bytes policy, EncodeSitePolicy(R"({"args":["--port","9090"]})"));
  ASSERT_TRUE(st::ReplaceExtension(spec, SitePolicyOid(), policy));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate reissued, SignAsSite(spec));
  Verification v = VerifyWithCertSite(reissued);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_F(VerifierTest, Rule5_DifferentExecutableHash) {
  CertificateSpec spec = st::SpecFrom(pki().cert_site);
  ASSERT_TRUE(st::ReplaceExtension(
      spec, ExecutableHashOid(),
      EncodeHashExtension(HashBytes(HashAlgorithm::kSha256, "a different executable"))));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertSite(forged), 5, CertRole::kCertSite, Reason::kExtensionMismatch));
}

TEST_F(VerifierTest, Rule5_RaisedReleaseCounter) {
  ServiceRelease changed = pki().options.release;
  changed.release_counter = 1000;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Bytes value, EncodeServiceRelease(changed));
  CertificateSpec spec = st::SpecFrom(pki().cert_site);
  ASSERT_TRUE(st::ReplaceExtension(spec, ServiceReleaseOid(), value));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertSite(forged), 5, CertRole::kCertSite, Reason::kExtensionMismatch));
}

TEST_F(VerifierTest, Rule5_CertSiteForAnotherNode) {
  SiteBinding binding{"node-2", pki().options.release.name, pki().instance_key.PublicKeyDer()};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate other, BuildCertSite(pki().cert_store, binding, pki().site_root, pki().site_key,
                                       kDefaultCertSiteLifetime, ctx()));
  EXPECT_TRUE(FailsWith(VerifyWithCertSite(other), 5, CertRole::kCertSite, Reason::kWrongNode));
}

TEST_F(VerifierTest, Rule5_NodeNameIsNotMatchedAsAPrefix) {
  // spiffe://site-a/node/node-1 is a prefix of spiffe://site-a/node/node-10/svc/hello.
  SiteBinding binding{pki().options.node + "0", pki().options.release.name,
                      pki().instance_key.PublicKeyDer()};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate other, BuildCertSite(pki().cert_store, binding, pki().site_root, pki().site_key,
                                       kDefaultCertSiteLifetime, ctx()));
  EXPECT_TRUE(FailsWith(VerifyWithCertSite(other), 5, CertRole::kCertSite, Reason::kWrongNode));
}

// --- rule 7: anti-rollback --------------------------------------------------------------------

TEST_F(VerifierTest, Rule7_SameOrOlderCounterSeenIsAccepted) {
  const uint64_t counter = pki().options.release.release_counter;
  for (uint64_t seen : {counter, counter - 1, uint64_t{0}}) {
    ChainInput in = pki().PublishInput();
    in.highest_release_counter = seen;
    Verification v = Verify(in);
    EXPECT_TRUE(v.ok()) << seen << ": " << st::Describe(v);
    EXPECT_TRUE(Contains(v.rules_checked, 7)) << seen;
  }
}

TEST_F(VerifierTest, Rule7_LowerCounterIsRollback) {
  ChainInput in = pki().PublishInput();
  in.highest_release_counter = pki().options.release.release_counter + 1;
  EXPECT_TRUE(FailsWith(Verify(in), 7, CertRole::kCertDev, Reason::kRollback));

  ChainInput node = pki().NodeInput();
  node.highest_release_counter = pki().options.release.release_counter + 1;
  EXPECT_TRUE(FailsWithOneOf(Verify(node), 7,
                             {CertRole::kCertDev, CertRole::kCertStore, CertRole::kCertSite},
                             Reason::kRollback));
}

// --- rules 1-3: chains to the right roots -----------------------------------------------------

TEST_F(VerifierTest, Rule1_ImpostorStoreRootWithTheSameName) {
  PrivateKey key = PrivateKey::Generate(pki().options.key_type, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate impostor,
                                 OtherStoreRoot(key, pki().options.store_name));
  ChainInput in = pki().NodeInput();
  in.store_root = impostor;
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kDeveloperIdentity, Reason::kBadSignature));
}

TEST_F(VerifierTest, Rule1_AnotherStoreRoot) {
  PrivateKey key = PrivateKey::Generate(pki().options.key_type, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate other, OtherStoreRoot(key, "other-store"));
  ChainInput in = pki().NodeInput();
  in.store_root = other;
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kDeveloperIdentity, Reason::kIssuerMismatch));
}

TEST_F(VerifierTest, Rule1_SiteRootGivenAsStoreRoot) {
  ChainInput in = pki().NodeInput();
  in.store_root = pki().site_root;
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kDeveloperIdentity, Reason::kIssuerMismatch));
}

TEST_F(VerifierTest, Rule1_NonSelfSignedStoreRootIsNotATrustAnchor) {
  ChainInput in = pki().PublishInput();
  in.store_root = pki().developer_identity;
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kStoreRoot, Reason::kNotTrustAnchor));
}

TEST_F(VerifierTest, Rule2_CertStoreFromAnImpostorStoreRoot) {
  PrivateKey key = PrivateKey::Generate(pki().options.key_type, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate impostor,
                                 OtherStoreRoot(key, pki().options.store_name));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate forged,
      BuildCertStore(pki().cert_dev, impostor, key, kDefaultCertDevLifetime, ctx()));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertStore(forged), 2, CertRole::kCertStore, Reason::kBadSignature));
}

TEST_F(VerifierTest, Rule2_CertStoreFromAnotherStoreRoot) {
  PrivateKey key = PrivateKey::Generate(pki().options.key_type, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate other, OtherStoreRoot(key, "other-store"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate forged,
      BuildCertStore(pki().cert_dev, other, key, kDefaultCertDevLifetime, ctx()));
  EXPECT_TRUE(
      FailsWith(VerifyWithCertStore(forged), 2, CertRole::kCertStore, Reason::kIssuerMismatch));
}

TEST_F(VerifierTest, Rule3_CertSiteFromAnImpostorSiteRoot) {
  PrivateKey key = PrivateKey::Generate(pki().options.key_type, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate impostor, BuildSiteRoot(key, pki().options.site, kDefaultRootLifetime, ctx()));
  SiteBinding binding{pki().options.node, pki().options.release.name,
                      pki().instance_key.PublicKeyDer()};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate forged,
      BuildCertSite(pki().cert_store, binding, impostor, key, kDefaultCertSiteLifetime, ctx()));
  EXPECT_TRUE(FailsWith(VerifyWithCertSite(forged), 3, CertRole::kCertSite, Reason::kBadSignature));
}

// --- rule 1: Cert_dev signed by someone else -----------------------------------------------------

// A Cert_dev must be signed by the developer key that the identity certifies. When the
// signature does not verify with the identity's key the certificate is not authentic, so
// nothing else in it is evidence: the header's kBadSignature ("the issuer's key does not verify
// the signature") is the reason, whatever subject key the forgery names. kKeyMismatch is for a
// correctly signed Cert_dev whose subject key is not the identity's key.
TEST_F(VerifierTest, Rule1_CertDevSignedByAnotherKey) {
  PrivateKey other = PrivateKey::Generate(pki().options.key_type, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate forged,
      st::SignWithWrongKey(st::SpecFrom(pki().cert_dev), pki().developer_identity, other, rng_));
  ASSERT_EQ(forged.IssuerDnDer(), pki().developer_identity.SubjectDnDer());
  ChainInput in = pki().PublishInput();
  in.cert_dev = forged;
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kCertDev, Reason::kBadSignature));
}

TEST_F(VerifierTest, Rule1_CertDevForAnotherKeySignedAndNamedByIt) {
  // What an attacker without the developer key can make: their own key, signed by it.
  PrivateKey other = PrivateKey::Generate(pki().options.key_type, rng_);
  CertificateSpec spec = st::SpecFrom(pki().cert_dev);
  spec.subject_public_key = other.PublicKeyDer();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged,
                                 st::SignWithWrongKey(spec, pki().developer_identity, other, rng_));
  ChainInput in = pki().PublishInput();
  in.cert_dev = forged;
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kCertDev, Reason::kBadSignature));
}

TEST_F(VerifierTest, Rule1_CertDevForAnotherKeySignedByTheDeveloper) {
  PrivateKey other = PrivateKey::Generate(pki().options.key_type, rng_);
  CertificateSpec spec = st::SpecFrom(pki().cert_dev);
  spec.subject_public_key = other.PublicKeyDer();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate forged,
      IssueCertificate(spec, Issuer{&pki().developer_identity, pki().developer_key}, rng_));
  ChainInput in = pki().PublishInput();
  in.cert_dev = forged;
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kCertDev, Reason::kKeyMismatch));
}

// --- validity at T -----------------------------------------------------------------------------

TEST_F(VerifierTest, Rule3_CertSiteValidUntilNotAfterAndNotOneSecondLonger) {
  const TimePoint not_after = pki().cert_site.NotAfter();
  clock_.Set(not_after);
  Verification v = Verify(pki().NodeInput());
  EXPECT_TRUE(v.ok()) << "at notAfter: " << st::Describe(v);
  clock_.Set(not_after + Seconds(1));
  EXPECT_TRUE(FailsWith(Verify(pki().NodeInput()), 3, CertRole::kCertSite, Reason::kExpired));
}

TEST_F(VerifierTest, Rule3_SkewDoesNotExtendNotAfter) {
  clock_.Set(pki().cert_site.NotAfter() + Seconds(1));
  EXPECT_TRUE(FailsWith(Verify(pki().NodeInput(), VerifyOptions{Seconds(3600)}), 3,
                        CertRole::kCertSite, Reason::kExpired));
}

TEST_F(VerifierTest, Rule3_SkewAppliesToNotBefore) {
  // A Cert_site issued an hour later by a site manager whose clock is ahead of this node's.
  clock_.Advance(Seconds(3600));
  SiteBinding binding{pki().options.node, pki().options.release.name,
                      pki().instance_key.PublicKeyDer()};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate late, BuildCertSite(pki().cert_store, binding, pki().site_root, pki().site_key,
                                      kDefaultCertSiteLifetime, ctx()));
  const TimePoint not_before = late.NotBefore();
  ASSERT_EQ(not_before, st::kTestEpoch + Seconds(3600) - kNotBeforeBackdate);
  ChainInput in = pki().NodeInput();
  in.cert_site = late;

  const VerifyOptions skew60{Seconds(60)};
  for (Seconds behind : {Seconds(30), Seconds(60)}) {
    clock_.Set(not_before - behind);
    Verification v = Verify(in, skew60);
    EXPECT_TRUE(v.ok()) << behind.count() << " s behind: " << st::Describe(v);
  }
  clock_.Set(not_before - Seconds(61));
  EXPECT_TRUE(FailsWith(Verify(in, skew60), 3, CertRole::kCertSite, Reason::kNotYetValid));

  const VerifyOptions no_skew{Seconds(0)};
  clock_.Set(not_before);
  EXPECT_TRUE(Verify(in, no_skew).ok());
  clock_.Set(not_before - Seconds(1));
  EXPECT_TRUE(FailsWith(Verify(in, no_skew), 3, CertRole::kCertSite, Reason::kNotYetValid));
}

TEST_F(VerifierTest, Rule1_ExpiredCertDev) {
  clock_.Set(pki().cert_dev.NotAfter() + Seconds(1));
  ASSERT_GT(pki().developer_identity.NotAfter(), clock_.Now());
  EXPECT_TRUE(FailsWith(Verify(pki().PublishInput()), 1, CertRole::kCertDev, Reason::kExpired));
  // On a node too, rule 1 is the first to fail.
  EXPECT_TRUE(FailsWith(Verify(pki().NodeInput()), 1, CertRole::kCertDev, Reason::kExpired));
}

// --- rule 8: unknown critical extensions ------------------------------------------------------

RawExtension UnknownCriticalExtension() {
  return RawExtension{std::string(kOidArc) + ".99", true, Bytes{0x05, 0x00}};
}

TEST_F(VerifierTest, Rule8_ControlFaithfulReissueOfIdentityVerifies) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate copy,
                                 SignAsStore(st::SpecFrom(pki().developer_identity)));
  ChainInput in = pki().NodeInput();
  in.developer_identity = copy;
  Verification v = Verify(in);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_F(VerifierTest, Rule8_UnknownCriticalExtensionInDeveloperIdentity) {
  CertificateSpec spec = st::SpecFrom(pki().developer_identity);
  spec.extra_extensions.push_back(UnknownCriticalExtension());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  ChainInput in = pki().NodeInput();
  in.developer_identity = forged;
  EXPECT_TRUE(
      FailsWith(Verify(in), 8, CertRole::kDeveloperIdentity, Reason::kUnknownCriticalExtension));
}

TEST_F(VerifierTest, Rule8_UnknownCriticalExtensionInSiteRoot) {
  CertificateSpec spec = st::SpecFrom(pki().site_root);
  spec.extra_extensions.push_back(UnknownCriticalExtension());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged,
                                 IssueCertificate(spec, Issuer{nullptr, pki().site_key}, rng_));
  ChainInput in = pki().NodeInput();
  in.site_root = forged;
  EXPECT_TRUE(FailsWith(Verify(in), 8, CertRole::kSiteRoot, Reason::kUnknownCriticalExtension));
}

TEST_F(VerifierTest, Rule8_UnknownCriticalExtensionInCertSiteIsRejected) {
  // Cert_site also has an allow-list, so either refusal is a correct one; it must be refused.
  CertificateSpec spec = st::SpecFrom(pki().cert_site);
  spec.extra_extensions.push_back(UnknownCriticalExtension());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
  Verification v = VerifyWithCertSite(forged);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.failure->certificate, CertRole::kCertSite) << v.failure->ToString();
  EXPECT_TRUE(v.failure->reason == Reason::kUnknownCriticalExtension ||
              v.failure->reason == Reason::kExtensionNotAllowed)
      << v.failure->ToString();
}

// --- VerifyIssuedBy: one link, e.g. a node's client certificate -------------------------------

TEST_F(VerifierTest, IssuedBy_NodeFromAnImpostorSiteRoot) {
  PrivateKey key = PrivateKey::Generate(pki().options.key_type, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate impostor, BuildSiteRoot(key, pki().options.site, kDefaultRootLifetime, ctx()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate node, BuildNodeCertificate(pki().node_key.PublicKeyDer(), pki().options.node,
                                             impostor, key, kDefaultNodeLifetime, ctx()));
  EXPECT_TRUE(FailsWith(Verifier(clock_).VerifyIssuedBy(node, CertRole::kNode, pki().site_root), 3,
                        CertRole::kNode, Reason::kBadSignature));
}

TEST_F(VerifierTest, IssuedBy_ExpiredNode) {
  clock_.Set(pki().node_cert.NotAfter());
  EXPECT_TRUE(
      Verifier(clock_).VerifyIssuedBy(pki().node_cert, CertRole::kNode, pki().site_root).ok());
  clock_.Set(pki().node_cert.NotAfter() + Seconds(1));
  EXPECT_TRUE(
      FailsWith(Verifier(clock_).VerifyIssuedBy(pki().node_cert, CertRole::kNode, pki().site_root),
                3, CertRole::kNode, Reason::kExpired));
}

TEST_F(VerifierTest, IssuedBy_NodeWithUnknownCriticalExtension) {
  CertificateSpec spec = st::SpecFrom(pki().node_cert);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate control, SignAsSite(spec));
  Verification ok = Verifier(clock_).VerifyIssuedBy(control, CertRole::kNode, pki().site_root);
  EXPECT_TRUE(ok.ok()) << "control: " << st::Describe(ok);
  spec.extra_extensions.push_back(RawExtension{std::string(kOidArc) + ".99", true, {0x05, 0x00}});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
  EXPECT_TRUE(FailsWith(Verifier(clock_).VerifyIssuedBy(forged, CertRole::kNode, pki().site_root),
                        8, CertRole::kNode, Reason::kUnknownCriticalExtension));
}

// --- the subject names what the URI SAN names ----------------------------------------------------
// A Cert_site (and a node certificate) is verified by its SPIFFE ID, but many TLS stacks log or
// authorise by the subject: a subject naming another site, node or service than the URI SAN is
// refused, so both readers see one identity.

// The DER of a subject of the given (OID, UTF8String) attributes, each in its own RDN.
Bytes SubjectDer(const std::vector<std::pair<std::string, std::string>>& attributes) {
  Bytes rdns;
  for (const auto& [oid, value] : attributes) {
    rdns =
        Cat({rdns,
             Tlv(0x31, Tlv(0x30, Cat({Oid(oid), Tlv(0x0c, Bytes(value.begin(), value.end()))})))});
  }
  return Tlv(0x30, rdns);
}
constexpr const char* kO = "2.5.4.10";
constexpr const char* kOu = "2.5.4.11";
constexpr const char* kCn = "2.5.4.3";

TEST_F(VerifierTest, Profile_CertSiteSubjectMustNameTheSanSiteNodeAndService) {
  const DistinguishedName real = pki().cert_site.Subject();
  ASSERT_EQ(real, (DistinguishedName{pki().options.release.name, pki().options.node,
                                     pki().options.site}));
  // Control: a faithful copy verifies.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate copy, SignAsSite(st::SpecFrom(pki().cert_site)));
  ASSERT_TRUE(VerifyWithCertSite(copy).ok()) << st::Describe(VerifyWithCertSite(copy));

  const std::vector<std::pair<std::string, DistinguishedName>> forged_subjects = {
      {"another service in CN", {"collector", real.organizational_unit, real.organization}},
      {"another node in OU", {real.common_name, "node-2", real.organization}},
      {"a look-alike node in OU (U+2010 for '-')",
       {real.common_name, "node\u20101", real.organization}},
      {"another site in O", {real.common_name, real.organizational_unit, "site-b"}},
      {"no OU", {real.common_name, "", real.organization}},
  };
  for (const auto& [what, subject] : forged_subjects) {
    SCOPED_TRACE(what);
    CertificateSpec spec = st::SpecFrom(pki().cert_site);
    spec.subject = subject;
    spec.subject_der.clear();
    SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
    EXPECT_TRUE(
        FailsWith(VerifyWithCertSite(forged), 3, CertRole::kCertSite, Reason::kSubjectMismatch));
  }
  // The right attributes, and one more CN after them (a reader of the last CN sees another
  // service).
  CertificateSpec spec = st::SpecFrom(pki().cert_site);
  spec.subject_der = SubjectDer({{kO, real.organization},
                                 {kOu, real.organizational_unit},
                                 {kCn, real.common_name},
                                 {kCn, "collector"}});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
  ASSERT_EQ(forged.Subject(), real) << "the first attributes are the real ones";
  EXPECT_TRUE(
      FailsWith(VerifyWithCertSite(forged), 3, CertRole::kCertSite, Reason::kSubjectMismatch));
}

TEST_F(VerifierTest, Profile_NodeCertificateSubjectMustNameTheSanSiteAndNode) {
  const DistinguishedName real = pki().node_cert.Subject();
  for (const DistinguishedName& subject :
       {DistinguishedName{"node-2", "", real.organization},
        DistinguishedName{real.common_name, "", "site-b"},
        DistinguishedName{real.common_name, "svc", real.organization}}) {
    SCOPED_TRACE(subject.ToString());
    CertificateSpec spec = st::SpecFrom(pki().node_cert);
    spec.subject = subject;
    spec.subject_der.clear();
    SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
    EXPECT_TRUE(FailsWith(Verifier(clock_).VerifyIssuedBy(forged, CertRole::kNode, pki().site_root),
                          3, CertRole::kNode, Reason::kSubjectMismatch));
  }
}

TEST_F(VerifierTest, IssuedBy_WrongIssuer) {
  EXPECT_TRUE(FailsWith(
      Verifier(clock_).VerifyIssuedBy(pki().cert_dev, CertRole::kCertDev, pki().store_root), 1,
      CertRole::kCertDev, Reason::kIssuerMismatch));
}

TEST_F(VerifierTest, IssuedBy_ServiceCertificateIsNotANodeIdentity) {
  // A service instance must not pass as its node (the site manager authorises by node identity),
  // nor a node certificate as a Cert_site.
  Verification as_node =
      Verifier(clock_).VerifyIssuedBy(pki().cert_site, CertRole::kNode, pki().site_root);
  ASSERT_FALSE(as_node.ok()) << "a Cert_site accepted as a node certificate";
  EXPECT_EQ(as_node.failure->rule, 3) << as_node.failure->ToString();
  EXPECT_EQ(as_node.failure->certificate, CertRole::kNode) << as_node.failure->ToString();
  Verification as_site =
      Verifier(clock_).VerifyIssuedBy(pki().node_cert, CertRole::kCertSite, pki().site_root);
  ASSERT_FALSE(as_site.ok()) << "a node certificate accepted as a Cert_site";
  EXPECT_EQ(as_site.failure->rule, 3) << as_site.failure->ToString();
}

TEST_F(VerifierTest, Rule1_CriticalSitechainExtensionIsMalformed) {
  // sitechain extensions are non-critical by profile; a critical one is refused, not copied on.
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  for (auto& ext : spec.extra_extensions) {
    if (ext.oid == ExecutableHashOid()) ext.critical = true;
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  Verification v = VerifyWithCertStore(forged);
  ASSERT_FALSE(v.ok()) << "a critical executableHash was accepted";
  EXPECT_EQ(v.failure->reason, Reason::kExtensionMalformed) << v.failure->ToString();
}

TEST_F(VerifierTest, IssuedBy_ExtraExtensionInCertStore) {
  CertificateSpec spec = st::SpecFrom(pki().cert_store);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Bytes policy, EncodeSitePolicy("{}"));
  spec.extra_extensions.push_back(RawExtension{SitePolicyOid(), false, policy});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsStore(spec));
  // verifier.h: an extension outside Cert_store's allow-list is rule 4 (the store added it),
  // in VerifyIssuedBy as in Verify.
  EXPECT_TRUE(
      FailsWith(Verifier(clock_).VerifyIssuedBy(forged, CertRole::kCertStore, pki().store_root), 4,
                CertRole::kCertStore, Reason::kExtensionNotAllowed));
}

// --- missing inputs: nothing is accepted unchecked ----------------------------------------------
// When a certificate's issuer or trust anchor is absent, Failure::certificate names the absent
// certificate (the header says only "which certificate"; naming the one to supply is what a
// person can act on).

TEST_F(VerifierTest, MissingInput_NothingToVerify) {
  Verification v = Verify(ChainInput{});
  ASSERT_FALSE(v.ok()) << "an empty input must not verify";
  EXPECT_EQ(v.failure->reason, Reason::kMissingInput) << v.failure->ToString();
}

TEST_F(VerifierTest, MissingInput_CertDevWithoutStoreRoot) {
  ChainInput in = pki().PublishInput();
  in.store_root.reset();
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kStoreRoot, Reason::kMissingInput));
}

TEST_F(VerifierTest, MissingInput_CertDevWithoutDeveloperIdentity) {
  ChainInput in = pki().PublishInput();
  in.developer_identity.reset();
  EXPECT_TRUE(FailsWith(Verify(in), 1, CertRole::kDeveloperIdentity, Reason::kMissingInput));
}

TEST_F(VerifierTest, MissingInput_CertStoreWithoutStoreRoot) {
  ChainInput in;
  in.cert_store = pki().cert_store;
  EXPECT_TRUE(FailsWith(Verify(in), 2, CertRole::kStoreRoot, Reason::kMissingInput));
}

TEST_F(VerifierTest, MissingInput_CertSiteWithoutSiteRoot) {
  ChainInput in = pki().NodeInput();
  in.site_root.reset();
  EXPECT_TRUE(FailsWith(Verify(in), 3, CertRole::kSiteRoot, Reason::kMissingInput));
}

TEST_F(VerifierTest, MissingInput_NodeIdWithoutCertSite) {
  ChainInput in = pki().InstallInput();
  in.expected_node_id = pki().NodeId();
  Verification v = Verify(in);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.failure->rule, 5) << v.failure->ToString();
  EXPECT_EQ(v.failure->reason, Reason::kMissingInput) << v.failure->ToString();
}

TEST_F(VerifierTest, MissingInput_CounterWithoutRelease) {
  ChainInput in;
  in.store_root = pki().store_root;
  in.highest_release_counter = 3;
  Verification v = Verify(in);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.failure->rule, 7) << v.failure->ToString();
  EXPECT_EQ(v.failure->reason, Reason::kMissingInput) << v.failure->ToString();
}

// The comparison rules (4, 5) and the file rule (6) need a second input. The header leaves open
// whether a certificate given without it is refused (MISSING_INPUT) or accepted with the rule not
// run; either way the rule must never be reported as passed when it did not run.
::testing::AssertionResult NotClaimedUnchecked(const Verification& v, int rule) {
  if (!v.ok()) {
    if (v.failure->rule == rule && v.failure->reason == Reason::kMissingInput) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "unexpected failure: " << v.failure->ToString();
  }
  if (Contains(v.rules_checked, rule)) {
    return ::testing::AssertionFailure()
           << "rule " << rule << " reported as passed without its input: " << st::Describe(v);
  }
  return ::testing::AssertionSuccess();
}

TEST_F(VerifierTest, MissingInput_CertStoreWithoutCertDev) {
  ChainInput in;
  in.store_root = pki().store_root;
  in.cert_store = pki().cert_store;
  EXPECT_TRUE(NotClaimedUnchecked(Verify(in), 4));
}

TEST_F(VerifierTest, MissingInput_CertDevWithoutExecutable) {
  ChainInput in = pki().PublishInput();
  in.executable_path.reset();
  EXPECT_TRUE(NotClaimedUnchecked(Verify(in), 6));
}

TEST_F(VerifierTest, MissingInput_CertSiteWithoutCertStore) {
  // A Cert_site whose serviceRelease the site manager changed, checked on the node without the
  // Cert_store its protected extensions must be compared with.
  ServiceRelease changed = pki().options.release;
  changed.release_counter = 1000;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Bytes value, EncodeServiceRelease(changed));
  CertificateSpec spec = st::SpecFrom(pki().cert_site);
  ASSERT_TRUE(st::ReplaceExtension(spec, ServiceReleaseOid(), value));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate forged, SignAsSite(spec));
  ChainInput in = pki().NodeInput();
  in.cert_site = forged;
  in.cert_store.reset();
  EXPECT_TRUE(NotClaimedUnchecked(Verify(in), 5));
}

// ---------------------------------------------------------------------------------------------
// Every certificate kind, built and verified, for each key type.

std::string KeyTypeTestName(const ::testing::TestParamInfo<KeyType>& info) {
  std::string name(KeyTypeName(info.param));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string_view AlgorithmName(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return "Ed25519";
    case KeyType::kEcdsaP256:
      return "ECDSA";
    case KeyType::kRsa2048:
    case KeyType::kRsa3072:
      return "RSA";
  }
  return "?";
}

void ExpectNonCriticalAndAllowed(const Certificate& cert, CertRole role) {
  const std::vector<std::string>& allowed = AllowedExtensionOids(role);
  for (const RawExtension& ext : cert.Extensions()) {
    EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), ext.oid) != allowed.end())
        << CertRoleName(role) << " carries " << ExtensionName(ext.oid);
    if (ext.oid.rfind(kOidArc, 0) == 0) {
      EXPECT_FALSE(ext.critical) << ExtensionName(ext.oid);
    }
  }
}

void ExpectProtectedExtensionsEqual(const Certificate& a, const Certificate& b) {
  for (const std::string& oid : ProtectedExtensionOids()) {
    EXPECT_EQ(a.FindExtension(oid), b.FindExtension(oid)) << ExtensionName(oid);
  }
}

void CheckEveryKind(const st::TestPki& p, KeyType type, ManualClock& clock) {
  const std::string_view alg = AlgorithmName(type);
  const std::vector<const Certificate*> all = {&p.store_root, &p.developer_identity, &p.cert_dev,
                                               &p.cert_store, &p.site_root,          &p.node_cert,
                                               &p.cert_site};
  for (const Certificate* cert : all) {
    EXPECT_EQ(cert->PublicKeyAlgorithm(), alg) << cert->Subject().ToString();
    Result<KeyType> parsed = PublicKeyType(cert->PublicKeyDer());
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, type);
    EXPECT_EQ(cert->NotBefore(), clock.Now() - kNotBeforeBackdate) << cert->Subject().ToString();
  }

  // Store root.
  EXPECT_TRUE(p.store_root.IsCa());
  EXPECT_TRUE(p.store_root.IsSelfSigned());
  EXPECT_EQ(p.store_root.Subject(),
            (DistinguishedName{p.options.store_name, "sitechain store CA", ""}));
  EXPECT_EQ(p.store_root.PublicKeyDer(), p.store_key.PublicKeyDer());

  // Developer identity: CA with pathLen 0 for the CSR's key, issued by the store root.
  EXPECT_TRUE(p.developer_identity.IsCa());
  EXPECT_EQ(p.developer_identity.PathLimit(), std::optional<size_t>(0));
  EXPECT_FALSE(p.developer_identity.IsSelfSigned());
  EXPECT_EQ(p.developer_identity.Subject(),
            (DistinguishedName{p.options.developer_name, "sitechain developer", ""}));
  EXPECT_EQ(p.developer_identity.IssuerDnDer(), p.store_root.SubjectDnDer());
  EXPECT_EQ(p.developer_identity.PublicKeyDer(), p.developer_key.PublicKeyDer());
  EXPECT_EQ(p.developer_identity.PublicKeyDer(), p.developer_csr.PublicKeyDer());
  EXPECT_TRUE(p.developer_identity.SignatureVerifiesWith(p.store_root.PublicKeyDer()));

  // Cert_dev: developer key, signed under the identity, carrying the release.
  const ServiceRelease& r = p.options.release;
  EXPECT_FALSE(p.cert_dev.IsCa());
  EXPECT_EQ(p.cert_dev.Subject(), (DistinguishedName{r.name, r.version, p.options.developer_name}));
  EXPECT_EQ(p.cert_dev.IssuerDnDer(), p.developer_identity.SubjectDnDer());
  EXPECT_EQ(p.cert_dev.PublicKeyDer(), p.developer_key.PublicKeyDer());
  EXPECT_TRUE(p.cert_dev.SignatureVerifiesWith(p.developer_key.PublicKeyDer()));
  ExpectNonCriticalAndAllowed(p.cert_dev, CertRole::kCertDev);
  std::optional<RawExtension> hash = p.cert_dev.FindExtension(ExecutableHashOid());
  ASSERT_TRUE(hash.has_value());
  Result<Digest> digest = DecodeHashExtension(hash->value);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, p.executable_digest);
  std::optional<RawExtension> release = p.cert_dev.FindExtension(ServiceReleaseOid());
  ASSERT_TRUE(release.has_value());
  Result<ServiceRelease> decoded = DecodeServiceRelease(release->value);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, r);
  EXPECT_FALSE(p.cert_dev.FindExtension(MetadataHashOid()).has_value());

  // Cert_store: same subject and key, protected extensions byte for byte, by the store root.
  EXPECT_FALSE(p.cert_store.IsCa());
  EXPECT_EQ(p.cert_store.SubjectDnDer(), p.cert_dev.SubjectDnDer());
  EXPECT_EQ(p.cert_store.PublicKeyDer(), p.cert_dev.PublicKeyDer());
  EXPECT_EQ(p.cert_store.IssuerDnDer(), p.store_root.SubjectDnDer());
  EXPECT_TRUE(p.cert_store.SignatureVerifiesWith(p.store_root.PublicKeyDer()));
  EXPECT_LE(p.cert_store.NotAfter(), p.cert_dev.NotAfter());
  ExpectProtectedExtensionsEqual(p.cert_store, p.cert_dev);
  ExpectNonCriticalAndAllowed(p.cert_store, CertRole::kCertStore);

  // Site root.
  EXPECT_TRUE(p.site_root.IsCa());
  EXPECT_TRUE(p.site_root.IsSelfSigned());
  EXPECT_EQ(p.site_root.Subject(), (DistinguishedName{p.options.site, "sitechain site CA", ""}));

  // Node: the node's key, its SPIFFE ID, issued by the site root.
  EXPECT_FALSE(p.node_cert.IsCa());
  EXPECT_EQ(p.node_cert.Subject(), (DistinguishedName{p.options.node, "", p.options.site}));
  EXPECT_EQ(p.node_cert.UriSans(), std::vector<std::string>{p.NodeId()});
  EXPECT_EQ(p.node_cert.PublicKeyDer(), p.node_key.PublicKeyDer());
  EXPECT_EQ(p.node_cert.IssuerDnDer(), p.site_root.SubjectDnDer());
  EXPECT_TRUE(p.node_cert.SignatureVerifiesWith(p.site_root.PublicKeyDer()));
  EXPECT_FALSE(p.node_cert.SignatureVerifiesWith(p.store_root.PublicKeyDer()));
  EXPECT_TRUE(p.node_cert.FindExtension(kExtKeyUsageOid).has_value());

  // Cert_site: the instance key, protected extensions + sitePolicy, the service's SPIFFE ID.
  EXPECT_FALSE(p.cert_site.IsCa());
  EXPECT_EQ(p.cert_site.Subject(), (DistinguishedName{r.name, p.options.node, p.options.site}));
  EXPECT_EQ(p.cert_site.UriSans(),
            std::vector<std::string>{ServiceSpiffeId(p.options.site, p.options.node, r.name)});
  EXPECT_EQ(p.cert_site.PublicKeyDer(), p.instance_key.PublicKeyDer());
  EXPECT_EQ(p.cert_site.IssuerDnDer(), p.site_root.SubjectDnDer());
  EXPECT_TRUE(p.cert_site.SignatureVerifiesWith(p.site_root.PublicKeyDer()));
  ExpectProtectedExtensionsEqual(p.cert_site, p.cert_store);
  ExpectNonCriticalAndAllowed(p.cert_site, CertRole::kCertSite);
  std::optional<RawExtension> policy = p.cert_site.FindExtension(SitePolicyOid());
  ASSERT_TRUE(policy.has_value());
  Result<std::string> policy_json = DecodeSitePolicy(policy->value);
  ASSERT_TRUE(policy_json.ok()) << policy_json.status().ToString();
  EXPECT_EQ(*policy_json, p.options.site_policy_json);

  // Each link on its own.
  const Verifier verifier(clock);
  const struct {
    const Certificate& cert;
    CertRole role;
    const Certificate& issuer;
  } links[] = {
      {p.store_root, CertRole::kStoreRoot, p.store_root},
      {p.developer_identity, CertRole::kDeveloperIdentity, p.store_root},
      {p.cert_dev, CertRole::kCertDev, p.developer_identity},
      {p.cert_store, CertRole::kCertStore, p.store_root},
      {p.site_root, CertRole::kSiteRoot, p.site_root},
      {p.node_cert, CertRole::kNode, p.site_root},
      {p.cert_site, CertRole::kCertSite, p.site_root},
  };
  for (const auto& link : links) {
    Verification v = verifier.VerifyIssuedBy(link.cert, link.role, link.issuer);
    EXPECT_TRUE(v.ok()) << CertRoleName(link.role) << ": " << st::Describe(v);
  }

  // And the whole chain verifies, every rule.
  ChainInput in = p.NodeInput();
  in.highest_release_counter = r.release_counter;
  Verification v = verifier.Verify(in);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
  EXPECT_EQ(v.rules_checked, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
}

class VerifierKeyTypeTest : public ::testing::TestWithParam<KeyType> {
 protected:
  void SetUp() override {
    st::TestPkiOptions options;
    options.key_type = GetParam();
    Result<st::TestPki> made = st::MakeTestPki(clock_, rng_, options);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    pki_.emplace(std::move(made).value());
  }

  ManualClock clock_{st::kTestEpoch};
  SeededRandom rng_{7};
  std::optional<st::TestPki> pki_;
};

TEST_P(VerifierKeyTypeTest, EveryKindBuildsAndVerifies) {
  CheckEveryKind(*pki_, GetParam(), clock_);
}

TEST_P(VerifierKeyTypeTest, ForgedSignaturesAreRefused) {
  st::TestPki& p = *pki_;
  PrivateKey other = PrivateKey::Generate(GetParam(), rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate cert_dev,
      st::SignWithWrongKey(st::SpecFrom(p.cert_dev), p.developer_identity, other, rng_));
  ChainInput in = p.NodeInput();
  in.cert_dev = cert_dev;
  EXPECT_TRUE(FailsWith(Verifier(clock_).Verify(in), 1, CertRole::kCertDev, Reason::kBadSignature));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate cert_site,
      st::SignWithWrongKey(st::SpecFrom(p.cert_site), p.site_root, other, rng_));
  in = p.NodeInput();
  in.cert_site = cert_site;
  EXPECT_TRUE(
      FailsWith(Verifier(clock_).Verify(in), 3, CertRole::kCertSite, Reason::kBadSignature));
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, VerifierKeyTypeTest,
                         ::testing::Values(KeyType::kEd25519, KeyType::kEcdsaP256,
                                           KeyType::kRsa2048),
                         KeyTypeTestName);

TEST(VerifierRsa3072, EveryKindBuildsAndVerifies) {
  ManualClock clock(st::kTestEpoch);
  SeededRandom rng(3072);
  st::TestPkiOptions options;
  options.key_type = KeyType::kRsa3072;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(st::TestPki p, st::MakeTestPki(clock, rng, options));
  CheckEveryKind(p, KeyType::kRsa3072, clock);
}

// ---------------------------------------------------------------------------------------------
// Builders: what they refuse, and how they set validity.

using ChainBuilderTest = VerifierTest;

TEST_F(ChainBuilderTest, NotBeforeIsBackdatedAndLifetimesAreHonoured) {
  const TimePoint now = clock_.Now();
  // notAfter is now + lifetime; a builder that counted from the backdated notBefore would be
  // at most kNotBeforeBackdate short.
  auto expect_lifetime = [&](const Certificate& cert, Seconds lifetime) {
    EXPECT_EQ(cert.NotBefore(), now - kNotBeforeBackdate) << cert.Subject().ToString();
    EXPECT_LE(cert.NotAfter(), now + lifetime) << cert.Subject().ToString();
    EXPECT_GE(cert.NotAfter(), now + lifetime - kNotBeforeBackdate) << cert.Subject().ToString();
  };
  expect_lifetime(pki().store_root, kDefaultRootLifetime);
  expect_lifetime(pki().developer_identity, kDefaultDeveloperIdentityLifetime);
  expect_lifetime(pki().cert_dev, kDefaultCertDevLifetime);
  expect_lifetime(pki().site_root, kDefaultRootLifetime);
  expect_lifetime(pki().node_cert, kDefaultNodeLifetime);
  expect_lifetime(pki().cert_site, kDefaultCertSiteLifetime);
}

class ChainShortRootsTest : public VerifierTest {
  st::TestPkiOptions Options() const override {
    st::TestPkiOptions o;
    o.store_root_lifetime = Seconds(86400);
    o.site_root_lifetime = Seconds(3600);
    return o;
  }
};

TEST_F(ChainShortRootsTest, LifetimesAreCappedAtTheIssuersNotAfter) {
  const st::TestPki& p = pki();
  EXPECT_EQ(p.developer_identity.NotAfter(), p.store_root.NotAfter());
  EXPECT_EQ(p.cert_dev.NotAfter(), p.developer_identity.NotAfter());
  EXPECT_EQ(p.cert_store.NotAfter(), p.cert_dev.NotAfter());
  EXPECT_EQ(p.node_cert.NotAfter(), p.site_root.NotAfter());
  EXPECT_EQ(p.cert_site.NotAfter(), p.site_root.NotAfter());
  Verification v = Verify(p.NodeInput());
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_F(ChainBuilderTest, CertStoreIsCappedAtCertDevsNotAfter) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate cert_dev,
      BuildCertDev(ReleaseSpec{pki().options.release, pki().executable_digest, std::nullopt},
                   pki().developer_identity, pki().developer_key, Seconds(1000), ctx()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate cert_store,
      BuildCertStore(cert_dev, pki().store_root, pki().store_key, kDefaultCertDevLifetime, ctx()));
  EXPECT_EQ(cert_store.NotAfter(), cert_dev.NotAfter());
}

TEST_F(ChainBuilderTest, ExpiredIssuerIsAFailedPrecondition) {
  clock_.Set(pki().store_root.NotAfter() + Seconds(1));
  Result<Certificate> identity =
      BuildDeveloperIdentity(pki().developer_csr, pki().store_root, pki().store_key,
                             kDefaultDeveloperIdentityLifetime, ctx());
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.status().code(), StatusCode::kFailedPrecondition)
      << identity.status().ToString();

  clock_.Set(pki().site_root.NotAfter() + Seconds(1));
  Result<Certificate> node =
      BuildNodeCertificate(pki().node_key.PublicKeyDer(), "node-3", pki().site_root, pki().site_key,
                           kDefaultNodeLifetime, ctx());
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), StatusCode::kFailedPrecondition) << node.status().ToString();
}

TEST_F(ChainBuilderTest, CertDevRefusesAKeyThatIsNotTheIdentitys) {
  PrivateKey other = PrivateKey::Generate(pki().options.key_type, rng_);
  Result<Certificate> cert_dev =
      BuildCertDev(ReleaseSpec{pki().options.release, pki().executable_digest, std::nullopt},
                   pki().developer_identity, other, kDefaultCertDevLifetime, ctx());
  EXPECT_FALSE(cert_dev.ok());
}

TEST_F(ChainBuilderTest, CertStoreRefusesACertificateOfAnotherRole) {
  Result<Certificate> cert_store = BuildCertStore(pki().developer_identity, pki().store_root,
                                                  pki().store_key, kDefaultCertDevLifetime, ctx());
  EXPECT_FALSE(cert_store.ok());
}

TEST_F(ChainBuilderTest, BadNamesAreInvalidArguments) {
  Result<Certificate> site_root =
      BuildSiteRoot(pki().site_key, "Site A", kDefaultRootLifetime, ctx());
  EXPECT_EQ(site_root.status().code(), StatusCode::kInvalidArgument);
  Result<Certificate> node =
      BuildNodeCertificate(pki().node_key.PublicKeyDer(), "node/1", pki().site_root, pki().site_key,
                           kDefaultNodeLifetime, ctx());
  EXPECT_EQ(node.status().code(), StatusCode::kInvalidArgument);
  SiteBinding bad_node{"Node 1", "hello", pki().instance_key.PublicKeyDer()};
  EXPECT_EQ(BuildCertSite(pki().cert_store, bad_node, pki().site_root, pki().site_key,
                          kDefaultCertSiteLifetime, ctx())
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  SiteBinding bad_policy{"node-1", "hello", pki().instance_key.PublicKeyDer(), "[1,2]"};
  EXPECT_EQ(BuildCertSite(pki().cert_store, bad_policy, pki().site_root, pki().site_key,
                          kDefaultCertSiteLifetime, ctx())
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

// --- BuildDeveloperIdentity and hand-made CSRs ---------------------------------------------------
// CertificateRequest::Create never asks for extensions, so a CSR that does is made by hand
// (tests/support/hand_made_csr.h) and parsed with CertificateRequest::FromPem. A control CSR made
// the same way without extensions is accepted, so the refusals are due to what the CSR asks for.

using st::CsrRequest;
using st::HandMadeCsrPem;

class ChainCsrTest : public VerifierTest {
 protected:
  Result<Certificate> Build(const CsrRequest& request) {
    PrivateKey key = PrivateKey::Generate(KeyType::kEd25519, rng_);
    Result<CertificateRequest> csr =
        CertificateRequest::FromPem(HandMadeCsrPem(key, request, rng_));
    if (!csr.ok()) return csr.status().WithContext("hand-made CSR does not parse");
    return BuildDeveloperIdentity(*csr, pki().store_root, pki().store_key,
                                  kDefaultDeveloperIdentityLifetime, ctx());
  }
};

TEST_F(ChainCsrTest, ControlHandMadeCsrWithoutExtensionsIsAccepted) {
  PrivateKey key = PrivateKey::Generate(KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CertificateRequest csr,
                                 CertificateRequest::FromPem(HandMadeCsrPem(key, {}, rng_)));
  EXPECT_TRUE(csr.SignatureValid());
  EXPECT_FALSE(csr.RequestsCa());
  EXPECT_EQ(csr.CommonName(), "mallory");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Certificate identity,
                                 BuildDeveloperIdentity(csr, pki().store_root, pki().store_key,
                                                        kDefaultDeveloperIdentityLifetime, ctx()));
  EXPECT_EQ(identity.PublicKeyDer(), key.PublicKeyDer());
  EXPECT_EQ(identity.Subject().common_name, "mallory");
}

TEST_F(ChainCsrTest, CsrAskingForCaIsRefused) {
  PrivateKey key = PrivateKey::Generate(KeyType::kEd25519, rng_);
  CsrRequest request;
  request.extensions = {st::CaTrueExtension()};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CertificateRequest csr,
                                 CertificateRequest::FromPem(HandMadeCsrPem(key, request, rng_)));
  EXPECT_TRUE(csr.SignatureValid());
  EXPECT_TRUE(csr.RequestsCa());
  EXPECT_EQ(csr.RequestedExtensions().size(), 1u);
  Result<Certificate> identity = BuildDeveloperIdentity(csr, pki().store_root, pki().store_key,
                                                        kDefaultDeveloperIdentityLifetime, ctx());
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.status().code(), StatusCode::kPermissionDenied)
      << identity.status().ToString();
}

TEST_F(ChainCsrTest, CsrAskingForAnyExtensionIsRefused) {
  CsrRequest request;
  request.extensions = {RawExtension{ExecutableHashOid(), false,
                                     EncodeHashExtension(HashBytes(HashAlgorithm::kSha256, "x"))}};
  Result<Certificate> identity = Build(request);
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.status().code(), StatusCode::kPermissionDenied)
      << identity.status().ToString();
}

TEST_F(ChainCsrTest, CsrWhoseSignatureAlgorithmCannotBeEncodedAgainIsMalformed) {
  // Found by csr_fuzz (corpus/csr/invalid-oid-prefix-sigalg.pem): the signature algorithm's OID,
  // 2.1409784.10045.4.3.2, decodes but Botan cannot encode it, so ToDer would throw. Such a CSR
  // is refused when it is read.
  constexpr const char* kPem = R"(-----BEGIN CERTIFICATE REQUEST-----
MIIBhjCCAQsCAQAwMDEOMAwGA1UEAwwFbm9kZTExEDAOBgNVBAoMB0V4YW1wbGUx
DDAKBgNVBAsMA29wczB2MBAGByqGSM49AgEGBSuBBAAiA2IABDwbhXN9L4OjHqwK
zcqwDsyym00nh6CaQDvY3wYNbiPHFtgBghwiUpih5NcaakiNybLtaxfHBLkCyF74
+oXELpY7kQhaOIAzEdl7+G/uzPb6mkN2oqwAR5oTiHBcrePBDaBcMFoGCSqGSIb3
DQMJDjFNMEswDwYDVR0IAQH/BAUwAwEB/zA4BgNVHREEMTAvgg1ub2RlMS5leGFt
cGxlhwQKAAABhhhzcGlmZmU6Ly9zaXRlL25vZGUvbm9kZTEwCgYI1oZIzj0EAwID
aQAwZgIxAPjJic1i7LojlTMyMYNrz32t4n4ilp5xjURUvewnmKaVI+66WJSVqRpH
C1AHxbCVugIxAMx0yy04ccHBzCtiWbD6Yql3hgppiwPcENslRzC1Uqp501k1uqgW
Zw0lH20PvYd2tQ==
-----END CERTIFICATE REQUEST-----
)";
  Result<CertificateRequest> csr = CertificateRequest::FromPem(kPem);
  ASSERT_FALSE(csr.ok()) << "decoded: " << csr->ToPem();
  EXPECT_EQ(csr.status().code(), StatusCode::kInvalidArgument) << csr.status().ToString();
}

TEST_F(ChainCsrTest, CsrWithABadSignatureDecodesAndIsRefusedAsUnauthenticated) {
  // The decoder does not check the self-signature; CheckRequest, which every issuer calls, does.
  PrivateKey key = PrivateKey::Generate(KeyType::kEd25519, rng_);
  CsrRequest request;
  request.corrupt_signature = true;
  Result<CertificateRequest> csr = CertificateRequest::FromPem(HandMadeCsrPem(key, request, rng_));
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  EXPECT_FALSE(csr->SignatureValid());
  Status checked = CheckRequest(*csr, "developer");
  EXPECT_EQ(checked.code(), StatusCode::kUnauthenticated) << checked.ToString();
  Result<Certificate> identity = Build(request);
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.status().code(), StatusCode::kUnauthenticated) << identity.status().ToString();
  // Control: the same CSR with its signature intact is accepted.
  request.corrupt_signature = false;
  Result<CertificateRequest> good = CertificateRequest::FromPem(HandMadeCsrPem(key, request, rng_));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE(good->SignatureValid());
  EXPECT_TRUE(CheckRequest(*good, "developer").ok());
}

TEST_F(ChainCsrTest, CommonNameMustBe1To64Bytes) {
  CsrRequest request;
  request.common_name = std::string(64, 'a');
  Result<Certificate> ok = Build(request);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  request.common_name = std::string(65, 'a');
  EXPECT_EQ(Build(request).status().code(), StatusCode::kInvalidArgument);
  request.common_name = "";
  EXPECT_EQ(Build(request).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace

// --- a repeated extension, forged at the DER level ------------------------------------------
// Botan refuses to build a certificate with a repeated extension, so the attacker's certificate
// is made by hand: Cert_store's DER with a second serviceRelease appended to its extensions,
// re-signed with the store key (Ed25519 signs the TBSCertificate bytes themselves).

// Splits the contents of the constructed TLV at d[pos] into its child TLVs.
std::vector<Bytes> Children(const Bytes& d) {
  auto header = [&](size_t pos, size_t* len) {
    size_t n = d[pos + 1], hdr = 2;
    if (n & 0x80) {
      hdr += n & 0x7f;
      n = 0;
      for (size_t i = 2; i < hdr; ++i) n = n << 8 | d[pos + i];
    }
    *len = n;
    return hdr;
  };
  size_t len = 0;
  size_t pos = header(0, &len);
  std::vector<Bytes> out;
  while (pos < d.size()) {
    size_t child_len = 0;
    size_t hdr = header(pos, &child_len);
    out.emplace_back(d.begin() + pos, d.begin() + pos + hdr + child_len);
    pos += hdr + child_len;
  }
  return out;
}

TEST_F(VerifierTest, Rule4_RepeatedServiceReleaseInCertStoreIsMalformed) {
  ServiceRelease other = pki().options.release;
  other.version = "9.9.9";
  other.release_counter = 99;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Bytes value, EncodeServiceRelease(other));
  std::vector<Bytes> cert = Children(pki().cert_store.ToDer());
  std::vector<Bytes> tbs = Children(cert[0]);
  Bytes exts = Children(tbs.back())[0];  // [3] { SEQUENCE OF Extension }
  std::vector<Bytes> list = Children(exts);
  list.push_back(Tlv(0x30, Cat({Oid(ServiceReleaseOid()), Tlv(0x04, value)})));
  Bytes all;
  for (const Bytes& e : list) all = Cat({all, e});
  tbs.back() = Tlv(0xA3, Tlv(0x30, all));
  Bytes tbs_der;
  for (const Bytes& f : tbs) tbs_der = Cat({tbs_der, f});
  tbs_der = Tlv(0x30, tbs_der);
  const Bytes signature = SignMessage(
      pki().store_key,
      std::string_view(reinterpret_cast<const char*>(tbs_der.data()), tbs_der.size()), rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      Certificate forged,
      Certificate::FromDer(
          Tlv(0x30, Cat({tbs_der, cert[1], Tlv(0x03, Cat({Bytes{0x00}, signature}))}))));
  ASSERT_EQ(forged.Extensions().size(), pki().cert_store.Extensions().size() + 1);
  Verification v = VerifyWithCertStore(forged);
  ASSERT_FALSE(v.ok()) << "a Cert_store with two serviceRelease extensions was accepted";
  EXPECT_EQ(v.failure->certificate, CertRole::kCertStore) << v.failure->ToString();
  EXPECT_EQ(v.failure->reason, Reason::kExtensionMalformed) << v.failure->ToString();
}

}  // namespace sitechain::pki
