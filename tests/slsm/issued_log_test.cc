// Tests of IssuedLog (slsm/issued_log.h): the issuance log and the holders it updates, on a real
// SQLite file in a temporary directory: what the site manager relies on its state to do, including
// after a reopen, and that a refused change leaves nothing behind.

#include "slsm/issued_log.h"

#include <gtest/gtest.h>

#include "tests/slsm/db_fixture.h"

namespace sitechain::slsm::db_test {
namespace {

class IssuedLogTest : public SiteDbTest {};

TEST_F(IssuedLogTest, TheIssuanceLogRecordsAndUpdatesTheHolder) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(deployments().InsertInstance("hello", "node-1", kT0).ok());
  const TimePoint na = kT0 + Seconds(5000);
  ASSERT_TRUE(issued().LogIssued({"s1", "site", "CN=hello", "node-1", "hello", na, kT0}).ok());
  ASSERT_TRUE(
      issued()
          .LogIssued({"n1", "node", "CN=node-1", "node-1", "", na + Seconds(1), kT0 + Seconds(1)})
          .ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(InstanceRecord i, deployments().FindInstance("hello", "node-1"));
  EXPECT_EQ(i.certificate_serial, "s1");
  ASSERT_TRUE(i.certificate_not_after);
  EXPECT_EQ(*i.certificate_not_after, na);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n, enrollment().FindNode("node-1"));
  EXPECT_EQ(n.certificate_serial, "n1");
  EXPECT_EQ(n.certificate_not_after, na + Seconds(1));

  // A serial is logged once: a clash is refused and the instance keeps its serial.
  EXPECT_FALSE(issued().LogIssued({"s1", "site", "CN=hello", "node-1", "hello", na, kT0}).ok());
  Status bad_kind = issued().LogIssued({"s2", "bogus", "CN=x", "node-1", "", na, kT0});
  EXPECT_FALSE(bad_kind.ok());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto log, issued().ListIssued(10));
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].serial, "n1");  // newest first
  EXPECT_EQ(log[0].kind, "node");
  EXPECT_EQ(log[1].serial, "s1");
  EXPECT_EQ(log[1].service, "hello");
  EXPECT_EQ(log[1].not_after, na);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto limited, issued().ListIssued(1));
  ASSERT_EQ(limited.size(), 1u);
  EXPECT_EQ(limited[0].serial, "n1");
  EXPECT_EQ(Counts().issued, 2u);
}

}  // namespace
}  // namespace sitechain::slsm::db_test
