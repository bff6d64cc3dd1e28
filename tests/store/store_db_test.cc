// Tests of StoreDatabase (store/store_db.h) against a real SQLite file in a temporary directory.
// The records are plain values: no certificates are needed to exercise the storage rules.

#include "store/store_db.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "tests/common/temp_dir.h"
#include "tests/support/test_chain.h"

namespace sitechain::store {
namespace {

using testutil::TempDir;

const TimePoint kNow = testing::kTestEpoch;
constexpr Seconds kDay{86400};

std::vector<int64_t> Ids(const std::vector<ReleaseRecord>& releases) {
  std::vector<int64_t> ids;
  for (const auto& r : releases) ids.push_back(r.id);
  return ids;
}

std::vector<uint64_t> Sequences(const std::vector<RevocationRecord>& revocations) {
  std::vector<uint64_t> out;
  for (const auto& r : revocations) out.push_back(r.sequence);
  return out;
}

// Builds a ReleaseFilter one field at a time: Filter().Name("hello").Revoked().f
struct Filter {
  ReleaseFilter f;
  Filter& Name(std::string v) {
    f.name = std::move(v);
    return *this;
  }
  Filter& Query(std::string v) {
    f.query = std::move(v);
    return *this;
  }
  Filter& Developer(std::string v) {
    f.developer = std::move(v);
    return *this;
  }
  Filter& Revoked() {
    f.include_revoked = true;
    return *this;
  }
  Filter& Page(int64_t before_id, uint32_t limit) {
    f.before_id = before_id;
    f.limit = limit;
    return *this;
  }
};

class StoreDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  std::string Path() const { return tmp_.Path("store.db"); }

  void Reopen() {
    db_.reset();
    Result<StoreDatabase> db = StoreDatabase::Open(Path());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_.emplace(std::move(db).value());
  }
  StoreDatabase& db() { return *db_; }

  // A token whose hash is derived from `seed`; id = the hash's first 16 hex digits.
  static TokenRecord Token(const std::string& seed, TimePoint expires_at = kNow + kDay) {
    TokenRecord t;
    t.hash = seed + std::string(64 - seed.size(), '0');
    t.id = t.hash.substr(0, 16);
    t.note = "for " + seed;
    t.created_at = kNow;
    t.expires_at = expires_at;
    return t;
  }

  static DeveloperRecord Dev(const std::string& name, const std::string& key = "") {
    DeveloperRecord d;
    d.name = name;
    d.serial = "5e7a1-" + name;
    d.fingerprint = "f1-" + name;
    d.key_fingerprint = "k1-" + (key.empty() ? name : key);
    d.key_type = "Ed25519";
    d.certificate_pem = "-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n";
    d.registered_at = kNow;
    d.not_after = kNow + 730 * kDay;
    return d;
  }

  // Inserts a fresh token and registers `name` with it. Returns the developer id.
  int64_t Register(const std::string& name) {
    const TokenRecord token = Token("t" + name);
    EXPECT_TRUE(db().InsertToken(token, kNow).ok());
    Result<int64_t> id = db().RegisterDeveloper(Dev(name), token.id, kNow);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : -1;
  }

  static ReleaseRecord Release(int64_t developer_id, const std::string& developer,
                               const std::string& name, const std::string& version,
                               uint64_t counter, const std::string& digest = "") {
    ReleaseRecord r;
    r.name = name;
    r.version = version;
    r.release_counter = counter;
    r.developer_id = developer_id;
    r.developer = developer;
    r.digest_algorithm = "sha256";
    r.digest = digest.empty() ? "d1-" + name + "-" + version : digest;
    r.size = 1000 + counter;
    r.blob = "sha256-" + r.digest;
    r.cert_dev_pem = "cert-dev " + name + " " + version;
    r.cert_store_pem = "cert-store " + name + " " + version;
    r.published_at = kNow;
    return r;
  }

  int64_t Publish(int64_t developer_id, const std::string& developer, const std::string& name,
                  const std::string& version, uint64_t counter) {
    Result<int64_t> id =
        db().InsertRelease(Release(developer_id, developer, name, version, counter), kNow);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : -1;
  }

  StoreStats Stats() {
    Result<StoreStats> s = db().Stats(kNow);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : StoreStats{};
  }

