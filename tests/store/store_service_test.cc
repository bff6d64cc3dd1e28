// Tests of StoreService (store/store_service.h) without gRPC: a real store CA, SQLite database
// and blob directory in a temporary directory, a ManualClock and a SeededRandom. Every refusal is
// followed by a check that the store is unchanged: same Stats(), same blobs, nothing left in
// blobs/tmp.

#include "store/store_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "pki/oids.h"
#include "pki/verifier.h"
#include "tests/common/temp_dir.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/hostile_key_csr.h"
#include "tests/support/test_chain.h"

namespace sitechain::store {
namespace {

using testutil::EntriesOf;
using testutil::ReadFd;
using testutil::TempDir;
using Bytes = std::vector<uint8_t>;

constexpr Seconds kDay{86400};
constexpr uint64_t kMaxExecutable = 1 << 20;

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Deterministic executable contents of n bytes; different seeds give different bytes.
std::string Executable(size_t n, uint32_t seed) {
  std::string s = "#!/bin/sh\n";
  uint32_t x = seed * 2654435761u + 1;
  while (s.size() < n) {
    x = x * 1103515245u + 12345u;
    s.push_back(static_cast<char>(x >> 24));
  }
  s.resize(n);
  return s;
}

// The status has this code and its message contains `fragment`.
::testing::AssertionResult Refused(const Status& s, StatusCode code,
                                   std::string_view fragment = "") {
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "expected " << StatusCodeName(code) << ", got " << s.ToString();
  }
  if (s.message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << fragment << "': " << s.ToString();
  }
  return ::testing::AssertionSuccess();
}

// What must not change when the store refuses something.
struct Snapshot {
  std::vector<uint64_t> stats;
  std::vector<std::string> blobs;
  std::set<std::string> tmp;
};

struct Developer {
  pki::PrivateKey key;
  pki::Certificate identity;
  DeveloperRecord record;
};

class StoreServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreCa::InitOptions opts;
    opts.dir = Dir();
    opts.name = "test store";
    Result<StoreCa> ca = StoreCa::Init(opts, clock_, rng_);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    limits_.max_executable_bytes = kMaxExecutable;
    ASSERT_NO_FATAL_FAILURE(OpenService(std::move(ca).value()));
  }

  std::string Dir() const { return tmp_.Path("store"); }
  std::string TmpDir() const { return Dir() + "/blobs/tmp"; }
  StoreService& service() { return *service_; }
  pki::BuildContext ctx() { return pki::BuildContext{clock_, rng_}; }

  // Opens the database and the blob directory of Dir() and wires a service with `ca`.
  void OpenService(StoreCa ca) {
    service_.reset();
    Result<StoreDatabase> db = StoreDatabase::Open(Dir() + "/store.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Result<storage::BlobStore> blobs = storage::BlobStore::Open(Dir() + "/blobs");
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    blobs_.emplace(*blobs);
    Result<std::unique_ptr<StoreService>> service = StoreService::Create(
        std::move(ca), std::move(db).value(), std::move(blobs).value(), clock_, rng_, limits_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
  }

  // What a restart does: a new service over the same directory.
  void Restart() {
    service_.reset();
    Result<StoreCa> ca = StoreCa::Open(Dir(), std::nullopt);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ASSERT_NO_FATAL_FAILURE(OpenService(std::move(ca).value()));
  }

  Result<pki::CertificateRequest> Csr(const pki::PrivateKey& key, const std::string& name) {
    return pki::CertificateRequest::Create(key, name, rng_);
  }

  // Registers `name` with a fresh token and key, as `devkit register` does, and authenticates.
  Result<Developer> Register(const std::string& name) {
    SITECHAIN_ASSIGN_OR_RETURN(CreatedToken token, service().CreateToken(Seconds(0), name));
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    SITECHAIN_ASSIGN_OR_RETURN(pki::CertificateRequest csr, Csr(key, name));
    SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate identity,
                               service().Register(token.token, csr.ToPem()));
    SITECHAIN_ASSIGN_OR_RETURN(DeveloperRecord record,
                               service().AuthenticateDeveloper(identity.ToPem()));
    return Developer{std::move(key), std::move(identity), std::move(record)};
  }

  // Cert_dev for `bytes`, as `devkit sign` makes it.
  Result<pki::Certificate> CertDev(const Developer& dev, const pki::ServiceRelease& release,
                                   std::string_view bytes, Seconds lifetime = 30 * kDay) {
    const pki::ReleaseSpec spec{release, pki::HashBytes(pki::HashAlgorithm::kSha256, bytes),
                                std::nullopt};
    return pki::BuildCertDev(spec, dev.identity, dev.key, lifetime, ctx());
  }

  // StartPublish, Append in chunks, Finish.
  Result<Published> Publish(const DeveloperRecord& dev, const pki::Certificate& cert_dev,
                            std::string_view bytes, size_t chunk = 7001) {
    SITECHAIN_ASSIGN_OR_RETURN(auto upload,
                               service().StartPublish(dev, cert_dev.ToPem(), bytes.size()));
    for (size_t off = 0; off < bytes.size(); off += chunk) {
      SITECHAIN_RETURN_IF_ERROR(upload->Append(AsBytes(bytes.substr(off, chunk))));
    }
    return upload->Finish();
  }

  // Registers `dev`'s release (name, version, counter) with executable `bytes`.
  Result<Published> SignAndPublish(const Developer& dev, const pki::ServiceRelease& release,
                                   std::string_view bytes) {
    SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert_dev, CertDev(dev, release, bytes));
    return Publish(dev.record, cert_dev, bytes);
  }

  Snapshot Take() {
    Snapshot s;
    Result<StoreStats> stats = service().Stats();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    if (stats.ok()) {
      s.stats = {stats->developers,
                 stats->revoked_developers,
                 stats->releases,
                 stats->revoked_releases,
                 stats->active_tokens,
                 stats->blob_bytes,
                 stats->last_revocation_sequence,
                 stats->audit_entries};
    }
    Result<std::vector<std::string>> blobs = blobs_->List();
    EXPECT_TRUE(blobs.ok()) << blobs.status().ToString();
    if (blobs.ok()) {
      s.blobs = *blobs;
      std::sort(s.blobs.begin(), s.blobs.end());
    }
    s.tmp = EntriesOf(TmpDir());
    return s;
  }

  // The store is as it was: same counts and audit log, same blobs, no upload left in tmp/.
  void ExpectUnchanged(const Snapshot& before) {
    const Snapshot now = Take();
    EXPECT_EQ(now.stats, before.stats) << "Stats() changed";
    EXPECT_EQ(now.blobs, before.blobs) << "the blob directory changed";
    EXPECT_TRUE(now.tmp.empty()) << "an upload was left in " << TmpDir() << ": "
                                 << *now.tmp.begin();
  }

  // StartPublish(declared_size), Append `bytes` (all at once), Finish; the first refusal.
  Status TryPublish(const DeveloperRecord& dev, const std::string& cert_dev_pem,
                    uint64_t declared_size, std::string_view bytes) {
    SITECHAIN_ASSIGN_OR_RETURN(auto upload,
                               service().StartPublish(dev, cert_dev_pem, declared_size));
    SITECHAIN_RETURN_IF_ERROR(upload->Append(AsBytes(bytes)));
    return upload->Finish().status();
  }

  TempDir tmp_;
  ManualClock clock_{testing::kTestEpoch};
  SeededRandom rng_{77};
  StoreLimits limits_;
  std::optional<storage::BlobStore> blobs_;  // the same directory the service uses, for inspection
  std::unique_ptr<StoreService> service_;
};

