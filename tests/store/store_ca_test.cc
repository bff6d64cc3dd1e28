#include "store/store_ca.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "pki/verifier.h"
#include "tests/common/temp_dir.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/test_chain.h"

namespace sitechain::store {
namespace {

using testutil::EntriesOf;
using testutil::ModeOf;
using testutil::ReadWholeFile;
using testutil::TempDir;
using testutil::WriteWholeFile;

constexpr Seconds kDay{86400};
constexpr Seconds kTwoYears{2 * 365 * 86400};

// CertificateRequest::Create never asks for extensions, so a CSR that does is made by hand
// (tests/support/hand_made_csr.h). A control CSR made the same way without extensions is accepted.
using testing::HandMadeCsrPem;

class StoreCaTest : public ::testing::Test {
 protected:
  StoreCa::InitOptions Options(const std::string& name = "store") const {
    StoreCa::InitOptions opts;
    opts.dir = tmp_.Path(name);
    opts.name = "test store";
    return opts;
  }

  // A CSR for a fresh Ed25519 key named `name`.
  pki::CertificateRequest Csr(const std::string& name) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    return Csr(key, name);
  }
  pki::CertificateRequest Csr(const pki::PrivateKey& key, const std::string& name) {
    Result<pki::CertificateRequest> csr = pki::CertificateRequest::Create(key, name, rng_);
    EXPECT_TRUE(csr.ok()) << csr.status().ToString();
    return std::move(csr).value();
  }

  pki::BuildContext ctx() { return pki::BuildContext{clock_, rng_}; }

  // A developer identity for a fresh key, issued by `ca`.
  struct Developer {
    pki::PrivateKey key;
    pki::Certificate identity;
  };
  Result<Developer> IssueDeveloper(const StoreCa& ca, const std::string& name) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate identity,
                               ca.IssueDeveloper(Csr(key, name), kTwoYears, ctx()));
    return Developer{std::move(key), std::move(identity)};
  }

  TempDir tmp_;
  ManualClock clock_{testing::kTestEpoch};
  SeededRandom rng_{42};
};

TEST_F(StoreCaTest, InitThenOpenGivesTheSameStore) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  EXPECT_EQ(ca.dir(), tmp_.Path("store"));
  EXPECT_EQ(ca.root_path(), tmp_.Path("store") + "/root.pem");
  EXPECT_EQ(ca.root().Subject().common_name, "test store");
  EXPECT_TRUE(ca.root().IsCa());
  EXPECT_TRUE(ca.root().IsSelfSigned());
  // The root starts at the clock's time (minus the builders' backdate) and lives 10 years.
  EXPECT_LE(ca.root().NotBefore(), clock_.Now());
  EXPECT_EQ(ca.root().NotAfter(), clock_.Now() + Seconds(10 * 365 * 86400));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa opened, StoreCa::Open(tmp_.Path("store"), std::nullopt));
  EXPECT_EQ(opened.root(), ca.root());
  EXPECT_EQ(opened.dir(), ca.dir());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto loaded, pki::Certificate::Load(ca.root_path()));
  EXPECT_EQ(loaded, ca.root());

  // The root passes the same verifier every party uses.
  pki::Verifier verifier(clock_);
  pki::Verification v = verifier.VerifyIssuedBy(ca.root(), pki::CertRole::kStoreRoot, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
}

TEST_F(StoreCaTest, InitIsDeterministicGivenClockAndRandom) {
  SeededRandom rng_a(7), rng_b(7);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa a, StoreCa::Init(Options("a"), clock_, rng_a));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa b, StoreCa::Init(Options("b"), clock_, rng_b));
  EXPECT_EQ(a.root(), b.root());
  EXPECT_EQ(ReadWholeFile(tmp_.Path("a/root.key")), ReadWholeFile(tmp_.Path("b/root.key")));
}