  TempDir tmp_;
  std::optional<StoreDatabase> db_;
};

// --- schema ------------------------------------------------------------------------------------

TEST_F(StoreDatabaseTest, OpenCreatesAnEmptySchema) {
  EXPECT_TRUE(std::filesystem::exists(Path()));
  const StoreStats s = Stats();
  EXPECT_EQ(s.developers, 0u);
  EXPECT_EQ(s.releases, 0u);
  EXPECT_EQ(s.active_tokens, 0u);
  EXPECT_EQ(s.audit_entries, 0u);
  EXPECT_EQ(s.last_revocation_sequence, 0u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto tokens, db().ListTokens());
  EXPECT_TRUE(tokens.empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto developers, db().ListDevelopers());
  EXPECT_TRUE(developers.empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto blobs, db().ReferencedBlobs());
  EXPECT_TRUE(blobs.empty());
}

TEST_F(StoreDatabaseTest, ReopenKeepsEverything) {
  const int64_t alice = Register("alice");
  const int64_t release = Publish(alice, "alice", "hello", "1.0.0", 1);
  ASSERT_TRUE(db().RevokeRelease("hello", "1.0.0", "bad build", "admin", std::nullopt, kNow).ok());
  const StoreStats before = Stats();

  Reopen();
  const StoreStats after = Stats();
  EXPECT_EQ(after.developers, 1u);
  EXPECT_EQ(after.releases, 1u);
  EXPECT_EQ(after.revoked_releases, 1u);
  EXPECT_EQ(after.last_revocation_sequence, before.last_revocation_sequence);
  EXPECT_EQ(after.audit_entries, before.audit_entries);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(DeveloperRecord dev, db().FindDeveloperByName("alice"));
  EXPECT_EQ(dev.id, alice);
  EXPECT_EQ(dev.fingerprint, Dev("alice").fingerprint);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord r, db().FindRelease("hello", "1.0.0"));
  EXPECT_EQ(r.id, release);
  EXPECT_TRUE(r.revoked);
  EXPECT_EQ(r.revocation_reason, "bad build");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto tokens, db().ListTokens());
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].used_by, "alice");
}

// --- tokens ------------------------------------------------------------------------------------

TEST_F(StoreDatabaseTest, TokensAreFoundByHashAndListed) {
  const TokenRecord a = Token("aa"), b = Token("bb", kNow + 2 * kDay);
  ASSERT_TRUE(db().InsertToken(a, kNow).ok());
  ASSERT_TRUE(db().InsertToken(b, kNow).ok());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(TokenRecord found, db().FindTokenByHash(b.hash));
  EXPECT_EQ(found.id, b.id);
  EXPECT_EQ(found.hash, b.hash);
  EXPECT_EQ(found.note, b.note);
  EXPECT_EQ(found.created_at, b.created_at);
  EXPECT_EQ(found.expires_at, b.expires_at);
  EXPECT_FALSE(found.used_at.has_value());
  EXPECT_EQ(found.used_by, "");

  EXPECT_EQ(db().FindTokenByHash(std::string(64, 'f')).status().code(), StatusCode::kNotFound);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto list, db().ListTokens());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, a.id);
  EXPECT_EQ(list[1].id, b.id);

  // The same token twice is a uniqueness clash.
  EXPECT_EQ(db().InsertToken(a, kNow).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Stats().active_tokens, 2u);
}

// --- developers --------------------------------------------------------------------------------