// --- tokens ------------------------------------------------------------------------------------

TEST_F(StoreServiceTest, CreateTokenUsesTheDefaultLifetimeAndKeepsOnlyTheHash) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken t, service().CreateToken(Seconds(0), "alice laptop"));
  EXPECT_EQ(t.token.rfind("sct-", 0), 0u) << t.token;
  EXPECT_EQ(t.record.hash, pki::HashBytes(pki::HashAlgorithm::kSha256, t.token).Hex());
  EXPECT_EQ(t.record.id, t.record.hash.substr(0, 16));
  EXPECT_EQ(t.record.note, "alice laptop");
  EXPECT_EQ(t.record.created_at, clock_.Now());
  EXPECT_EQ(t.record.expires_at, clock_.Now() + limits_.default_token_ttl);
  EXPECT_FALSE(t.record.used_at.has_value());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken hour, service().CreateToken(Seconds(3600), ""));
  EXPECT_EQ(hour.record.expires_at, clock_.Now() + Seconds(3600));
  EXPECT_NE(hour.token, t.token);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken longest,
                                 service().CreateToken(limits_.max_token_ttl, ""));
  EXPECT_EQ(longest.record.expires_at, clock_.Now() + limits_.max_token_ttl);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto tokens, service().ListTokens());
  ASSERT_EQ(tokens.size(), 3u);
  for (const TokenRecord& r : tokens) EXPECT_NE(r.hash, t.token);  // never the token itself
  const auto listed = std::find_if(tokens.begin(), tokens.end(),
                                   [&](const TokenRecord& r) { return r.id == t.record.id; });
  ASSERT_NE(listed, tokens.end());
  EXPECT_EQ(listed->hash, t.record.hash);
  EXPECT_EQ(listed->note, "alice laptop");
  EXPECT_EQ(listed->expires_at, t.record.expires_at);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreStats stats, service().Stats());
  EXPECT_EQ(stats.active_tokens, 3u);
}

TEST_F(StoreServiceTest, CreateTokenRefusesBadLifetimesAndNotes) {
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(service().CreateToken(limits_.max_token_ttl + Seconds(1), "").status(),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(
      Refused(service().CreateToken(Seconds(-1), "").status(), StatusCode::kInvalidArgument));
  EXPECT_TRUE(Refused(service().CreateToken(Seconds(0), "two\nlines").status(),
                      StatusCode::kInvalidArgument, "control characters"));
  EXPECT_TRUE(Refused(service().CreateToken(Seconds(0), std::string("esc\x1b[2J")).status(),
                      StatusCode::kInvalidArgument, "control characters"));
  EXPECT_TRUE(Refused(service().CreateToken(Seconds(0), std::string("del\x7f")).status(),
                      StatusCode::kInvalidArgument, "control characters"));
  EXPECT_TRUE(Refused(
      service().CreateToken(Seconds(0), std::string(limits_.max_text_bytes + 1, 'n')).status(),
      StatusCode::kInvalidArgument));
  ExpectUnchanged(before);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto tokens, service().ListTokens());
  EXPECT_TRUE(tokens.empty());
}

// --- registration ------------------------------------------------------------------------------

