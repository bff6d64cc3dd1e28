// Tests of EnrollmentDb (slsm/enrollment_db.h): join tokens and nodes, on a real SQLite file in a
// temporary directory: what the site manager relies on its state to do, including after a reopen,
// and that a refused change leaves nothing behind.

#include "slsm/enrollment_db.h"

#include <gtest/gtest.h>

#include "tests/slsm/db_fixture.h"

namespace sitechain::slsm::db_test {
namespace {

class EnrollmentDbTest : public SiteDbTest {};

TEST_F(EnrollmentDbTest, EnrollingUsesTheTokenOnceAtomically) {
  ASSERT_TRUE(enrollment().InsertJoinToken(Token("t1", "node-1"), kT0).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(JoinTokenRecord t, enrollment().FindJoinTokenByHash("hash-t1"));
  EXPECT_EQ(t.id, "t1");
  EXPECT_EQ(t.node, "node-1");
  EXPECT_EQ(t.expires_at, kT0 + Seconds(3600));
  EXPECT_FALSE(t.used_at);

  ASSERT_TRUE(enrollment().EnrollNode(Node("node-1", "key-a"), "t1", kT0 + Seconds(10)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(t, enrollment().FindJoinTokenByHash("hash-t1"));
  ASSERT_TRUE(t.used_at);
  EXPECT_EQ(*t.used_at, kT0 + Seconds(10));

  // The same token again: refused, and the node is not replaced (the transaction rolled back).
  EXPECT_TRUE(Refused(enrollment().EnrollNode(Node("node-1", "key-b"), "t1", kT0 + Seconds(20)),
                      StatusCode::kUnauthenticated, "already been used"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, enrollment().FindNode("node-1"));
  EXPECT_EQ(n.key_fingerprint, "key-a");
  // An unknown token enrolls nothing either.
  EXPECT_TRUE(Refused(enrollment().EnrollNode(Node("node-2"), "nope", kT0),
                      StatusCode::kUnauthenticated, "already been used"));
  EXPECT_FALSE(enrollment().FindNode("node-2").ok());
  EXPECT_EQ(Counts().nodes, 1u);
}

TEST_F(EnrollmentDbTest, EvictionRemovesInstancesAndReEnrollingClearsIt) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(deployments().InsertInstance("hello", "node-1", kT0).ok());
  ASSERT_TRUE(enrollment().EvictNode("node-1", kT0 + Seconds(5)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, enrollment().FindNode("node-1"));
  ASSERT_TRUE(n.evicted_at);
  EXPECT_EQ(*n.evicted_at, kT0 + Seconds(5));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, deployments().ListInstances("", "node-1"));
  EXPECT_TRUE(instances.empty());
  EXPECT_EQ(Counts().nodes, 0u);  // evicted nodes do not count
  EXPECT_TRUE(Refused(enrollment().EvictNode("node-1", kT0 + Seconds(6)),
                      StatusCode::kFailedPrecondition, "already evicted"));

  ASSERT_TRUE(enrollment().InsertJoinToken(Token("t2", "node-1"), kT0).ok());
  ASSERT_TRUE(enrollment().EnrollNode(Node("node-1", "key-new"), "t2", kT0 + Seconds(7)).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(n, enrollment().FindNode("node-1"));
  EXPECT_FALSE(n.evicted_at);
  EXPECT_EQ(n.key_fingerprint, "key-new");
  EXPECT_EQ(Counts().nodes, 1u);
}

}  // namespace
}  // namespace sitechain::slsm::db_test
