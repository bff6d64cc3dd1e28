// Tests of SiteDatabase (slsm/site_db.h) on a real SQLite file in a temporary directory: what the
// site manager relies on its state to do, including after a reopen, and that a refused change
// leaves nothing behind.

#include "slsm/site_db.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "tests/common/temp_dir.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm {
namespace {

using testutil::TempDir;

::testing::AssertionResult Refused(const Status& s, StatusCode code, std::string_view fragment) {
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "expected " << StatusCodeName(code) << ", got " << s.ToString();
  }
  if (s.message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << fragment << "': " << s.ToString();
  }
  return ::testing::AssertionSuccess();
}

const TimePoint kT0 = sitechain::testing::kTestEpoch;

ReleaseRecord Release(const std::string& name, const std::string& version, uint64_t counter,
                      const std::string& developer = "alice") {
  ReleaseRecord r;
  r.name = name;
  r.version = version;
  r.release_counter = counter;
  r.developer = developer;
  r.digest_algorithm = "sha256";
  r.digest = std::string(64, static_cast<char>('a' + counter % 6));
  r.size = 1000 + counter;
  r.blob = "sha256-" + r.digest;
  r.cert_dev_pem = "dev " + version;
  r.cert_store_pem = "store " + version;
  r.developer_certificate_pem = "identity " + developer;
  return r;
}

NodeRecord Node(const std::string& name, const std::string& fingerprint = "f1") {
  NodeRecord n;
  n.name = name;
  n.key_fingerprint = fingerprint;
  n.certificate_serial = "serial-" + name;
  n.certificate_not_after = kT0 + Seconds(86400);
  n.enrolled_at = kT0;
  return n;
}

JoinTokenRecord Token(const std::string& id, const std::string& node) {
  return {id, "hash-" + id, node, kT0, kT0 + Seconds(3600), std::nullopt};
}

class SiteDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Reopen()); }

  void Reopen() {
    db_.reset();
    Result<SiteDatabase> db = SiteDatabase::Open(tmp_.Path("slsm.db"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_.emplace(std::move(db).value());
  }

  SiteDatabase& db() { return *db_; }

  // An installed service "hello" and an enrolled node "node-1" (token t1).
  void Seed() {
    ASSERT_TRUE(db().InsertRelease(Release("hello", "1.0", 1), kT0).ok());
    ASSERT_TRUE(db().InsertJoinToken(Token("t1", "node-1"), kT0).ok());
    ASSERT_TRUE(db().EnrollNode(Node("node-1"), "t1", kT0).ok());
  }

  SiteCounts Counts() {
    Result<SiteCounts> c = db().Counts();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : SiteCounts{};
  }

  TempDir tmp_;
  std::optional<SiteDatabase> db_;
};

TEST_F(SiteDatabaseTest, ANewDatabaseIsEmptyAndReopens) {
  SiteCounts c = Counts();
  EXPECT_EQ(c.services, 0u);
  EXPECT_EQ(c.nodes, 0u);
  EXPECT_EQ(c.instances, 0u);
  EXPECT_EQ(c.issued, 0u);
  EXPECT_EQ(c.last_revocation_sequence, 0u);
  ASSERT_NO_FATAL_FAILURE(Reopen());  // migrations do not run twice
  EXPECT_EQ(Counts().services, 0u);
}

TEST_F(SiteDatabaseTest, InsertReleaseCreatesItsServiceWithAnEmptyPolicy) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord r,
                                 db().InsertRelease(Release("hello", "1.0", 3), kT0));
  EXPECT_GT(r.id, 0);
  EXPECT_EQ(r.name, "hello");
  EXPECT_EQ(r.version, "1.0");
  EXPECT_EQ(r.release_counter, 3u);
  EXPECT_EQ(r.installed_at, kT0);
  EXPECT_FALSE(r.revoked);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ServiceRecord s, db().FindService("hello"));
  EXPECT_EQ(s.release_id, r.id);
  EXPECT_EQ(s.policy_json, "{}");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord found, db().FindRelease("hello", "1.0"));
  EXPECT_EQ(found.blob, r.blob);
  EXPECT_EQ(found.cert_store_pem, "store 1.0");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t highest, db().HighestReleaseCounter("hello"));
  EXPECT_EQ(highest, 3u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t none, db().HighestReleaseCounter("other"));
  EXPECT_EQ(none, 0u);
}