TEST_F(StoreServiceTest, RegisterWithAGoodTokenReturnsAnIdentity) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken token, service().CreateToken(Seconds(0), "alice"));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest csr, Csr(key, "alice"));
  clock_.Advance(Seconds(10));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate identity,
                                 service().Register(token.token, csr.ToPem()));

  EXPECT_EQ(identity.Subject().common_name, "alice");
  EXPECT_EQ(identity.PublicKeyDer(), key.PublicKeyDer());
  EXPECT_EQ(identity.NotAfter(), clock_.Now() + limits_.developer_lifetime);
  pki::Verification v = pki::Verifier(clock_).VerifyIssuedBy(
      identity, pki::CertRole::kDeveloperIdentity, service().root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto developers, service().ListDevelopers());
  ASSERT_EQ(developers.size(), 1u);
  const DeveloperRecord& d = developers[0];
  EXPECT_EQ(d.name, "alice");
  EXPECT_EQ(d.serial, identity.SerialHex());
  EXPECT_EQ(d.fingerprint, identity.Sha256Fingerprint());
  const std::vector<uint8_t> spki = key.PublicKeyDer();
  EXPECT_EQ(
      d.key_fingerprint,
      pki::HashBytes(pki::HashAlgorithm::kSha256,
                     std::string_view(reinterpret_cast<const char*>(spki.data()), spki.size()))
          .Hex());
  EXPECT_EQ(d.certificate_pem, identity.ToPem());
  EXPECT_EQ(d.registered_at, clock_.Now());
  EXPECT_EQ(d.not_after, identity.NotAfter());
  EXPECT_FALSE(d.revoked_at.has_value());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto tokens, service().ListTokens());
  ASSERT_EQ(tokens.size(), 1u);
  ASSERT_TRUE(tokens[0].used_at.has_value());
  EXPECT_EQ(tokens[0].used_by, "alice");

  SITECHAIN_ASSERT_OK_AND_ASSIGN(DeveloperRecord authenticated,
                                 service().AuthenticateDeveloper(identity.ToPem()));
  EXPECT_EQ(authenticated.id, d.id);
}

TEST_F(StoreServiceTest, RegisterRefusesUnknownAndMissingTokens) {
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest csr, Csr(key, "alice"));
  ASSERT_TRUE(service().CreateToken(Seconds(0), "").ok());
  const Snapshot before = Take();
  EXPECT_TRUE(
      Refused(service().Register("sct-00000000000000000000000000000000", csr.ToPem()).status(),
              StatusCode::kUnauthenticated, "unknown"));
  EXPECT_TRUE(Refused(service().Register("", csr.ToPem()).status(), StatusCode::kUnauthenticated));
  ExpectUnchanged(before);
}

// An unauthenticated caller gets nothing parsed, let alone verified: the token is looked at
// first. A CSR that would not even decode, and one whose 16384-bit RSA key would cost seconds to
// use, are refused for the token alone.
TEST_F(StoreServiceTest, RegisterChecksTheTokenBeforeTheCsr) {
  ASSERT_TRUE(service().CreateToken(Seconds(0), "").ok());
  const Snapshot before = Take();
  const std::string bogus = "sct-00000000000000000000000000000000";
  const std::string oversized = testing::der::Pem(
      "CERTIFICATE REQUEST",
      testing::CsrDerWithKey(testing::RandomRsaSpki(16384, testing::kExponent65537, rng_),
                             "mallory", 16384 / 8, rng_));
  for (const std::string& csr : {std::string("not a CSR at all"), oversized}) {
    EXPECT_TRUE(Refused(service().Register(bogus, csr).status(), StatusCode::kUnauthenticated,
                        "unknown registration token"));
  }
  ExpectUnchanged(before);
}

// With a valid token, a CSR whose key is outside the profile is refused by its parameters, before
// its signature is checked (a check with that key is the costly part), and the token stays
// usable.
TEST_F(StoreServiceTest, RegisterRefusesKeysOutsideTheProfileBeforeTheirSignature) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken token, service().CreateToken(Seconds(0), ""));
  const Snapshot before = Take();
  struct Case {
    size_t bits;
    std::vector<uint8_t> exponent;
    std::string fragment;
  };
  for (const Case& c :
       {Case{16384, testing::kExponent65537, "16384-bit modulus, more than the 4096"},
        Case{8192, testing::kExponent65537, "8192-bit modulus"},
        Case{2048, testing::kExponent3, "public exponent is 3, not 65537"},
        Case{2048, testing::RandomOddNumber(32768, rng_), "a 32768-bit number"},
        Case{1024, testing::kExponent65537, "1024-bit modulus"}}) {
    SCOPED_TRACE(c.fragment);
    const std::string pem =
        testing::der::Pem("CERTIFICATE REQUEST",
                          testing::CsrDerWithKey(testing::RandomRsaSpki(c.bits, c.exponent, rng_),
                                                 "mallory", c.bits / 8, rng_));
    const Status s = service().Register(token.token, pem).status();
    EXPECT_TRUE(Refused(s, StatusCode::kInvalidArgument, c.fragment));
    EXPECT_TRUE(Refused(s, StatusCode::kInvalidArgument, "RSA of 2048 or 3072 bits"));
  }
  ExpectUnchanged(before);
  // The token was not spent.
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest csr, Csr(key, "alice"));
  EXPECT_TRUE(service().Register(token.token, csr.ToPem()).ok());
}

TEST_F(StoreServiceTest, RegisterRefusesAUsedToken) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken token, service().CreateToken(Seconds(0), ""));
  pki::PrivateKey alice = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest alice_csr, Csr(alice, "alice"));
  ASSERT_TRUE(service().Register(token.token, alice_csr.ToPem()).ok());
  const Snapshot before = Take();

  pki::PrivateKey bob = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest bob_csr, Csr(bob, "bob"));
  EXPECT_TRUE(Refused(service().Register(token.token, bob_csr.ToPem()).status(),
                      StatusCode::kUnauthenticated, "already used"));
  ExpectUnchanged(before);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto developers, service().ListDevelopers());
  EXPECT_EQ(developers.size(), 1u);
}