TEST_F(StoreDatabaseTest, RegisterDeveloperMarksTheTokenUsed) {
  const TokenRecord token = Token("t1");
  ASSERT_TRUE(db().InsertToken(token, kNow).ok());
  const TimePoint later = kNow + Seconds(30);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(int64_t id, db().RegisterDeveloper(Dev("alice"), token.id, later));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(TokenRecord used, db().FindTokenByHash(token.hash));
  ASSERT_TRUE(used.used_at.has_value());
  EXPECT_EQ(*used.used_at, later);
  EXPECT_EQ(used.used_by, "alice");

  SITECHAIN_ASSERT_OK_AND_ASSIGN(DeveloperRecord byname, db().FindDeveloperByName("alice"));
  EXPECT_EQ(byname.id, id);
  EXPECT_EQ(byname.serial, Dev("alice").serial);
  EXPECT_EQ(byname.key_fingerprint, Dev("alice").key_fingerprint);
  EXPECT_EQ(byname.certificate_pem, Dev("alice").certificate_pem);
  EXPECT_EQ(byname.registered_at, kNow);
  EXPECT_EQ(byname.not_after, kNow + 730 * kDay);
  EXPECT_FALSE(byname.revoked_at.has_value());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(DeveloperRecord byfp,
                                 db().FindDeveloperByFingerprint(Dev("alice").fingerprint));
  EXPECT_EQ(byfp.id, id);
  EXPECT_EQ(db().FindDeveloperByFingerprint("f1-nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db().FindDeveloperByName("nobody").status().code(), StatusCode::kNotFound);

  const StoreStats s = Stats();
  EXPECT_EQ(s.developers, 1u);
  EXPECT_EQ(s.active_tokens, 0u);
}

TEST_F(StoreDatabaseTest, AUsedTokenRegistersNobodyElse) {
  const TokenRecord token = Token("t1");
  ASSERT_TRUE(db().InsertToken(token, kNow).ok());
  ASSERT_TRUE(db().RegisterDeveloper(Dev("alice"), token.id, kNow).ok());
  const StoreStats before = Stats();

  Result<int64_t> again = db().RegisterDeveloper(Dev("bob"), token.id, kNow);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kUnauthenticated) << again.status().ToString();
  // The developer row inserted before the token check was rolled back.
  EXPECT_EQ(db().FindDeveloperByName("bob").status().code(), StatusCode::kNotFound);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto devs, db().ListDevelopers());
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0].name, "alice");
  EXPECT_EQ(Stats().audit_entries, before.audit_entries);

  // A token that was never issued registers nobody either.
  Result<int64_t> unknown = db().RegisterDeveloper(Dev("carol"), "0123456789abcdef", kNow);
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Stats().developers, 1u);
}

TEST_F(StoreDatabaseTest, DuplicateNameOrKeyIsAlreadyExistsAndKeepsTheToken) {
  Register("alice");
  const TokenRecord token = Token("t2");
  ASSERT_TRUE(db().InsertToken(token, kNow).ok());
  const StoreStats before = Stats();

  DeveloperRecord same_name = Dev("alice", "other-key");
  same_name.serial = "5e7a1-2";
  same_name.fingerprint = "f1-2";
  Result<int64_t> r = db().RegisterDeveloper(same_name, token.id, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();

  DeveloperRecord same_key = Dev("mallory", "alice");
  r = db().RegisterDeveloper(same_key, token.id, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(bool name_taken,
                                 db().DeveloperNameOrKeyExists("alice", "k1-unused"));
  EXPECT_TRUE(name_taken);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(bool key_taken, db().DeveloperNameOrKeyExists("zed", "k1-alice"));
  EXPECT_TRUE(key_taken);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(bool free, db().DeveloperNameOrKeyExists("zed", "k1-zed"));
  EXPECT_FALSE(free);

  const StoreStats after = Stats();
  EXPECT_EQ(after.developers, 1u);
  EXPECT_EQ(after.audit_entries, before.audit_entries);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TokenRecord kept, db().FindTokenByHash(token.hash));
  EXPECT_FALSE(kept.used_at.has_value());
  // The refused registrations did not spend the token.
  EXPECT_TRUE(db().RegisterDeveloper(Dev("bob"), token.id, kNow).ok());
}

// --- releases ----------------------------------------------------------------------------------

TEST_F(StoreDatabaseTest, CheckPublishableRules) {
  const int64_t alice = Register("alice");
  const int64_t bob = Register("bob");
  EXPECT_TRUE(db().CheckPublishable(alice, "hello", "1.0.0", 5).ok());  // a new name
  Publish(alice, "alice", "hello", "1.0.0", 5);

  Status s = db().CheckPublishable(bob, "hello", "2.0.0", 99);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("alice"), std::string::npos) << s.ToString();

  s = db().CheckPublishable(alice, "hello", "1.0.0", 6);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  s = db().CheckPublishable(alice, "hello", "1.1.0", 5);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  s = db().CheckPublishable(alice, "hello", "1.1.0", 4);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_TRUE(db().CheckPublishable(alice, "hello", "1.1.0", 6).ok());

  // A revoked release still counts: its counter may not be reused or undercut.
  ASSERT_TRUE(db().RevokeRelease("hello", "1.0.0", "oops", "admin", std::nullopt, kNow).ok());
  s = db().CheckPublishable(alice, "hello", "0.9.0", 4);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  s = db().CheckPublishable(alice, "hello", "1.0.0", 6);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
}