TEST_F(SiteDatabaseTest, TheServiceFollowsItsHighestReleaseAndKeepsItsPolicy) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v1,
                                 db().InsertRelease(Release("hello", "1.0", 1), kT0));
  ASSERT_TRUE(db().SetPolicy("hello", R"({"a":1})", kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v3,
                                 db().InsertRelease(Release("hello", "3.0", 3), kT0));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ServiceRecord s, db().FindService("hello"));
  EXPECT_EQ(s.release_id, v3.id);
  EXPECT_EQ(s.policy_json, R"({"a":1})");
  // A lower counter is recorded but the service stays on the highest.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v2,
                                 db().InsertRelease(Release("hello", "2.0", 2), kT0));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(s, db().FindService("hello"));
  EXPECT_EQ(s.release_id, v3.id);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto releases, db().ListReleases());
  ASSERT_EQ(releases.size(), 3u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto blobs, db().ReferencedBlobs());
  EXPECT_EQ(blobs.size(), 3u);
  (void)v1;
  (void)v2;
}

TEST_F(SiteDatabaseTest, InsertingAKnownReleaseIsAlreadyExistsAndChangesNothing) {
  ASSERT_TRUE(db().InsertRelease(Release("hello", "1.0", 1), kT0).ok());
  ReleaseRecord again = Release("hello", "1.0", 9);
  Result<ReleaseRecord> r = db().InsertRelease(again, kT0 + Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Refused(r.status(), StatusCode::kAlreadyExists, "hello 1.0 is already installed"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto releases, db().ListReleases());
  ASSERT_EQ(releases.size(), 1u);
  EXPECT_EQ(releases[0].release_counter, 1u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t highest, db().HighestReleaseCounter("hello"));
  EXPECT_EQ(highest, 1u);
}

TEST_F(SiteDatabaseTest, MissingRecordsAreNotFound) {
  EXPECT_TRUE(Refused(db().FindRelease("hello", "1.0").status(), StatusCode::kNotFound,
                      "hello 1.0 is not installed"));
  EXPECT_TRUE(Refused(db().FindReleaseById(42).status(), StatusCode::kNotFound, "42"));
  EXPECT_TRUE(Refused(db().FindService("hello").status(), StatusCode::kNotFound, "hello"));
  EXPECT_TRUE(Refused(db().FindNode("node-1").status(), StatusCode::kNotFound, "node-1"));
  EXPECT_TRUE(Refused(db().FindJoinTokenByHash("x").status(), StatusCode::kNotFound, "token"));
  EXPECT_TRUE(Refused(db().FindInstance("hello", "node-1").status(), StatusCode::kNotFound,
                      "not deployed"));
  EXPECT_TRUE(
      Refused(db().SetPolicy("hello", "{}", kT0), StatusCode::kNotFound, "no service 'hello'"));
  EXPECT_TRUE(Refused(db().EvictNode("node-1", kT0), StatusCode::kNotFound, "node-1"));
  EXPECT_TRUE(
      Refused(db().DeleteInstance("hello", "node-1", kT0), StatusCode::kNotFound, "not deployed"));
}

TEST_F(SiteDatabaseTest, RevokingAReleaseHappensOnce) {
  ASSERT_TRUE(db().InsertRelease(Release("hello", "1.0", 1), kT0).ok());
  ASSERT_TRUE(db().InsertRelease(Release("hello", "2.0", 2), kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(bool changed,
                                 db().MarkReleaseRevoked("hello", "1.0", "leaked key", kT0));
  EXPECT_TRUE(changed);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(changed, db().MarkReleaseRevoked("hello", "1.0", "again", kT0));
  EXPECT_FALSE(changed);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(changed, db().MarkReleaseRevoked("hello", "9.9", "?", kT0));
  EXPECT_FALSE(changed);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v1, db().FindRelease("hello", "1.0"));
  EXPECT_TRUE(v1.revoked);
  EXPECT_EQ(v1.revocation_reason, "leaked key");  // the first reason stays
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v2, db().FindRelease("hello", "2.0"));
  EXPECT_FALSE(v2.revoked);
}

TEST_F(SiteDatabaseTest, RevokingADeveloperRevokesAllItsReleasesOnly) {
  ASSERT_TRUE(db().InsertRelease(Release("hello", "1.0", 1, "alice"), kT0).ok());
  ASSERT_TRUE(db().InsertRelease(Release("world", "1.0", 1, "alice"), kT0).ok());
  ASSERT_TRUE(db().InsertRelease(Release("other", "1.0", 1, "bob"), kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(int n, db().MarkDeveloperRevoked("alice", "compromised", kT0));
  EXPECT_EQ(n, 2);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(n, db().MarkDeveloperRevoked("alice", "again", kT0));
  EXPECT_EQ(n, 0);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord hello, db().FindRelease("hello", "1.0"));
  EXPECT_TRUE(hello.revoked);
  EXPECT_NE(hello.revocation_reason.find("compromised"), std::string::npos);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord other, db().FindRelease("other", "1.0"));
  EXPECT_FALSE(other.revoked);
}

TEST_F(SiteDatabaseTest, TheFeedSequenceOnlyMovesForwardAndSurvivesAReopen) {
  ASSERT_TRUE(db().SetLastFeedSequence(7).ok());
  ASSERT_TRUE(db().SetLastFeedSequence(3).ok());  // a replayed, older entry
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t seq, db().LastFeedSequence());
  EXPECT_EQ(seq, 7u);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(seq, db().LastFeedSequence());
  EXPECT_EQ(seq, 7u);
  EXPECT_EQ(Counts().last_revocation_sequence, 7u);
}