TEST_F(StoreServiceTest, RegisterRefusesAnExpiredToken) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken early, service().CreateToken(Seconds(3600), ""));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken late, service().CreateToken(Seconds(3600), ""));
  pki::PrivateKey alice = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  pki::PrivateKey bob = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest alice_csr, Csr(alice, "alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest bob_csr, Csr(bob, "bob"));

  // A second before it expires, a token still works.
  clock_.Advance(Seconds(3599));
  EXPECT_TRUE(service().Register(early.token, alice_csr.ToPem()).ok());
  clock_.Advance(Seconds(1));
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(service().Register(late.token, bob_csr.ToPem()).status(),
                      StatusCode::kUnauthenticated, "expired"));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, ARefusedCsrLeavesTheTokenUsable) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken token, service().CreateToken(Seconds(0), ""));
  ASSERT_TRUE(Register("alice").ok());
  const Snapshot before = Take();

  // Asks for CA rights: BuildDeveloperIdentity's refusal.
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  const std::string ca_csr =
      testing::HandMadeCsrPem(key, "mallory", {testing::CaTrueExtension()}, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest parsed,
                                 pki::CertificateRequest::FromPem(ca_csr));
  ASSERT_TRUE(parsed.RequestsCa());
  EXPECT_TRUE(
      Refused(service().Register(token.token, ca_csr).status(), StatusCode::kPermissionDenied));
  // Not a CSR at all.
  EXPECT_TRUE(
      Refused(service().Register(token.token, "not a csr").status(), StatusCode::kInvalidArgument));
  // A name that is taken.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest taken, Csr(key, "alice"));
  EXPECT_TRUE(Refused(service().Register(token.token, taken.ToPem()).status(),
                      StatusCode::kAlreadyExists, "alice"));
  ExpectUnchanged(before);

  // The token still registers a proper request.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest good, Csr(key, "mallory"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate identity,
                                 service().Register(token.token, good.ToPem()));
  EXPECT_EQ(identity.Subject().common_name, "mallory");
}

TEST_F(StoreServiceTest, RegisterRefusesASecondRegistrationOfTheSameKey) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedToken token, service().CreateToken(Seconds(0), ""));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest again, Csr(alice.key, "alice2"));
  const Snapshot before = Take();
  EXPECT_TRUE(
      Refused(service().Register(token.token, again.ToPem()).status(), StatusCode::kAlreadyExists));
  ExpectUnchanged(before);
}

// --- authentication ----------------------------------------------------------------------------

TEST_F(StoreServiceTest, AuthenticateDeveloperNeedsACertificate) {
  EXPECT_TRUE(Refused(service().AuthenticateDeveloper(std::nullopt).status(),
                      StatusCode::kUnauthenticated));
}

TEST_F(StoreServiceTest, AuthenticateDeveloperRefusesAnotherStoresIdentity) {
  ASSERT_TRUE(Register("alice").ok());
  StoreCa::InitOptions opts;
  opts.dir = tmp_.Path("other");
  opts.name = "test store";  // the same name: only the key tells them apart
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa other, StoreCa::Init(opts, clock_, rng_));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest csr, Csr(key, "alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate foreign, other.IssueDeveloper(csr, kDay, ctx()));
  EXPECT_TRUE(Refused(service().AuthenticateDeveloper(foreign.ToPem()).status(),
                      StatusCode::kUnauthenticated));
}

TEST_F(StoreServiceTest, AuthenticateDeveloperRefusesAnIdentityThatWasNotRegistered) {
  // Issued by this store's own root, but not through Register: no record, no access.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreCa ca, StoreCa::Open(Dir(), std::nullopt));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::CertificateRequest csr, Csr(key, "ghost"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate ghost, ca.IssueDeveloper(csr, kDay, ctx()));
  ASSERT_TRUE(pki::Verifier(clock_)
                  .VerifyIssuedBy(ghost, pki::CertRole::kDeveloperIdentity, service().root())
                  .ok());
  EXPECT_TRUE(Refused(service().AuthenticateDeveloper(ghost.ToPem()).status(),
                      StatusCode::kUnauthenticated, "not registered"));
}

TEST_F(StoreServiceTest, AuthenticateDeveloperRefusesAnExpiredIdentity) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  clock_.Set(alice.identity.NotAfter() + Seconds(1));
  EXPECT_TRUE(Refused(service().AuthenticateDeveloper(alice.identity.ToPem()).status(),
                      StatusCode::kUnauthenticated));
}

TEST_F(StoreServiceTest, AuthenticateDeveloperRefusesARevokedDeveloper) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  ASSERT_TRUE(service().RevokeDeveloper("alice", "left the company").ok());
  EXPECT_TRUE(Refused(service().AuthenticateDeveloper(alice.identity.ToPem()).status(),
                      StatusCode::kPermissionDenied, "left the company"));
}

// --- publishing --------------------------------------------------------------------------------

