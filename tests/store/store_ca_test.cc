#include "store/store_ca.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "pki/verifier.h"
#include "tests/common/temp_dir.h"
#include "tests/support/test_chain.h"

namespace sitechain::store {
namespace {

using testutil::ModeOf;
using testutil::ReadWholeFile;
using testutil::TempDir;
using testutil::WriteWholeFile;

constexpr Seconds kDay{86400};
constexpr Seconds kTwoYears{2 * 365 * 86400};

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

  // The names of the files in <dir>/developers.
  static std::vector<std::string> DeveloperFiles(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/developers", ec)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  static std::vector<std::string> Names(const std::vector<pki::Certificate>& certs) {
    std::vector<std::string> names;
    for (const auto& c : certs) names.push_back(c.Subject().common_name);
    return names;
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
  EXPECT_EQ(ModeOf(tmp_.Path("store/developers")), 0700);
  EXPECT_EQ(ModeOf(tmp_.Path("store/root.key")), 0600);
  EXPECT_EQ(ModeOf(tmp_.Path("store/root.pem")), 0644);
  EXPECT_TRUE(DeveloperFiles(ca.dir()).empty());
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
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev,
                                 opened.AddDeveloper(Csr("alice"), kTwoYears, clock_, rng_));
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
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev,
                                 opened.AddDeveloper(Csr("alice"), kTwoYears, clock_, rng_));
  EXPECT_TRUE(dev.SignatureVerifiesWith(ca.root().PublicKeyDer()));
}

TEST_F(StoreCaTest, AddDeveloperIssuesRecordsAndListsTheIdentity) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  clock_.Advance(std::chrono::hours(1));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate dev,
                                 ca.AddDeveloper(Csr(key, "alice"), kTwoYears, clock_, rng_));

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

  // Recorded as developers/<serial>.pem, world-readable (it is public).
  const std::string file = "developers/" + dev.SerialHex() + ".pem";
  EXPECT_EQ(DeveloperFiles(ca.dir()), std::vector<std::string>{dev.SerialHex() + ".pem"});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto recorded, pki::Certificate::Load(tmp_.Path("store/" + file)));
  EXPECT_EQ(recorded, dev);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto list, ca.Developers());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0], dev);

  // The registry outlives the object.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa reopened, StoreCa::Open(ca.dir(), std::nullopt));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto relisted, reopened.Developers());
  ASSERT_EQ(relisted.size(), 1u);
  EXPECT_EQ(relisted[0], dev);
}

TEST_F(StoreCaTest, AddDeveloperRefusesADuplicateNameOrKey) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  pki::PrivateKey alice_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto alice,
                                 ca.AddDeveloper(Csr(alice_key, "alice"), kTwoYears, clock_, rng_));

  // Same name, another key.
  Result<pki::Certificate> same_name = ca.AddDeveloper(Csr("alice"), kTwoYears, clock_, rng_);
  ASSERT_FALSE(same_name.ok());
  EXPECT_EQ(same_name.status().code(), StatusCode::kAlreadyExists) << same_name.status().ToString();
  EXPECT_NE(same_name.status().message().find("alice"), std::string::npos);

  // Same key, another name.
  Result<pki::Certificate> same_key =
      ca.AddDeveloper(Csr(alice_key, "mallory"), kTwoYears, clock_, rng_);
  ASSERT_FALSE(same_key.ok());
  EXPECT_EQ(same_key.status().code(), StatusCode::kAlreadyExists) << same_key.status().ToString();

  // The very same CSR again.
  Result<pki::Certificate> again =
      ca.AddDeveloper(Csr(alice_key, "alice"), kTwoYears, clock_, rng_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto list, ca.Developers());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0], alice);
  EXPECT_EQ(DeveloperFiles(ca.dir()).size(), 1u);

  // Refusals do not block other developers.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto bob, ca.AddDeveloper(Csr("bob"), kTwoYears, clock_, rng_));
  EXPECT_EQ(bob.Subject().common_name, "bob");
}

TEST_F(StoreCaTest, AddDeveloperRefusesACsrWhoseSignatureDoesNotVerify) {
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
  Result<pki::CertificateRequest> tampered = pki::CertificateRequest::FromPem(pem);
  if (!tampered.ok()) {
    // Refused while parsing already (Botan checks a PKCS#10 self-signature on decoding).
    EXPECT_NE(tampered.status().message().find("signature"), std::string::npos)
        << tampered.status().ToString();
    return;
  }
  ASSERT_FALSE(tampered->SignatureValid());
  Result<pki::Certificate> dev = ca.AddDeveloper(*tampered, kTwoYears, clock_, rng_);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kUnauthenticated) << dev.status().ToString();
  EXPECT_TRUE(DeveloperFiles(ca.dir()).empty());
}

TEST_F(StoreCaTest, DevelopersAreListedOldestFirst) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  for (const char* name : {"zed", "amy", "mid"}) {
    clock_.Advance(std::chrono::hours(1));
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev, ca.AddDeveloper(Csr(name), kTwoYears, clock_, rng_));
    EXPECT_EQ(dev.Subject().common_name, name);
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto list, ca.Developers());
  EXPECT_EQ(Names(list), (std::vector<std::string>{"zed", "amy", "mid"}));
}

TEST_F(StoreCaTest, DevelopersIgnoresFilesThatAreNotCertificates) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(Options(), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev, ca.AddDeveloper(Csr("alice"), kTwoYears, clock_, rng_));
  ASSERT_TRUE(WriteWholeFile(tmp_.Path("store/developers/README.txt"), "notes\n"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto list, ca.Developers());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0], dev);
}

TEST_F(StoreCaTest, DeveloperLifetimeIsCappedAtTheRoots) {
  StoreCa::InitOptions opts = Options();
  opts.lifetime = 30 * kDay;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(opts, clock_, rng_));
  clock_.Advance(kDay);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto dev, ca.AddDeveloper(Csr("alice"), kTwoYears, clock_, rng_));
  EXPECT_EQ(dev.NotAfter(), ca.root().NotAfter());
}

TEST_F(StoreCaTest, AddDeveloperAfterTheRootExpiredIsRefused) {
  StoreCa::InitOptions opts = Options();
  opts.lifetime = kDay;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Init(opts, clock_, rng_));
  clock_.Advance(2 * kDay);
  Result<pki::Certificate> dev = ca.AddDeveloper(Csr("alice"), kTwoYears, clock_, rng_);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kFailedPrecondition) << dev.status().ToString();
  EXPECT_TRUE(DeveloperFiles(ca.dir()).empty());
}

}  // namespace
}  // namespace sitechain::store