TEST_F(StoreCaTest, InitMakesThePrivateStatePrivate) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  EXPECT_EQ(ModeOf(tmp_.Path("store")), 0700);
  EXPECT_EQ(ModeOf(tmp_.Path("store/root.key")), 0600);
  EXPECT_EQ(ModeOf(tmp_.Path("store/root.pem")), 0644);
  // Init writes the CA and nothing else: the registry lives in the database.
  EXPECT_EQ(EntriesOf(ca.dir()), (std::set<std::string>{"root.key", "root.pem"}));
}

TEST_F(StoreCaTest, InitRefusesADirectoryThatHoldsAStore) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  const std::string root = ReadWholeFile(tmp_.Path("store/root.pem"));
  const std::string key = ReadWholeFile(tmp_.Path("store/root.key"));

  StoreCa::InitOptions again = Options();
  again.name = "replacement";
  Result<StoreCa> second = StoreCa::Init(again, clock_, rng_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists) << second.status().ToString();
  EXPECT_EQ(ReadWholeFile(tmp_.Path("store/root.pem")), root);
  EXPECT_EQ(ReadWholeFile(tmp_.Path("store/root.key")), key);

  // A half-written store (key without certificate) is not replaced either.
  ASSERT_EQ(std::remove(tmp_.Path("store/root.pem").c_str()), 0);
  second = StoreCa::Init(again, clock_, rng_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists) << second.status().ToString();
  EXPECT_EQ(ReadWholeFile(tmp_.Path("store/root.key")), key);
}

TEST_F(StoreCaTest, InitRefusesAnUnknownKeyTypeAndCreatesNothing) {
  StoreCa::InitOptions opts = Options();
  opts.key_type = "rsa-1024";
  Result<StoreCa> ca = StoreCa::Init(opts, clock_, rng_);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kInvalidArgument) << ca.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(tmp_.Path("store")));
}

TEST_F(StoreCaTest, InitWithEcdsaKey) {
  StoreCa::InitOptions opts = Options();
  opts.key_type = "ecdsa-p256";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(opts, clock_, rng_));
  EXPECT_EQ(ca.root().PublicKeyAlgorithm(), "ECDSA");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa opened, StoreCa::Open(ca.dir(), std::nullopt));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev, opened.IssueDeveloper(Csr("alice"), kTwoYears, ctx()));
  EXPECT_TRUE(dev.SignatureVerifiesWith(ca.root().PublicKeyDer()));
}

TEST_F(StoreCaTest, OpenOfADirectoryWithoutAStoreIsFailedPrecondition) {
  ASSERT_EQ(::mkdir(tmp_.Path("empty").c_str(), 0700), 0);
  Result<StoreCa> ca = StoreCa::Open(tmp_.Path("empty"), std::nullopt);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kFailedPrecondition) << ca.status().ToString();
  EXPECT_NE(ca.status().message().find("store init"), std::string::npos) << ca.status().ToString();

  ca = StoreCa::Open(tmp_.Path("does-not-exist"), std::nullopt);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kFailedPrecondition) << ca.status().ToString();
}

TEST_F(StoreCaTest, OpenWithAKeyThatDoesNotMatchTheRootIsDataLoss) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa a, StoreCa::Init(Options("a"), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa b, StoreCa::Init(Options("b"), clock_, rng_));
  ASSERT_TRUE(WriteWholeFile(tmp_.Path("a/root.key"), ReadWholeFile(tmp_.Path("b/root.key"))));
  ASSERT_EQ(ModeOf(tmp_.Path("a/root.key")), 0600);
  ASSERT_NE(a.root(), b.root());

  Result<StoreCa> opened = StoreCa::Open(a.dir(), std::nullopt);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("root.key"), std::string::npos)
      << opened.status().ToString();
}

TEST_F(StoreCaTest, OpenWithACorruptedKeyIsDataLoss) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  ASSERT_TRUE(WriteWholeFile(tmp_.Path("store/root.key"),
                             "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  Result<StoreCa> opened = StoreCa::Open(ca.dir(), std::nullopt);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss) << opened.status().ToString();
}

TEST_F(StoreCaTest, OpenRefusesARootKeyOthersCanRead) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  ASSERT_EQ(::chmod(tmp_.Path("store/root.key").c_str(), 0640), 0);
  Result<StoreCa> opened = StoreCa::Open(ca.dir(), std::nullopt);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kPermissionDenied) << opened.status().ToString();
}