TEST_F(StoreServiceTest, PublishHappyPath) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(100000, 1);
  const pki::Digest digest = pki::HashBytes(pki::HashAlgorithm::kSha256, bytes);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 3}, bytes));
  const Snapshot before = Take();
  clock_.Advance(Seconds(60));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto upload, service().StartPublish(alice.record, cert_dev.ToPem(), bytes.size()));
  for (size_t off = 0; off < bytes.size(); off += 4096) {
    ASSERT_TRUE(upload->Append(AsBytes(std::string_view(bytes).substr(off, 4096))).ok());
    EXPECT_EQ(upload->received(), std::min(bytes.size(), off + 4096));
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published published, upload->Finish());
  upload.reset();

  const ReleaseRecord& r = published.release;
  EXPECT_GT(r.id, 0);
  EXPECT_EQ(r.name, "hello");
  EXPECT_EQ(r.version, "1.0.0");
  EXPECT_EQ(r.release_counter, 3u);
  EXPECT_EQ(r.developer_id, alice.record.id);
  EXPECT_EQ(r.developer, "alice");
  EXPECT_EQ(r.digest_algorithm, "sha256");
  EXPECT_EQ(r.digest, digest.Hex());
  EXPECT_EQ(r.size, bytes.size());
  EXPECT_EQ(r.blob, storage::BlobStore::BlobName(digest));
  EXPECT_EQ(r.cert_dev_pem, cert_dev.ToPem());
  EXPECT_EQ(r.cert_store_pem, published.cert_store.ToPem());
  EXPECT_EQ(r.published_at, clock_.Now());

  // Cert_store passes the chain, and the stored blob passes rule 6, as a site checks them.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(UniqueFd fd, service().OpenBlob(r));
  pki::ChainInput chain;
  chain.store_root = service().root();
  chain.developer_identity = alice.identity;
  chain.cert_dev = cert_dev;
  chain.cert_store = published.cert_store;
  chain.executable_fd = fd.get();
  pki::Verification v = pki::Verifier(clock_).Verify(chain);
  ASSERT_TRUE(v.ok()) << testing::Describe(v);
  for (int rule : {1, 2, 4, 6}) {
    EXPECT_NE(std::find(v.rules_checked.begin(), v.rules_checked.end(), rule),
              v.rules_checked.end())
        << "rule " << rule << ": " << testing::Describe(v);
  }
  EXPECT_EQ(ReadFd(fd.get()), bytes);

  // The blob is in the blob directory, and the release in the catalog.
  EXPECT_TRUE(blobs_->Contains(digest));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto listed, service().ListReleases({}));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, r.id);
  EXPECT_EQ(listed[0].developer_certificate_pem, alice.identity.ToPem());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord newest, service().FindRelease("hello", ""));
  EXPECT_EQ(newest.id, r.id);
  EXPECT_EQ(newest.cert_store_pem, r.cert_store_pem);

  const Snapshot after = Take();
  EXPECT_EQ(after.blobs, std::vector<std::string>{r.blob});
  EXPECT_TRUE(after.tmp.empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreStats stats, service().Stats());
  EXPECT_EQ(stats.releases, 1u);
  EXPECT_EQ(stats.blob_bytes, bytes.size());
  EXPECT_EQ(stats.audit_entries, before.stats[7] + 1);

  // A newer release of the same name is accepted and becomes the newest.
  const std::string v2 = Executable(5000, 2);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published second,
                                 SignAndPublish(alice, {"hello", "1.1.0", 4}, v2));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(newest, service().FindRelease("hello", ""));
  EXPECT_EQ(newest.id, second.release.id);
}

TEST_F(StoreServiceTest, PublishRefusesACertDevIssuedByAnotherDeveloper) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer bob, Register("bob"));
  const std::string bytes = Executable(3000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate bobs, CertDev(bob, {"hello", "1.0.0", 1}, bytes));
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(alice.record, bobs.ToPem(), bytes.size(), bytes),
                      StatusCode::kPermissionDenied, "bob"));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, PublishRefusesACertDevWithAnExtraExtension) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(3000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes));
  // Signed by alice herself, so it is authentic; but it carries something the profile forbids.
  pki::CertificateSpec spec = testing::SpecFrom(cert_dev);
  spec.extra_extensions.push_back(
      pki::RawExtension{std::string(pki::kOidArc) + ".99", false, Bytes{0x0C, 0x02, 'h', 'i'}});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate tampered,
      pki::IssueCertificate(spec, pki::Issuer{&alice.identity, alice.key}, rng_));
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(alice.record, tampered.ToPem(), bytes.size(), bytes),
                      StatusCode::kInvalidArgument, "EXTENSION_NOT_ALLOWED"));
  ExpectUnchanged(before);

  // Control: the faithful copy, signed the same way, is published.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate faithful,
      pki::IssueCertificate(testing::SpecFrom(cert_dev), pki::Issuer{&alice.identity, alice.key},
                            rng_));
  EXPECT_TRUE(TryPublish(alice.record, faithful.ToPem(), bytes.size(), bytes).ok());
}

TEST_F(StoreServiceTest, PublishRefusesAnExpiredCertDev) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(3000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes, kDay));
  clock_.Set(cert_dev.NotAfter() + Seconds(1));
  ASSERT_TRUE(service().AuthenticateDeveloper(alice.identity.ToPem()).ok());
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(alice.record, cert_dev.ToPem(), bytes.size(), bytes),
                      StatusCode::kInvalidArgument, "EXPIRED"));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, PublishRefusesSomethingThatIsNotACertificate) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(alice.record, "garbage", 3, "abc"), StatusCode::kInvalidArgument));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, PublishRefusesADeclaredSizeOverTheLimit) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(3000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes));
  const Snapshot before = Take();
  EXPECT_TRUE(
      Refused(service().StartPublish(alice.record, cert_dev.ToPem(), kMaxExecutable + 1).status(),
              StatusCode::kResourceExhausted));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, PublishRefusesMoreBytesThanDeclared) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(3000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes));
  const Snapshot before = Take();
  {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(
        auto upload, service().StartPublish(alice.record, cert_dev.ToPem(), bytes.size() - 1));
    EXPECT_TRUE(Refused(upload->Append(AsBytes(bytes)), StatusCode::kInvalidArgument, "more than"));
  }
  ExpectUnchanged(before);
  {
    // The same, one chunk at a time: the chunk that crosses the declared size is refused.
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto upload,
                                   service().StartPublish(alice.record, cert_dev.ToPem(), 2000));
    ASSERT_TRUE(upload->Append(AsBytes(std::string_view(bytes).substr(0, 1500))).ok());
    EXPECT_TRUE(Refused(upload->Append(AsBytes(std::string_view(bytes).substr(1500, 1500))),
                        StatusCode::kInvalidArgument));
  }
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, PublishRefusesATruncatedUpload) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(3000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes));
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(alice.record, cert_dev.ToPem(), bytes.size(),
                                 std::string_view(bytes).substr(0, bytes.size() - 1)),
                      StatusCode::kInvalidArgument, "truncated"));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, PublishRefusesBytesThatDoNotMatchTheDigest) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(100000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes));
  std::string flipped = bytes;
  flipped[flipped.size() - 1] ^= 0x01;
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(alice.record, cert_dev.ToPem(), flipped.size(), flipped),
                      StatusCode::kInvalidArgument, "executableHash"));
  ExpectUnchanged(before);
  // The very bytes that were signed are still accepted.
  EXPECT_TRUE(Publish(alice.record, cert_dev, bytes).ok());
}