TEST_F(SiteDatabaseTest, EnrollingUsesTheTokenOnceAtomically) {
  ASSERT_TRUE(db().InsertJoinToken(Token("t1", "node-1"), kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(JoinTokenRecord t, db().FindJoinTokenByHash("hash-t1"));
  EXPECT_EQ(t.id, "t1");
  EXPECT_EQ(t.node, "node-1");
  EXPECT_EQ(t.expires_at, kT0 + Seconds(3600));
  EXPECT_FALSE(t.used_at);

  ASSERT_TRUE(db().EnrollNode(Node("node-1", "key-a"), "t1", kT0 + Seconds(10)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(t, db().FindJoinTokenByHash("hash-t1"));
  ASSERT_TRUE(t.used_at);
  EXPECT_EQ(*t.used_at, kT0 + Seconds(10));

  // The same token again: refused, and the node is not replaced (the transaction rolled back).
  EXPECT_TRUE(Refused(db().EnrollNode(Node("node-1", "key-b"), "t1", kT0 + Seconds(20)),
                      StatusCode::kUnauthenticated, "already been used"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, db().FindNode("node-1"));
  EXPECT_EQ(n.key_fingerprint, "key-a");
  // An unknown token enrolls nothing either.
  EXPECT_TRUE(Refused(db().EnrollNode(Node("node-2"), "nope", kT0), StatusCode::kUnauthenticated,
                      "already been used"));
  EXPECT_FALSE(db().FindNode("node-2").ok());
  EXPECT_EQ(Counts().nodes, 1u);
}

TEST_F(SiteDatabaseTest, EvictionRemovesInstancesAndReEnrollingClearsIt) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(db().InsertInstance("hello", "node-1", kT0).ok());
  ASSERT_TRUE(db().EvictNode("node-1", kT0 + Seconds(5)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, db().FindNode("node-1"));
  ASSERT_TRUE(n.evicted_at);
  EXPECT_EQ(*n.evicted_at, kT0 + Seconds(5));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, db().ListInstances("", "node-1"));
  EXPECT_TRUE(instances.empty());
  EXPECT_EQ(Counts().nodes, 0u);  // evicted nodes do not count
  EXPECT_TRUE(Refused(db().EvictNode("node-1", kT0 + Seconds(6)), StatusCode::kFailedPrecondition,
                      "already evicted"));

  ASSERT_TRUE(db().InsertJoinToken(Token("t2", "node-1"), kT0).ok());
  ASSERT_TRUE(db().EnrollNode(Node("node-1", "key-new"), "t2", kT0 + Seconds(7)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(n, db().FindNode("node-1"));
  EXPECT_FALSE(n.evicted_at);
  EXPECT_EQ(n.key_fingerprint, "key-new");
  EXPECT_EQ(Counts().nodes, 1u);
}

TEST_F(SiteDatabaseTest, InstancesAreUniquePerServiceAndNodeAndFilterable) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(db().InsertRelease(Release("world", "1.0", 1), kT0).ok());
  ASSERT_TRUE(db().InsertJoinToken(Token("t2", "node-2"), kT0).ok());
  ASSERT_TRUE(db().EnrollNode(Node("node-2"), "t2", kT0).ok());
  ASSERT_TRUE(db().InsertInstance("hello", "node-1", kT0).ok());
  ASSERT_TRUE(db().InsertInstance("hello", "node-2", kT0).ok());
  ASSERT_TRUE(db().InsertInstance("world", "node-1", kT0).ok());
  EXPECT_TRUE(Refused(db().InsertInstance("hello", "node-1", kT0), StatusCode::kAlreadyExists,
                      "already deployed"));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto all, db().ListInstances("", ""));
  EXPECT_EQ(all.size(), 3u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto hello, db().ListInstances("hello", ""));
  ASSERT_EQ(hello.size(), 2u);
  EXPECT_EQ(hello[0].node, "node-1");
  EXPECT_EQ(hello[1].node, "node-2");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto on1, db().ListInstances("", "node-1"));
  EXPECT_EQ(on1.size(), 2u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto one, db().ListInstances("world", "node-1"));
  EXPECT_EQ(one.size(), 1u);

  ASSERT_TRUE(db().SetInstanceState("hello", "node-2", "running", "pid 42").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(InstanceRecord i, db().FindInstance("hello", "node-2"));
  EXPECT_EQ(i.node_state, "running");
  EXPECT_EQ(i.node_detail, "pid 42");
  EXPECT_TRUE(i.certificate_serial.empty());
  EXPECT_FALSE(i.certificate_not_after);

  ASSERT_TRUE(db().DeleteInstance("hello", "node-2", kT0).ok());
  EXPECT_FALSE(db().FindInstance("hello", "node-2").ok());
  EXPECT_EQ(Counts().instances, 2u);
}

TEST_F(SiteDatabaseTest, TheIssuanceLogRecordsAndUpdatesTheHolder) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(db().InsertInstance("hello", "node-1", kT0).ok());
  const TimePoint na = kT0 + Seconds(5000);
  ASSERT_TRUE(db().LogIssued({"s1", "site", "CN=hello", "node-1", "hello", na, kT0}).ok());
  ASSERT_TRUE(
      db().LogIssued({"n1", "node", "CN=node-1", "node-1", "", na + Seconds(1), kT0 + Seconds(1)})
          .ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(InstanceRecord i, db().FindInstance("hello", "node-1"));
  EXPECT_EQ(i.certificate_serial, "s1");
  ASSERT_TRUE(i.certificate_not_after);
  EXPECT_EQ(*i.certificate_not_after, na);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, db().FindNode("node-1"));
  EXPECT_EQ(n.certificate_serial, "n1");
  EXPECT_EQ(n.certificate_not_after, na + Seconds(1));

  // A serial is logged once: a clash is refused and the instance keeps its serial.
  EXPECT_FALSE(db().LogIssued({"s1", "site", "CN=hello", "node-1", "hello", na, kT0}).ok());
  Status bad_kind = db().LogIssued({"s2", "bogus", "CN=x", "node-1", "", na, kT0});
  EXPECT_FALSE(bad_kind.ok());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto log, db().ListIssued(10));
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].serial, "n1");  // newest first
  EXPECT_EQ(log[0].kind, "node");
  EXPECT_EQ(log[1].serial, "s1");
  EXPECT_EQ(log[1].service, "hello");
  EXPECT_EQ(log[1].not_after, na);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto limited, db().ListIssued(1));
  ASSERT_EQ(limited.size(), 1u);
  EXPECT_EQ(limited[0].serial, "n1");
  EXPECT_EQ(Counts().issued, 2u);
}