TEST_F(StoreCaTest, EncryptedRootKeyNeedsItsPassphrase) {
  StoreCa::InitOptions opts = Options();
  opts.passphrase = "store secret";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(opts, clock_, rng_));
  const std::string pem = ReadWholeFile(tmp_.Path("store/root.key"));
  EXPECT_NE(pem.find("ENCRYPTED PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(ModeOf(tmp_.Path("store/root.key")), 0600);

  Result<StoreCa> none = StoreCa::Open(ca.dir(), std::nullopt);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnauthenticated) << none.status().ToString();
  EXPECT_NE(none.status().message().find("passphrase"), std::string::npos)
      << none.status().ToString();

  Result<StoreCa> wrong = StoreCa::Open(ca.dir(), std::string("not the secret"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated) << wrong.status().ToString();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa opened, StoreCa::Open(ca.dir(), opts.passphrase));
  EXPECT_EQ(opened.root(), ca.root());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev, opened.IssueDeveloper(Csr("alice"), kTwoYears, ctx()));
  EXPECT_TRUE(dev.SignatureVerifiesWith(ca.root().PublicKeyDer()));
}

// --- IssueDeveloper ------------------------------------------------------------------------------

TEST_F(StoreCaTest, IssueDeveloperIssuesAnIdentityTheVerifierAccepts) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  clock_.Advance(std::chrono::hours(1));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate dev,
                                 ca.IssueDeveloper(Csr(key, "alice"), kTwoYears, ctx()));

  EXPECT_EQ(dev.Subject().common_name, "alice");
  EXPECT_EQ(dev.Issuer(), ca.root().Subject());
  EXPECT_EQ(dev.PublicKeyDer(), key.PublicKeyDer());
  EXPECT_TRUE(dev.IsCa());
  EXPECT_EQ(dev.PathLimit(), std::optional<size_t>(0));
  EXPECT_EQ(dev.NotAfter(), clock_.Now() + kTwoYears);
  EXPECT_LE(dev.NotBefore(), clock_.Now());
  pki::Verifier verifier(clock_);
  pki::Verification v = verifier.VerifyIssuedBy(dev, pki::CertRole::kDeveloperIdentity, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
  // Issuing records nothing in the CA directory (the registry is the database's).
  EXPECT_EQ(EntriesOf(ca.dir()), (std::set<std::string>{"root.key", "root.pem"}));

  // A CA opened from disk issues identities under the same root.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa opened, StoreCa::Open(ca.dir(), std::nullopt));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate bob,
                                 opened.IssueDeveloper(Csr("bob"), kTwoYears, ctx()));
  v = verifier.VerifyIssuedBy(bob, pki::CertRole::kDeveloperIdentity, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
}

TEST_F(StoreCaTest, IssueDeveloperAcceptsAHandMadeCsrWithoutExtensions) {
  // Control for the refusals below: the hand-made CSR itself is fine.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::CertificateRequest csr,
      pki::CertificateRequest::FromPem(HandMadeCsrPem(key, "mallory", {}, rng_)));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate dev, ca.IssueDeveloper(csr, kTwoYears, ctx()));
  EXPECT_EQ(dev.Subject().common_name, "mallory");
}

TEST_F(StoreCaTest, IssueDeveloperRefusesACsrAskingForCa) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  const pki::RawExtension ca_true = testing::CaTrueExtension();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::CertificateRequest csr,
      pki::CertificateRequest::FromPem(HandMadeCsrPem(key, "mallory", {ca_true}, rng_)));
  ASSERT_TRUE(csr.RequestsCa());
  Result<pki::Certificate> dev = ca.IssueDeveloper(csr, kTwoYears, ctx());
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kPermissionDenied) << dev.status().ToString();
}