TEST_F(StoreServiceTest, AnUploadDroppedWithoutFinishLeavesNothing) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(50000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes));
  const Snapshot before = Take();
  {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(
        auto upload, service().StartPublish(alice.record, cert_dev.ToPem(), bytes.size()));
    ASSERT_TRUE(upload->Append(AsBytes(bytes)).ok());
  }
  ExpectUnchanged(before);
  // Nothing was reserved either: the release can be published afterwards.
  EXPECT_TRUE(Publish(alice.record, cert_dev, bytes).ok());
}

TEST_F(StoreServiceTest, PublishRefusesADuplicateVersion) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  const std::string other = Executable(3000, 2);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 2}, other));
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(alice.record, cert_dev.ToPem(), other.size(), other),
                      StatusCode::kAlreadyExists, "1.0.0"));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, PublishRefusesACounterThatIsNotHigher) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 5}, Executable(3000, 1)).ok());
  const Snapshot before = Take();
  for (uint64_t counter : {uint64_t{4}, uint64_t{5}}) {
    const std::string bytes = Executable(3000, static_cast<uint32_t>(counter) + 10);
    SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                   CertDev(alice, {"hello", "2.0.0", counter}, bytes));
    EXPECT_TRUE(Refused(TryPublish(alice.record, cert_dev.ToPem(), bytes.size(), bytes),
                        StatusCode::kFailedPrecondition, "releaseCounter"))
        << "counter " << counter;
    ExpectUnchanged(before);
  }
  // Also below a release that has since been revoked.
  ASSERT_TRUE(service().RevokeRelease(alice.record, "hello", "1.0.0", "bad").ok());
  const Snapshot revoked = Take();
  const std::string bytes = Executable(3000, 99);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "0.9.0", 3}, bytes));
  EXPECT_TRUE(Refused(TryPublish(alice.record, cert_dev.ToPem(), bytes.size(), bytes),
                      StatusCode::kFailedPrecondition));
  ExpectUnchanged(revoked);
}

TEST_F(StoreServiceTest, PublishRefusesSomeoneElsesName) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer bob, Register("bob"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  const std::string bytes = Executable(3000, 2);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(bob, {"hello", "9.0.0", 100}, bytes));
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(TryPublish(bob.record, cert_dev.ToPem(), bytes.size(), bytes),
                      StatusCode::kPermissionDenied, "alice"));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, ReleasesWithTheSameBytesShareOneBlob) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(20000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published a, SignAndPublish(alice, {"hello", "1.0.0", 1}, bytes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published b, SignAndPublish(alice, {"hello", "1.0.1", 2}, bytes));
  EXPECT_EQ(a.release.blob, b.release.blob);
  const Snapshot s = Take();
  EXPECT_EQ(s.blobs, std::vector<std::string>{a.release.blob});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreStats stats, service().Stats());
  EXPECT_EQ(stats.releases, 2u);
  EXPECT_EQ(stats.blob_bytes, bytes.size());
  // Revoking one keeps the bytes the other needs, also across a restart.
  ASSERT_TRUE(service().RevokeRelease(alice.record, "hello", "1.0.0", "dup").ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(UniqueFd fd, service().OpenBlob(b.release));
  EXPECT_EQ(ReadFd(fd.get()), bytes);
}

TEST_F(StoreServiceTest, OpenBlobOfAMissingBlobIsDataLoss) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published p,
                                 SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)));
  ASSERT_TRUE(blobs_->Remove(p.release.blob).ok());
  EXPECT_TRUE(Refused(service().OpenBlob(p.release).status(), StatusCode::kDataLoss, "hello"));
}

// Two uploads of the same release pass StartPublish before either commits; the second to finish
// loses and leaves nothing behind.
class StoreServiceRaceTest : public StoreServiceTest, public ::testing::WithParamInterface<bool> {};

TEST_P(StoreServiceRaceTest, OnlyOneOfTwoRacingUploadsOfARelease) {
  const bool same_bytes = GetParam();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string first = Executable(20000, 1);
  const std::string second = same_bytes ? first : Executable(20000, 2);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_a,
                                 CertDev(alice, {"hello", "1.0.0", 1}, first));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_b,
                                 CertDev(alice, {"hello", "1.0.0", 1}, second));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto a, service().StartPublish(alice.record, cert_a.ToPem(), first.size()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto b, service().StartPublish(alice.record, cert_b.ToPem(), second.size()));
  ASSERT_TRUE(a->Append(AsBytes(first)).ok());
  ASSERT_TRUE(b->Append(AsBytes(second)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published won, a->Finish());
  const Snapshot after_winner = Take();
  EXPECT_TRUE(Refused(b->Finish().status(), StatusCode::kAlreadyExists));
  a.reset();
  b.reset();

  ExpectUnchanged(after_winner);
  EXPECT_EQ(after_winner.blobs, std::vector<std::string>{won.release.blob});
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto listed, service().ListReleases({}));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].cert_dev_pem, cert_a.ToPem());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(UniqueFd fd, service().OpenBlob(listed[0]));
  EXPECT_EQ(ReadFd(fd.get()), first);
}