TEST_F(StoreDatabaseTest, InsertReleaseClaimsTheNameAndChecksAgain) {
  const int64_t alice = Register("alice");
  const int64_t bob = Register("bob");
  const ReleaseRecord first = Release(alice, "alice", "hello", "1.0.0", 1);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(int64_t id, db().InsertRelease(first, kNow));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord found, db().FindRelease("hello", "1.0.0"));
  EXPECT_EQ(found.id, id);
  EXPECT_EQ(found.developer_id, alice);
  EXPECT_EQ(found.developer, "alice");
  EXPECT_EQ(found.developer_certificate_pem, Dev("alice").certificate_pem);
  EXPECT_EQ(found.release_counter, 1u);
  EXPECT_EQ(found.digest, first.digest);
  EXPECT_EQ(found.size, first.size);
  EXPECT_EQ(found.blob, first.blob);
  EXPECT_EQ(found.cert_dev_pem, first.cert_dev_pem);
  EXPECT_EQ(found.cert_store_pem, first.cert_store_pem);
  EXPECT_EQ(found.published_at, kNow);
  EXPECT_FALSE(found.revoked);

  // The name is alice's now; InsertRelease applies the same checks as CheckPublishable.
  const StoreStats before = Stats();
  Result<int64_t> r = db().InsertRelease(Release(bob, "bob", "hello", "2.0.0", 2), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  r = db().InsertRelease(Release(alice, "alice", "hello", "1.0.0", 2), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();
  r = db().InsertRelease(Release(alice, "alice", "hello", "1.1.0", 1), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  const StoreStats after = Stats();
  EXPECT_EQ(after.releases, before.releases);
  EXPECT_EQ(after.audit_entries, before.audit_entries);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto blobs, db().ReferencedBlobs());
  EXPECT_EQ(blobs, std::vector<std::string>{first.blob});
  EXPECT_EQ(db().FindRelease("hello", "9.9.9").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db().FindRelease("nothing", "").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreDatabaseTest, FindReleaseWithoutVersionIsTheNewestUnrevoked) {
  const int64_t alice = Register("alice");
  Publish(alice, "alice", "hello", "1.0.0", 1);
  Publish(alice, "alice", "hello", "1.1.0", 2);
  Publish(alice, "alice", "other", "9.0.0", 50);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord newest, db().FindRelease("hello", ""));
  EXPECT_EQ(newest.version, "1.1.0");

  ASSERT_TRUE(db().RevokeRelease("hello", "1.1.0", "broken", "admin", std::nullopt, kNow).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(newest, db().FindRelease("hello", ""));
  EXPECT_EQ(newest.version, "1.0.0");
  // The revoked release can still be found by its version, marked as revoked.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord revoked, db().FindRelease("hello", "1.1.0"));
  EXPECT_TRUE(revoked.revoked);
  EXPECT_EQ(revoked.revocation_reason, "broken");

  ASSERT_TRUE(db().RevokeRelease("hello", "1.0.0", "broken", "admin", std::nullopt, kNow).ok());
  EXPECT_EQ(db().FindRelease("hello", "").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreDatabaseTest, ListReleasesFilters) {
  const int64_t alice = Register("alice");
  const int64_t bob = Register("bob");
  const int64_t r1 = Publish(alice, "alice", "hello", "1.0.0", 1);
  const int64_t r2 = Publish(alice, "alice", "hello", "1.1.0", 2);
  const int64_t r3 = Publish(alice, "alice", "hello-world", "1.0.0", 1);
  const int64_t r4 = Publish(bob, "bob", "bobapp", "1.0.0", 1);
  ASSERT_TRUE(db().RevokeRelease("hello", "1.0.0", "old", "admin", std::nullopt, kNow).ok());

  auto list = [&](ReleaseFilter f) {
    Result<std::vector<ReleaseRecord>> r = db().ListReleases(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? Ids(*r) : std::vector<int64_t>{};
  };
  using V = std::vector<int64_t>;

  EXPECT_EQ(list(ReleaseFilter{}), (V{r4, r3, r2}));  // newest first, revoked left out
  EXPECT_EQ(list(Filter().Revoked().f), (V{r4, r3, r2, r1}));
  EXPECT_EQ(list(Filter().Name("hello").f), (V{r2}));
  EXPECT_EQ(list(Filter().Name("hello").Revoked().f), (V{r2, r1}));
  EXPECT_EQ(list(Filter().Name("hell").f), V{});  // the name is exact
  EXPECT_EQ(list(Filter().Query("hello").f), (V{r3, r2}));
  EXPECT_EQ(list(Filter().Query("app").f), (V{r4}));
  EXPECT_EQ(list(Filter().Query("zzz").f), V{});
  EXPECT_EQ(list(Filter().Developer("bob").f), (V{r4}));
  EXPECT_EQ(list(Filter().Developer("alice").Revoked().f), (V{r3, r2, r1}));
  EXPECT_EQ(list(Filter().Developer("al").f), V{});

  // Paging: before_id continues below the last id of the previous page.
  EXPECT_EQ(list(Filter().Revoked().Page(0, 2).f), (V{r4, r3}));
  EXPECT_EQ(list(Filter().Revoked().Page(r3, 2).f), (V{r2, r1}));
  EXPECT_EQ(list(Filter().Revoked().Page(r1, 2).f), V{});

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto revoked, db().ListReleases(Filter().Revoked().f));
  ASSERT_EQ(revoked.size(), 4u);
  EXPECT_TRUE(revoked[3].revoked);
  EXPECT_EQ(revoked[3].revocation_reason, "old");
  EXPECT_EQ(revoked[0].developer, "bob");
  EXPECT_EQ(revoked[0].developer_certificate_pem, Dev("bob").certificate_pem);
}

// --- revocations -------------------------------------------------------------------------------

TEST_F(StoreDatabaseTest, RevokeRelease) {
  const int64_t alice = Register("alice");
  const int64_t bob = Register("bob");
  Publish(alice, "alice", "hello", "1.0.0", 1);
  Publish(alice, "alice", "hello", "1.1.0", 2);
  const StoreStats start = Stats();

  // Bob may not revoke alice's release.
  Result<RevocationRecord> r =
      db().RevokeRelease("hello", "1.0.0", "mine now", "developer:bob", bob, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord still, db().FindRelease("hello", "1.0.0"));
  EXPECT_FALSE(still.revoked);
  EXPECT_EQ(Stats().audit_entries, start.audit_entries);
  EXPECT_EQ(Stats().last_revocation_sequence, 0u);

  const TimePoint at = kNow + Seconds(100);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      RevocationRecord first,
      db().RevokeRelease("hello", "1.0.0", "key leaked", "developer:alice", alice, at));
  EXPECT_GT(first.sequence, 0u);
  EXPECT_EQ(first.kind, RevocationRecord::Kind::kRelease);
  EXPECT_EQ(first.developer, "alice");
  EXPECT_EQ(first.developer_serial, Dev("alice").serial);
  EXPECT_EQ(first.name, "hello");
  EXPECT_EQ(first.version, "1.0.0");
  EXPECT_EQ(first.digest, Release(alice, "alice", "hello", "1.0.0", 1).digest);
  EXPECT_EQ(first.reason, "key leaked");
  EXPECT_EQ(first.revoked_at, at);
  EXPECT_EQ(first.revoked_by, "developer:alice");

  // Twice is refused, and writes nothing.
  const StoreStats once = Stats();
  r = db().RevokeRelease("hello", "1.0.0", "again", "admin", std::nullopt, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_EQ(Stats().audit_entries, once.audit_entries);
  EXPECT_EQ(Stats().last_revocation_sequence, first.sequence);

  r = db().RevokeRelease("hello", "7.0.0", "no such", "admin", std::nullopt, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();

  // The admin (no developer restriction) revokes any; sequence numbers increase.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      RevocationRecord second,
      db().RevokeRelease("hello", "1.1.0", "policy", "admin", std::nullopt, kNow));
  EXPECT_GT(second.sequence, first.sequence);
  EXPECT_EQ(second.revoked_by, "admin");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t last, db().LastRevocationSequence());
  EXPECT_EQ(last, second.sequence);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto feed, db().RevocationsSince(0, 100));
  ASSERT_EQ(feed.size(), 2u);
  EXPECT_EQ(feed[0].sequence, first.sequence);
  EXPECT_EQ(feed[0].reason, "key leaked");
  EXPECT_EQ(feed[0].revoked_at, at);
  EXPECT_EQ(feed[0].revoked_by, "developer:alice");
  EXPECT_EQ(feed[1].version, "1.1.0");
  EXPECT_EQ(Stats().revoked_releases, 2u);
}

TEST_F(StoreDatabaseTest, RevokeDeveloperRevokesEachLiveReleaseOldestFirst) {
  const int64_t alice = Register("alice");
  const int64_t bob = Register("bob");
  Publish(alice, "alice", "hello", "1.0.0", 1);
  Publish(bob, "bob", "bobapp", "1.0.0", 1);
  Publish(alice, "alice", "hello", "1.1.0", 2);
  Publish(alice, "alice", "zeta", "3.0.0", 3);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      RevocationRecord earlier,
      db().RevokeRelease("hello", "1.0.0", "old", "admin", std::nullopt, kNow));
  const StoreStats before = Stats();

  const TimePoint at = kNow + Seconds(5);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(RevocationRecord dev,
                                 db().RevokeDeveloper("alice", "stolen laptop", "admin", at));
  EXPECT_EQ(dev.kind, RevocationRecord::Kind::kDeveloper);
  EXPECT_EQ(dev.developer, "alice");
  EXPECT_EQ(dev.developer_serial, Dev("alice").serial);
  EXPECT_EQ(dev.reason, "stolen laptop");
  EXPECT_EQ(dev.revoked_at, at);
  EXPECT_EQ(dev.revoked_by, "admin");
  EXPECT_GT(dev.sequence, earlier.sequence);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto feed, db().RevocationsSince(earlier.sequence, 100));
  ASSERT_EQ(feed.size(), 3u);
  EXPECT_EQ(feed[0].sequence, dev.sequence);
  EXPECT_EQ(feed[0].kind, RevocationRecord::Kind::kDeveloper);
  EXPECT_EQ(feed[0].name, "");
  // The live releases, in publication order; the one revoked earlier is not repeated.
  EXPECT_EQ(feed[1].kind, RevocationRecord::Kind::kRelease);
  EXPECT_EQ(feed[1].name, "hello");
  EXPECT_EQ(feed[1].version, "1.1.0");
  EXPECT_EQ(feed[2].name, "zeta");
  EXPECT_EQ(feed[2].version, "3.0.0");
  EXPECT_EQ(Sequences(feed),
            (std::vector<uint64_t>{dev.sequence, dev.sequence + 1, dev.sequence + 2}));
  for (size_t i = 1; i < feed.size(); ++i) {
    EXPECT_EQ(feed[i].reason, "developer revoked: stolen laptop");
    EXPECT_EQ(feed[i].developer, "alice");
    EXPECT_EQ(feed[i].revoked_at, at);
    EXPECT_EQ(feed[i].revoked_by, "admin");
    EXPECT_FALSE(feed[i].digest.empty());
  }

  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord zeta, db().FindRelease("zeta", "3.0.0"));
  EXPECT_TRUE(zeta.revoked);
  EXPECT_EQ(zeta.revocation_reason, "developer revoked: stolen laptop");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord old, db().FindRelease("hello", "1.0.0"));
  EXPECT_EQ(old.revocation_reason, "old");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord bobs, db().FindRelease("bobapp", "1.0.0"));
  EXPECT_FALSE(bobs.revoked);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(DeveloperRecord record, db().FindDeveloperByName("alice"));
  ASSERT_TRUE(record.revoked_at.has_value());
  EXPECT_EQ(*record.revoked_at, at);
  EXPECT_EQ(record.revocation_reason, "stolen laptop");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto live, db().ListReleases({}));
  EXPECT_EQ(Ids(live).size(), 1u);

  const StoreStats after = Stats();
  EXPECT_EQ(after.revoked_developers, 1u);
  EXPECT_EQ(after.revoked_releases, 3u);
  EXPECT_EQ(after.last_revocation_sequence, dev.sequence + 2);
  EXPECT_EQ(after.audit_entries, before.audit_entries + 1);

  // Twice is refused and changes nothing; so is an unknown developer.
  Result<RevocationRecord> again = db().RevokeDeveloper("alice", "again", "admin", at);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition) << again.status().ToString();
  EXPECT_EQ(db().RevokeDeveloper("nobody", "x", "admin", at).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Stats().audit_entries, after.audit_entries);
  EXPECT_EQ(Stats().last_revocation_sequence, after.last_revocation_sequence);
}