TEST_F(StoreCaTest, IssueDeveloperRefusesACsrAskingForAnExtension) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  const pki::RawExtension hash{
      pki::ExecutableHashOid(), false,
      pki::EncodeHashExtension(pki::HashBytes(pki::HashAlgorithm::kSha256, "x"))};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::CertificateRequest csr,
      pki::CertificateRequest::FromPem(HandMadeCsrPem(key, "mallory", {hash}, rng_)));
  ASSERT_FALSE(csr.RequestsCa());
  Result<pki::Certificate> dev = ca.IssueDeveloper(csr, kTwoYears, ctx());
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kPermissionDenied) << dev.status().ToString();
}

TEST_F(StoreCaTest, IssueDeveloperRefusesACsrWhoseSignatureDoesNotVerify) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  // Change one base64 character near the end of the PEM body: it lies in the signature (the
  // last field of the DER), so the CSR still parses but its self-signature no longer verifies.
  std::string pem = Csr("alice").ToPem();
  const size_t body = pem.find('\n') + 1;
  const size_t end = pem.find("-----END");
  ASSERT_NE(end, std::string::npos);
  std::vector<size_t> b64;  // positions of the body's base64 characters, padding excluded
  for (size_t i = body; i < end; ++i) {
    if (pem[i] != '\n' && pem[i] != '\r' && pem[i] != '=') b64.push_back(i);
  }
  ASSERT_GT(b64.size(), 10u);
  const size_t pos = b64[b64.size() - 5];
  pem[pos] = pem[pos] == 'A' ? 'B' : 'A';
  // The flip lands in the signature: the CSR decodes (the CA checks the signature, not the
  // decoder) and the CA refuses it.
  Result<pki::CertificateRequest> tampered = pki::CertificateRequest::FromPem(pem);
  ASSERT_TRUE(tampered.ok()) << tampered.status().ToString();
  ASSERT_FALSE(tampered->SignatureValid());
  Result<pki::Certificate> dev = ca.IssueDeveloper(*tampered, kTwoYears, ctx());
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kUnauthenticated) << dev.status().ToString();
}

TEST_F(StoreCaTest, DeveloperLifetimeIsCappedAtTheRoots) {
  StoreCa::InitOptions opts = Options();
  opts.lifetime = 30 * kDay;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(opts, clock_, rng_));
  clock_.Advance(kDay);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev, ca.IssueDeveloper(Csr("alice"), kTwoYears, ctx()));
  EXPECT_EQ(dev.NotAfter(), ca.root().NotAfter());
}

TEST_F(StoreCaTest, IssueDeveloperAfterTheRootExpiredIsRefused) {
  StoreCa::InitOptions opts = Options();
  opts.lifetime = kDay;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(opts, clock_, rng_));
  clock_.Advance(2 * kDay);
  Result<pki::Certificate> dev = ca.IssueDeveloper(Csr("alice"), kTwoYears, ctx());
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kFailedPrecondition) << dev.status().ToString();
}

// --- IssueCertStore -----------------------------------------------------------------------------

TEST_F(StoreCaTest, IssueCertStoreGivesACertStoreThatPassesTheChain) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, IssueDeveloper(ca, "alice"));
  const pki::ReleaseSpec spec{pki::ServiceRelease{"hello", "1.0.0", 3},
                              pki::HashBytes(pki::HashAlgorithm::kSha256, "the executable"),
                              std::nullopt};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate cert_dev,
      pki::BuildCertDev(spec, alice.identity, alice.key, 30 * kDay, ctx()));
  clock_.Advance(std::chrono::hours(1));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_store, ca.IssueCertStore(cert_dev, ctx()));

  EXPECT_EQ(cert_store.Subject(), cert_dev.Subject());
  EXPECT_EQ(cert_store.Issuer(), ca.root().Subject());
  EXPECT_EQ(cert_store.PublicKeyDer(), cert_dev.PublicKeyDer());
  EXPECT_FALSE(cert_store.IsCa());
  // Cert_store lives as long as Cert_dev, not longer.
  EXPECT_EQ(cert_store.NotAfter(), cert_dev.NotAfter());

  pki::ChainInput chain;
  chain.store_root = ca.root();
  chain.developer_identity = alice.identity;
  chain.cert_dev = cert_dev;
  chain.cert_store = cert_store;
  pki::Verification v = pki::Verifier(clock_).Verify(chain);
  ASSERT_TRUE(v.ok()) << testing::Describe(v);
  for (int rule : {1, 2, 4}) {
    EXPECT_NE(std::find(v.rules_checked.begin(), v.rules_checked.end(), rule),
              v.rules_checked.end())
        << "rule " << rule << " not checked: " << testing::Describe(v);
  }
  ASSERT_TRUE(v.release.has_value());
  EXPECT_EQ(*v.release, spec.release);
}