TEST_F(SiteDatabaseTest, EverythingSurvivesAReopen) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(db().InsertInstance("hello", "node-1", kT0).ok());
  ASSERT_TRUE(db().SetPolicy("hello", R"({"x":true})", kT0).ok());
  ASSERT_TRUE(db().InsertJoinToken(Token("t2", "node-2"), kT0).ok());
  ASSERT_TRUE(db().LogIssued({"s1", "site", "CN=hello", "node-1", "hello", kT0, kT0}).ok());
  ASSERT_TRUE(db().TouchNode("node-1", kT0 + Seconds(30)).ok());
  ASSERT_NO_FATAL_FAILURE(Reopen());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ServiceRecord s, db().FindService("hello"));
  EXPECT_EQ(s.policy_json, R"({"x":true})");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, db().FindNode("node-1"));
  ASSERT_TRUE(n.last_seen);
  EXPECT_EQ(*n.last_seen, kT0 + Seconds(30));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(JoinTokenRecord used, db().FindJoinTokenByHash("hash-t1"));
  EXPECT_TRUE(used.used_at);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(JoinTokenRecord unused, db().FindJoinTokenByHash("hash-t2"));
  EXPECT_FALSE(unused.used_at);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(InstanceRecord i, db().FindInstance("hello", "node-1"));
  EXPECT_EQ(i.certificate_serial, "s1");
  EXPECT_EQ(Counts().issued, 1u);
}

}  // namespace
}  // namespace sitechain::slsm