TEST_F(StoreDatabaseTest, RevocationsSincePages) {
  const int64_t alice = Register("alice");
  for (int i = 1; i <= 5; ++i) {
    const std::string version = std::to_string(i) + ".0.0";
    Publish(alice, "alice", "hello", version, static_cast<uint64_t>(i));
    ASSERT_TRUE(db().RevokeRelease("hello", version, "r", "admin", std::nullopt, kNow).ok());
  }
  using V = std::vector<uint64_t>;
  auto page = [&](uint64_t after, uint32_t limit) {
    Result<std::vector<RevocationRecord>> r = db().RevocationsSince(after, limit);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? Sequences(*r) : V{};
  };
  EXPECT_EQ(page(0, 2), (V{1, 2}));
  EXPECT_EQ(page(2, 2), (V{3, 4}));
  EXPECT_EQ(page(4, 2), (V{5}));
  EXPECT_EQ(page(5, 2), V{});
  EXPECT_EQ(page(0, 100), (V{1, 2, 3, 4, 5}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t last, db().LastRevocationSequence());
  EXPECT_EQ(last, 5u);
}

// --- stats and audit ---------------------------------------------------------------------------

TEST_F(StoreDatabaseTest, StatsCountsAtTheGivenTime) {
  ASSERT_TRUE(db().InsertToken(Token("live"), kNow).ok());
  ASSERT_TRUE(db().InsertToken(Token("expired", kNow), kNow).ok());  // expires at kNow
  const int64_t alice = Register("alice");                           // a used token
  const int64_t bob = Register("bob");
  // Two releases with the same bytes share one blob, counted once.
  ReleaseRecord same1 = Release(alice, "alice", "hello", "1.0.0", 1, "same");
  ReleaseRecord same2 = Release(alice, "alice", "hello", "1.0.1", 2, "same");
  ReleaseRecord other = Release(bob, "bob", "b", "1.0.0", 10, "other");
  same1.size = same2.size = 700;
  other.size = 50;
  ASSERT_TRUE(db().InsertRelease(same1, kNow).ok());
  ASSERT_TRUE(db().InsertRelease(same2, kNow).ok());
  ASSERT_TRUE(db().InsertRelease(other, kNow).ok());
  ASSERT_TRUE(db().RevokeDeveloper("bob", "gone", "admin", kNow).ok());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreStats s, db().Stats(kNow));
  EXPECT_EQ(s.developers, 2u);
  EXPECT_EQ(s.revoked_developers, 1u);
  EXPECT_EQ(s.releases, 3u);
  EXPECT_EQ(s.revoked_releases, 1u);
  EXPECT_EQ(s.active_tokens, 1u);  // not the expired one, not the used ones
  EXPECT_EQ(s.blob_bytes, 750u);
  EXPECT_EQ(s.last_revocation_sequence, 2u);  // the developer and its one release

  // Earlier, the token that expires at kNow was still active.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreStats earlier, db().Stats(kNow - Seconds(1)));
  EXPECT_EQ(earlier.active_tokens, 2u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(StoreStats later, db().Stats(kNow + 2 * kDay));
  EXPECT_EQ(later.active_tokens, 0u);
}

TEST_F(StoreDatabaseTest, EveryChangeWritesExactlyOneAuditEntry) {
  uint64_t expected = 0;
  auto check = [&](const char* step) {
    ++expected;
    EXPECT_EQ(Stats().audit_entries, expected) << "after " << step;
  };
  const TokenRecord t = Token("t1");
  ASSERT_TRUE(db().InsertToken(t, kNow).ok());
  check("InsertToken");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(int64_t alice, db().RegisterDeveloper(Dev("alice"), t.id, kNow));
  check("RegisterDeveloper");
  ASSERT_TRUE(db().InsertRelease(Release(alice, "alice", "hello", "1.0.0", 1), kNow).ok());
  check("InsertRelease");
  ASSERT_TRUE(db().InsertRelease(Release(alice, "alice", "hello", "1.1.0", 2), kNow).ok());
  check("InsertRelease");
  ASSERT_TRUE(db().RevokeRelease("hello", "1.0.0", "r", "admin", std::nullopt, kNow).ok());
  check("RevokeRelease");
  ASSERT_TRUE(db().RevokeDeveloper("alice", "r", "admin", kNow).ok());
  check("RevokeDeveloper");  // one entry, although it revoked a release too

  // Reads write nothing.
  ASSERT_TRUE(db().ListReleases(Filter().Revoked().f).ok());
  ASSERT_TRUE(db().RevocationsSince(0, 10).ok());
  // alice is revoked by now: refused, and the refusal writes nothing either.
  EXPECT_EQ(db().CheckPublishable(alice, "new", "1", 1).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Stats().audit_entries, expected);
}

}  // namespace
}  // namespace sitechain::store
