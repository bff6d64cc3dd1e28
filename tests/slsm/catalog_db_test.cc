// Tests of CatalogDb (slsm/catalog_db.h): releases, services and policies, revocation
// marks, the feed position, on a real SQLite file in a temporary
// directory: what the site manager relies on its state to do, including after a reopen, and
// that a refused change leaves nothing behind.

#include "slsm/catalog_db.h"

#include <gtest/gtest.h>

#include "tests/slsm/db_fixture.h"

namespace sitechain::slsm::db_test {
namespace {

class CatalogDbTest : public SiteDbTest {};

TEST_F(CatalogDbTest, InsertReleaseCreatesItsServiceWithAnEmptyPolicy) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord r,
                                 catalog().InsertRelease(Release("hello", "1.0", 3), kT0));
  EXPECT_GT(r.id, 0);
  EXPECT_EQ(r.name, "hello");
  EXPECT_EQ(r.version, "1.0");
  EXPECT_EQ(r.release_counter, 3u);
  EXPECT_EQ(r.installed_at, kT0);
  EXPECT_FALSE(r.revoked);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ServiceRecord s, catalog().FindService("hello"));
  EXPECT_EQ(s.release_id, r.id);
  EXPECT_EQ(s.policy_json, "{}");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord found, catalog().FindRelease("hello", "1.0"));
  EXPECT_EQ(found.blob, r.blob);
  EXPECT_EQ(found.cert_store_pem, "store 1.0");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t highest, catalog().HighestReleaseCounter("hello"));
  EXPECT_EQ(highest, 3u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t none, catalog().HighestReleaseCounter("other"));
  EXPECT_EQ(none, 0u);
}

TEST_F(CatalogDbTest, TheServiceFollowsItsHighestReleaseAndKeepsItsPolicy) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v1,
                                 catalog().InsertRelease(Release("hello", "1.0", 1), kT0));
  ASSERT_TRUE(catalog().SetPolicy("hello", R"({"a":1})", kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v3,
                                 catalog().InsertRelease(Release("hello", "3.0", 3), kT0));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ServiceRecord s, catalog().FindService("hello"));
  EXPECT_EQ(s.release_id, v3.id);
  EXPECT_EQ(s.policy_json, R"({"a":1})");
  // A lower counter is recorded but the service stays on the highest.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v2,
                                 catalog().InsertRelease(Release("hello", "2.0", 2), kT0));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(s, catalog().FindService("hello"));
  EXPECT_EQ(s.release_id, v3.id);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto releases, catalog().ListReleases());
  ASSERT_EQ(releases.size(), 3u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto blobs, catalog().ReferencedBlobs());
  EXPECT_EQ(blobs.size(), 3u);
  (void)v1;
  (void)v2;
}

TEST_F(CatalogDbTest, InsertingAKnownReleaseIsAlreadyExistsAndChangesNothing) {
  ASSERT_TRUE(catalog().InsertRelease(Release("hello", "1.0", 1), kT0).ok());
  ReleaseRecord again = Release("hello", "1.0", 9);
  Result<ReleaseRecord> r = catalog().InsertRelease(again, kT0 + Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Refused(r.status(), StatusCode::kAlreadyExists, "hello 1.0 is already installed"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto releases, catalog().ListReleases());
  ASSERT_EQ(releases.size(), 1u);
  EXPECT_EQ(releases[0].release_counter, 1u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t highest, catalog().HighestReleaseCounter("hello"));
  EXPECT_EQ(highest, 1u);
}

TEST_F(CatalogDbTest, RevokingAReleaseHappensOnce) {
  ASSERT_TRUE(catalog().InsertRelease(Release("hello", "1.0", 1), kT0).ok());
  ASSERT_TRUE(catalog().InsertRelease(Release("hello", "2.0", 2), kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(bool changed,
                                 catalog().MarkReleaseRevoked("hello", "1.0", "leaked key", kT0));
  EXPECT_TRUE(changed);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(changed,
                                 catalog().MarkReleaseRevoked("hello", "1.0", "again", kT0));
  EXPECT_FALSE(changed);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(changed, catalog().MarkReleaseRevoked("hello", "9.9", "?", kT0));
  EXPECT_FALSE(changed);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v1, catalog().FindRelease("hello", "1.0"));
  EXPECT_TRUE(v1.revoked);
  EXPECT_EQ(v1.revocation_reason, "leaked key");  // the first reason stays
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v2, catalog().FindRelease("hello", "2.0"));
  EXPECT_FALSE(v2.revoked);
}

TEST_F(CatalogDbTest, RevokingADeveloperRevokesAllItsReleasesOnly) {
  ASSERT_TRUE(catalog().InsertRelease(Release("hello", "1.0", 1, "alice"), kT0).ok());
  ASSERT_TRUE(catalog().InsertRelease(Release("world", "1.0", 1, "alice"), kT0).ok());
  ASSERT_TRUE(catalog().InsertRelease(Release("other", "1.0", 1, "bob"), kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(int n,
                                 catalog().MarkDeveloperRevoked("alice", "compromised", kT0));
  EXPECT_EQ(n, 2);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(n, catalog().MarkDeveloperRevoked("alice", "again", kT0));
  EXPECT_EQ(n, 0);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord hello, catalog().FindRelease("hello", "1.0"));
  EXPECT_TRUE(hello.revoked);
  EXPECT_NE(hello.revocation_reason.find("compromised"), std::string::npos);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord other, catalog().FindRelease("other", "1.0"));
  EXPECT_FALSE(other.revoked);
}

TEST_F(CatalogDbTest, TheFeedSequenceOnlyMovesForwardAndSurvivesAReopen) {
  ASSERT_TRUE(catalog().SetLastFeedSequence(7).ok());
  ASSERT_TRUE(catalog().SetLastFeedSequence(3).ok());  // a replayed, older entry
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t seq, catalog().LastFeedSequence());
  EXPECT_EQ(seq, 7u);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(seq, catalog().LastFeedSequence());
  EXPECT_EQ(seq, 7u);
  EXPECT_EQ(Counts().last_revocation_sequence, 7u);
}

}  // namespace
}  // namespace sitechain::slsm::db_test
