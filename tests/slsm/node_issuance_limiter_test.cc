// Tests of NodeIssuanceLimiter (slsm/node_issuance_limiter.h): each node's share of the issuance
// rate, sized from its deployed instances. Time is a ManualClock's.

#include "slsm/node_issuance_limiter.h"

#include <gtest/gtest.h>

#include <optional>

#include "common/clock.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm {
namespace {

SiteOptions Options() {
  SiteOptions o;
  o.cert_site_lifetime = Seconds(100);
  o.renew_window_start = 0.5;
  o.node_issuance_factor = 4;
  o.node_issuance_min_burst = 10;
  return o;
}

// Takes tokens until refused; how many it took.
int TakeAll(NodeIssuanceLimiter& limiter, const std::string& node, uint64_t instances,
            TimePoint now) {
  int n = 0;
  while (!limiter.TryTake(node, instances, now) && n < 100000) ++n;
  return n;
}

TEST(NodeIssuanceShareTest, FollowsTheInstancesAndTheRenewalWindow) {
  const SiteOptions o = Options();
  // 4 renewals per instance per 50 s (renew_window_start * lifetime).
  NodeShare one = NodeIssuanceShare(o, 1);
  EXPECT_DOUBLE_EQ(one.rate, 4.0 / 50);
  EXPECT_DOUBLE_EQ(one.burst, 10);  // the minimum
  NodeShare thirty = NodeIssuanceShare(o, 30);
  EXPECT_DOUBLE_EQ(thirty.rate, 120.0 / 50);
  EXPECT_DOUBLE_EQ(thirty.burst, 120);
  EXPECT_DOUBLE_EQ(NodeIssuanceShare(o, 0).rate, 0);
}

TEST(NodeIssuanceLimiterTest, ANodeTakesItsBurstThenItsRate) {
  const SiteOptions o = Options();
  ManualClock clock{sitechain::testing::kTestEpoch};
  NodeIssuanceLimiter limiter(o);
  EXPECT_EQ(TakeAll(limiter, "n1", 1, clock.Now()), 10);
  std::optional<Seconds> wait = limiter.TryTake("n1", 1, clock.Now());
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, Seconds(14));  // 1 token at 0.08/s: 12.5 s, rounded up, plus one
  clock.Advance(Seconds(12));
  EXPECT_TRUE(limiter.TryTake("n1", 1, clock.Now()));  // 0.96 token
  clock.Advance(Seconds(1));
  EXPECT_FALSE(limiter.TryTake("n1", 1, clock.Now()));
  // Another node's bucket is its own: full.
  EXPECT_EQ(TakeAll(limiter, "n2", 1, clock.Now()), 10);
}

TEST(NodeIssuanceLimiterTest, GivenBackTokensAndANewDeployCount) {
  const SiteOptions o = Options();
  ManualClock clock{sitechain::testing::kTestEpoch};
  NodeIssuanceLimiter limiter(o);
  ASSERT_FALSE(limiter.TryTake("n1", 1, clock.Now()));
  limiter.GiveBack("n1", 1);
  EXPECT_EQ(TakeAll(limiter, "n1", 1, clock.Now()), 10);  // the given-back one is there again
  // 30 instances deployed now: 120 / 50 s. The bucket refills at the new rate.
  clock.Advance(Seconds(10));
  EXPECT_NEAR(TakeAll(limiter, "n1", 30, clock.Now()), 24, 1);
  // Undeployed down to one: a bucket above the new burst is cut to it.
  clock.Advance(Seconds(1000));
  EXPECT_EQ(TakeAll(limiter, "n1", 1, clock.Now()), 10);
}

TEST(NodeIssuanceLimiterTest, ManyNodesKeepTheirBucketsAcrossPruning) {
  const SiteOptions o = Options();
  ManualClock clock{sitechain::testing::kTestEpoch};
  NodeIssuanceLimiter limiter(o);
  ASSERT_EQ(TakeAll(limiter, "hot", 1, clock.Now()), 10);
  // Thousands of other nodes take one each: pruning drops only full buckets, never "hot"'s.
  for (int i = 0; i < 3000; ++i) {
    ASSERT_FALSE(limiter.TryTake("n" + std::to_string(i), 1, clock.Now()));
    clock.Advance(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(limiter.TryTake("hot", 1, clock.Now()));
}

}  // namespace
}  // namespace sitechain::slsm
