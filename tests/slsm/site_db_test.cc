// Tests of SiteDatabase (slsm/site_db.h): the file, its one migration list and
// the counts; that every concept's records survive a reopen and missing ones are NOT_FOUND, on a
// real SQLite file in a temporary directory: what the site manager relies on its state to do,
// including after a reopen, and that a refused change leaves nothing behind.

#include "slsm/site_db.h"

#include <gtest/gtest.h>

#include "tests/slsm/db_fixture.h"

namespace sitechain::slsm::db_test {
namespace {

class SiteDatabaseTest : public SiteDbTest {};

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

TEST_F(SiteDatabaseTest, MissingRecordsAreNotFound) {
  EXPECT_TRUE(Refused(catalog().FindRelease("hello", "1.0").status(), StatusCode::kNotFound,
                      "hello 1.0 is not installed"));
  EXPECT_TRUE(Refused(catalog().FindReleaseById(42).status(), StatusCode::kNotFound, "42"));
  EXPECT_TRUE(Refused(catalog().FindService("hello").status(), StatusCode::kNotFound, "hello"));
  EXPECT_TRUE(Refused(enrollment().FindNode("node-1").status(), StatusCode::kNotFound, "node-1"));
  EXPECT_TRUE(
      Refused(enrollment().FindJoinTokenByHash("x").status(), StatusCode::kNotFound, "token"));
  EXPECT_TRUE(Refused(deployments().FindInstance("hello", "node-1").status(), StatusCode::kNotFound,
                      "not deployed"));
  EXPECT_TRUE(Refused(catalog().SetPolicy("hello", "{}", kT0), StatusCode::kNotFound,
                      "no service 'hello'"));
  EXPECT_TRUE(Refused(enrollment().EvictNode("node-1", kT0), StatusCode::kNotFound, "node-1"));
  EXPECT_TRUE(Refused(deployments().DeleteInstance("hello", "node-1", kT0), StatusCode::kNotFound,
                      "not deployed"));
}

TEST_F(SiteDatabaseTest, EverythingSurvivesAReopen) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(deployments().InsertInstance("hello", "node-1", kT0).ok());
  ASSERT_TRUE(catalog().SetPolicy("hello", R"({"x":true})", kT0).ok());
  ASSERT_TRUE(enrollment().InsertJoinToken(Token("t2", "node-2"), kT0).ok());
  ASSERT_TRUE(issued().LogIssued({"s1", "site", "CN=hello", "node-1", "hello", kT0, kT0}).ok());
  ASSERT_TRUE(enrollment().TouchNode("node-1", kT0 + Seconds(30)).ok());
  ASSERT_NO_FATAL_FAILURE(Reopen());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ServiceRecord s, catalog().FindService("hello"));
  EXPECT_EQ(s.policy_json, R"({"x":true})");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, enrollment().FindNode("node-1"));
  ASSERT_TRUE(n.last_seen);
  EXPECT_EQ(*n.last_seen, kT0 + Seconds(30));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(JoinTokenRecord used, enrollment().FindJoinTokenByHash("hash-t1"));
  EXPECT_TRUE(used.used_at);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(JoinTokenRecord unused,
                                 enrollment().FindJoinTokenByHash("hash-t2"));
  EXPECT_FALSE(unused.used_at);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(InstanceRecord i, deployments().FindInstance("hello", "node-1"));
  EXPECT_EQ(i.certificate_serial, "s1");
  EXPECT_EQ(Counts().issued, 1u);
}

}  // namespace
}  // namespace sitechain::slsm::db_test