INSTANTIATE_TEST_SUITE_P(Race, StoreServiceRaceTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "SameBytes" : "OtherBytes";
                         });

TEST_F(StoreServiceTest, CreateRemovesBlobsThatNoReleaseRefersTo) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(20000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published kept,
                                 SignAndPublish(alice, {"hello", "1.0.0", 1}, bytes));

  // What a crash between storing a blob and committing its release leaves: a complete blob.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(storage::BlobStore::Writer stray,
                                 blobs_->StartUpload(pki::HashAlgorithm::kSha256, kMaxExecutable));
  ASSERT_TRUE(stray.Append(AsBytes("an orphan upload")).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Digest stray_digest, stray.Finish());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(std::string stray_name, stray.Commit());
  ASSERT_TRUE(blobs_->Contains(stray_digest));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto present, blobs_->List());
  ASSERT_EQ(present.size(), 2u);

  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_FALSE(blobs_->Contains(stray_digest)) << stray_name;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto left, blobs_->List());
  EXPECT_EQ(left, std::vector<std::string>{kept.release.blob});
  // The release survives the restart with its bytes.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord r, service().FindRelease("hello", "1.0.0"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(UniqueFd fd, service().OpenBlob(r));
  EXPECT_EQ(ReadFd(fd.get()), bytes);
  EXPECT_TRUE(service().AuthenticateDeveloper(alice.identity.ToPem()).ok());
}

// --- revocation --------------------------------------------------------------------------------

TEST_F(StoreServiceTest, ADeveloperRevokesItsOwnRelease) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Published p,
                                 SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)));
  clock_.Advance(Seconds(30));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      RevocationRecord r, service().RevokeRelease(alice.record, "hello", "1.0.0", "CVE-2026-1"));
  EXPECT_EQ(r.kind, RevocationRecord::Kind::kRelease);
  EXPECT_EQ(r.name, "hello");
  EXPECT_EQ(r.version, "1.0.0");
  EXPECT_EQ(r.digest, p.release.digest);
  EXPECT_EQ(r.developer, "alice");
  EXPECT_EQ(r.developer_serial, alice.identity.SerialHex());
  EXPECT_EQ(r.reason, "CVE-2026-1");
  EXPECT_EQ(r.revoked_at, clock_.Now());
  EXPECT_EQ(r.revoked_by, "developer:alice");

  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord found, service().FindRelease("hello", "1.0.0"));
  EXPECT_TRUE(found.revoked);
  EXPECT_EQ(service().FindRelease("hello", "").status().code(), StatusCode::kNotFound);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto feed, service().RevocationsSince(0, 0));
  ASSERT_EQ(feed.size(), 1u);
  EXPECT_EQ(feed[0].sequence, r.sequence);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t last, service().LastRevocationSequence());
  EXPECT_EQ(last, r.sequence);

  // Twice is refused.
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(service().RevokeRelease(alice.record, "hello", "1.0.0", "again").status(),
                      StatusCode::kFailedPrecondition));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, OnlyTheOwnerOrTheAdminRevokesARelease) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer bob, Register("bob"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(service().RevokeRelease(bob.record, "hello", "1.0.0", "sabotage").status(),
                      StatusCode::kPermissionDenied));
  ExpectUnchanged(before);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord still, service().FindRelease("hello", "1.0.0"));
  EXPECT_FALSE(still.revoked);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      RevocationRecord r, service().RevokeRelease(std::nullopt, "hello", "1.0.0", "malware"));
  EXPECT_EQ(r.revoked_by, "admin");
  EXPECT_EQ(r.developer, "alice");
}

