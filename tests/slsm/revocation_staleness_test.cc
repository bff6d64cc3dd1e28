// SiteService tests: the revocation staleness limit. A release is confirmed unrevoked when it is
// installed (the store serves no revoked release) and each time the follower reads the store's
// feed to its end; longer than revocation_staleness_limit after its last confirmation the site
// issues no Cert_site for it, so a store the site cannot reach does not stretch the revocation
// bound without limit.
// The fixture is in site_fixture.h.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/slsm/site_fixture.h"

namespace sitechain::slsm::site_test {
namespace {

class RevocationStalenessTest : public SiteServiceTest {
 protected:
  void SetUp() override {
    SiteServiceTest::SetUp();
    SiteOptions o = options_;
    o.revocation_staleness_limit = Seconds(600);
    ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  }

  // The status of one renewal of hello by `node`.
  Status RenewHello(const TestNode& node) {
    auto results = Renew(node, {kHello});
    if (!results.ok()) return results.status();
    EXPECT_EQ(results->size(), 1u);
    return results->empty() ? Internal("no result") : (*results)[0].status;
  }
};

TEST_F(RevocationStalenessTest, DefaultIsADayAndAZeroOrNegativeLimitIsRefused) {
  EXPECT_EQ(SiteOptions{}.revocation_staleness_limit, Seconds(86400));
  SiteOptions o;
  o.revocation_staleness_limit = Seconds(0);
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(o.Validate().message().find("revocation_staleness_limit"), std::string::npos)
      << o.Validate().ToString();
}

TEST_F(RevocationStalenessTest, UnconfirmedBeyondTheLimitIsRefusedUnavailableUntilConfirmed) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));  // confirmed: installed now
  clock_.Advance(Seconds(600));
  EXPECT_TRUE(RenewHello(nodes[0]).ok());  // at the limit: still issued

  clock_.Advance(Seconds(1));
  const Status refused = RenewHello(nodes[0]);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("cannot confirm with the store that hello 1.0.0 is not revoked"),
            std::string::npos)
      << refused.ToString();
  EXPECT_NE(refused.message().find("revocation_staleness_limit 600 s"), std::string::npos)
      << refused.ToString();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(10));
  EXPECT_EQ(
      std::count_if(issued.begin(), issued.end(), [](const auto& i) { return i.kind == "site"; }),
      1)
      << "a refused renewal issued nothing";

  // The follower read the feed to its end: confirmed again, issued again.
  ASSERT_TRUE(service().ConfirmRevocationFeed(clock_.Now()).ok());
  EXPECT_TRUE(RenewHello(nodes[0]).ok());
}

TEST_F(RevocationStalenessTest, ConfirmationSurvivesARestartAndNeverGoesBack) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  clock_.Advance(Seconds(500));
  const TimePoint confirmed = clock_.Now();
  ASSERT_TRUE(service().ConfirmRevocationFeed(confirmed).ok());
  // An older confirmation (a slow poll answering late) does not move it back.
  ASSERT_TRUE(service().ConfirmRevocationFeed(confirmed - Seconds(400)).ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TimePoint at, service().RevocationFeedConfirmedAt());
  EXPECT_EQ(at, confirmed);
  clock_.Advance(Seconds(600));  // 600 s after the confirmation, 1100 s after the install
  EXPECT_TRUE(RenewHello(nodes[0]).ok());
  clock_.Advance(Seconds(1));
  EXPECT_EQ(RenewHello(nodes[0]).code(), StatusCode::kUnavailable);
}

TEST_F(RevocationStalenessTest, AReleaseInstalledAfterTheLastConfirmationCountsFromItsInstall) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  clock_.Advance(Seconds(900));  // hello: unconfirmed for 900 s
  EXPECT_EQ(RenewHello(nodes[0]).code(), StatusCode::kUnavailable);
  Publish("world", "1.0.0", 1);
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());  // the store served it: not revoked
  ASSERT_TRUE(service().Deploy("world", {"node-1"}).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello, "world"}));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(results[1].status.ok()) << results[1].status.ToString();
}

}  // namespace
}  // namespace sitechain::slsm::site_test