TEST_F(StoreCaTest, IssueCertStoreRefusesACertificateOfAnotherRole) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, IssueDeveloper(ca, "alice"));
  // A developer identity is no Cert_dev: the store must not re-sign it. (The code is the
  // builder's business; what matters here is that nothing is handed out.)
  Result<pki::Certificate> cert_store = ca.IssueCertStore(alice.identity, ctx());
  EXPECT_FALSE(cert_store.ok());
}

// --- IssueTlsServer -----------------------------------------------------------------------------

TEST_F(StoreCaTest, IssueTlsServerGivesAServerCertificateWithAFreshKey) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  const pki::TlsServerNames names{{"store.example.org", "localhost"}, {"127.0.0.1", "10.0.0.7"}};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa::TlsIdentity tls,
                                 ca.IssueTlsServer(names, 90 * kDay, ctx()));

  EXPECT_EQ(tls.certificate.DnsSans(), names.dns);
  EXPECT_EQ(tls.certificate.IpSans(), names.ips);
  EXPECT_FALSE(tls.certificate.IsCa());
  EXPECT_EQ(tls.certificate.Issuer(), ca.root().Subject());
  EXPECT_EQ(tls.certificate.Subject().common_name, "store.example.org");
  EXPECT_EQ(tls.certificate.NotAfter(), clock_.Now() + 90 * kDay);
  pki::Verification v =
      pki::Verifier(clock_).VerifyIssuedBy(tls.certificate, pki::CertRole::kTlsServer, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);

  // The key is the certificate's, and it is neither the root's nor reused.
  EXPECT_EQ(tls.key.PublicKeyDer(), tls.certificate.PublicKeyDer());
  EXPECT_NE(tls.key.PublicKeyDer(), ca.root().PublicKeyDer());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa::TlsIdentity again,
                                 ca.IssueTlsServer(names, 90 * kDay, ctx()));
  EXPECT_NE(again.key.PublicKeyDer(), tls.key.PublicKeyDer());
  EXPECT_NE(again.certificate.SerialHex(), tls.certificate.SerialHex());
  // The key signs as the certificate says: a message signed with it verifies with the cert.
  const std::vector<uint8_t> sig = pki::SignMessage(tls.key, "hello", rng_);
  EXPECT_TRUE(pki::VerifyMessage(tls.certificate.PublicKeyDer(), "hello", sig));
}

TEST_F(StoreCaTest, IssueTlsServerOnlyIpAddress) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa::TlsIdentity tls,
                                 ca.IssueTlsServer({{}, {"192.0.2.1"}}, 90 * kDay, ctx()));
  EXPECT_TRUE(tls.certificate.DnsSans().empty());
  EXPECT_EQ(tls.certificate.IpSans(), std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(tls.certificate.Subject().common_name, "192.0.2.1");
}

TEST_F(StoreCaTest, IssueTlsServerRefusesNoNamesOrBadNames) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  EXPECT_EQ(ca.IssueTlsServer({}, 90 * kDay, ctx()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.IssueTlsServer({{"*.example.org"}, {}}, 90 * kDay, ctx()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.IssueTlsServer({{}, {"::1"}}, 90 * kDay, ctx()).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sitechain::store