TEST_F(StoreServiceTest, RevokeReleaseNeedsAReasonAndARelease) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(service().RevokeRelease(std::nullopt, "hello", "1.0.0", "").status(),
                      StatusCode::kInvalidArgument, "reason"));
  EXPECT_TRUE(Refused(service().RevokeRelease(std::nullopt, "hello", "1.0.0", "a\nb").status(),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(Refused(service()
                          .RevokeRelease(std::nullopt, "hello", "1.0.0",
                                         std::string(limits_.max_text_bytes + 1, 'r'))
                          .status(),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(Refused(service().RevokeRelease(std::nullopt, "hello", "", "why").status(),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(Refused(service().RevokeRelease(std::nullopt, "hello", "2.0.0", "why").status(),
                      StatusCode::kNotFound));
  EXPECT_TRUE(
      Refused(service().RevokeDeveloper("alice", "").status(), StatusCode::kInvalidArgument));
  EXPECT_TRUE(Refused(service().RevokeDeveloper("nobody", "why").status(), StatusCode::kNotFound));
  ExpectUnchanged(before);
}

TEST_F(StoreServiceTest, WaitForRevocation) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  EXPECT_FALSE(service().WaitForRevocation(0, std::chrono::milliseconds(10)));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(RevocationRecord r,
                                 service().RevokeRelease(std::nullopt, "hello", "1.0.0", "bad"));
  // Already there: no waiting at all.
  EXPECT_TRUE(service().WaitForRevocation(r.sequence - 1, std::chrono::milliseconds(0)));
  EXPECT_TRUE(service().WaitForRevocation(0, std::chrono::milliseconds(0)));
  // Nothing newer: times out.
  EXPECT_FALSE(service().WaitForRevocation(r.sequence, std::chrono::milliseconds(10)));
}

TEST_F(StoreServiceTest, WaitForRevocationSeesTheLastSequenceAfterARestart) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(RevocationRecord r,
                                 service().RevokeRelease(std::nullopt, "hello", "1.0.0", "bad"));
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_TRUE(service().WaitForRevocation(r.sequence - 1, std::chrono::milliseconds(0)));
  EXPECT_FALSE(service().WaitForRevocation(r.sequence, std::chrono::milliseconds(0)));
}

TEST_F(StoreServiceTest, ARevocationWakesAWaiter) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t last, service().LastRevocationSequence());
  bool woken = false;
  std::thread waiter(
      [&] { woken = service().WaitForRevocation(last, std::chrono::milliseconds(10000)); });
  const Result<RevocationRecord> r = service().RevokeRelease(std::nullopt, "hello", "1.0.0", "x");
  waiter.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(woken);
}

TEST_F(StoreServiceTest, ShutdownWakesAWaiter) {
  EXPECT_FALSE(service().shutting_down());
  bool result = true;
  std::thread waiter(
      [&] { result = service().WaitForRevocation(0, std::chrono::milliseconds(10000)); });
  service().Shutdown();
  waiter.join();
  EXPECT_FALSE(result);  // woken, but there is nothing new
  EXPECT_TRUE(service().shutting_down());
  // For good: later waits return at once too.
  EXPECT_FALSE(service().WaitForRevocation(0, std::chrono::milliseconds(10000)));
}

TEST_F(StoreServiceTest, RevokeDeveloperRevokesItsReleasesAndLocksItOut) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer bob, Register("bob"));
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.0.0", 1}, Executable(3000, 1)).ok());
  ASSERT_TRUE(SignAndPublish(alice, {"hello", "1.1.0", 2}, Executable(3000, 2)).ok());
  ASSERT_TRUE(SignAndPublish(bob, {"bobapp", "1.0.0", 1}, Executable(3000, 3)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t before, service().LastRevocationSequence());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(RevocationRecord r,
                                 service().RevokeDeveloper("alice", "stolen laptop"));
  EXPECT_EQ(r.kind, RevocationRecord::Kind::kDeveloper);
  EXPECT_EQ(r.revoked_by, "admin");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto feed, service().RevocationsSince(before, 0));
  ASSERT_EQ(feed.size(), 3u);
  EXPECT_EQ(feed[0].kind, RevocationRecord::Kind::kDeveloper);
  EXPECT_EQ(feed[1].version, "1.0.0");
  EXPECT_EQ(feed[2].version, "1.1.0");
  // Waiters hear of every entry, not only the developer's.
  EXPECT_TRUE(service().WaitForRevocation(r.sequence + 1, std::chrono::milliseconds(0)));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto page, service().RevocationsSince(before, 1));
  EXPECT_EQ(page.size(), 1u);

  EXPECT_TRUE(Refused(service().AuthenticateDeveloper(alice.identity.ToPem()).status(),
                      StatusCode::kPermissionDenied));
  EXPECT_EQ(service().FindRelease("hello", "").status().code(), StatusCode::kNotFound);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto live, service().ListReleases({}));
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].developer, "bob");
  EXPECT_TRUE(service().AuthenticateDeveloper(bob.identity.ToPem()).ok());
}

TEST_F(StoreServiceTest, ADeveloperRevokedDuringAnUploadCannotCommitIt) {
  // Authentication happens once, when the call starts; the revocation must still stop the
  // commit (and any upload started with a stale developer record).
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  const std::string bytes = Executable(3000, 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_dev,
                                 CertDev(alice, {"hello", "1.0.0", 1}, bytes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto upload, service().StartPublish(alice.record, cert_dev.ToPem(), bytes.size()));
  ASSERT_TRUE(upload->Append(AsBytes(bytes)).ok());
  ASSERT_TRUE(service().RevokeDeveloper("alice", "stolen laptop").ok());
  const Snapshot before = Take();
  EXPECT_TRUE(Refused(upload->Finish().status(), StatusCode::kPermissionDenied));
  upload.reset();
  ExpectUnchanged(before);
  // A stale record (authenticated before the revocation) does not open a new upload either.
  const std::string next = Executable(3000, 2);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate next_dev,
                                 CertDev(alice, {"hello", "1.1.0", 2}, next));
  EXPECT_TRUE(Refused(service().StartPublish(alice.record, next_dev.ToPem(), next.size()).status(),
                      StatusCode::kPermissionDenied));
}

TEST_F(StoreServiceTest, CatalogPagingUsesTheLimits) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Developer alice, Register("alice"));
  for (uint64_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(SignAndPublish(alice, {"hello", std::to_string(i) + ".0.0", i},
                               Executable(1000, static_cast<uint32_t>(i)))
                    .ok());
  }
  ReleaseFilter f;
  f.limit = 0;  // the default page size
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto all, service().ListReleases(f));
  ASSERT_EQ(all.size(), 3u);
  f.limit = 2;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto page1, service().ListReleases(f));
  ASSERT_EQ(page1.size(), 2u);
  EXPECT_EQ(page1[0].version, "3.0.0");
  f.before_id = page1.back().id;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto page2, service().ListReleases(f));
  ASSERT_EQ(page2.size(), 1u);
  EXPECT_EQ(page2[0].version, "1.0.0");
}

}  // namespace
}  // namespace sitechain::store
