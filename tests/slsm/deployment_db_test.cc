// Tests of DeploymentDb (slsm/deployment_db.h): instances and their reported states, on a real
// SQLite file in a temporary directory: what the site manager relies on its state to do, including
// after a reopen, and that a refused change leaves nothing behind.

#include "slsm/deployment_db.h"

#include <gtest/gtest.h>

#include "tests/slsm/db_fixture.h"

namespace sitechain::slsm::db_test {
namespace {

class DeploymentDbTest : public SiteDbTest {};

TEST_F(DeploymentDbTest, InstancesAreUniquePerServiceAndNodeAndFilterable) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(catalog().InsertRelease(Release("world", "1.0", 1), kT0).ok());
  ASSERT_TRUE(enrollment().InsertJoinToken(Token("t2", "node-2"), kT0).ok());
  ASSERT_TRUE(enrollment().EnrollNode(Node("node-2"), "t2", kT0).ok());
  ASSERT_TRUE(deployments().InsertInstance("hello", "node-1", kT0).ok());
  ASSERT_TRUE(deployments().InsertInstance("hello", "node-2", kT0).ok());
  ASSERT_TRUE(deployments().InsertInstance("world", "node-1", kT0).ok());
  EXPECT_TRUE(Refused(deployments().InsertInstance("hello", "node-1", kT0),
                      StatusCode::kAlreadyExists, "already deployed"));

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto all, deployments().ListInstances("", ""));
  EXPECT_EQ(all.size(), 3u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto hello, deployments().ListInstances("hello", ""));
  ASSERT_EQ(hello.size(), 2u);
  EXPECT_EQ(hello[0].node, "node-1");
  EXPECT_EQ(hello[1].node, "node-2");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto on1, deployments().ListInstances("", "node-1"));
  EXPECT_EQ(on1.size(), 2u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto one, deployments().ListInstances("world", "node-1"));
  EXPECT_EQ(one.size(), 1u);

  ASSERT_TRUE(deployments().SetInstanceState("hello", "node-2", "running", "pid 42").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(InstanceRecord i, deployments().FindInstance("hello", "node-2"));
  EXPECT_EQ(i.node_state, "running");
  EXPECT_EQ(i.node_detail, "pid 42");
  EXPECT_TRUE(i.certificate_serial.empty());
  EXPECT_FALSE(i.certificate_not_after);

  ASSERT_TRUE(deployments().DeleteInstance("hello", "node-2", kT0).ok());
  EXPECT_FALSE(deployments().FindInstance("hello", "node-2").ok());
  EXPECT_EQ(Counts().instances, 2u);
}

}  // namespace
}  // namespace sitechain::slsm::db_test
