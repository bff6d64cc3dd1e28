// Tests of RateLimiter (slsm/rate_limiter.h), the site's issuance token bucket, on a ManualClock:
// the burst, the refill, the cap, the suggested wait, and a clock that steps back.

#include "slsm/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include "common/clock.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm {
namespace {

using std::chrono::milliseconds;

TEST(RateLimiterTest, StartsFullAndRefusesPastTheBurstWithTheWaitForOneToken) {
  ManualClock clock(sitechain::testing::kTestEpoch);
  RateLimiter limiter(/*rate=*/2, /*burst=*/3, clock.Now());
  EXPECT_EQ(limiter.TryTake(clock.Now()), std::nullopt);
  EXPECT_EQ(limiter.TryTake(clock.Now()), std::nullopt);
  EXPECT_EQ(limiter.TryTake(clock.Now()), std::nullopt);
  // Empty: one token at 2/s is 0.5 s away, rounded up to 1 s, plus 1 s.
  EXPECT_EQ(limiter.TryTake(clock.Now()), Seconds(2));
  EXPECT_EQ(limiter.TryTake(clock.Now()), Seconds(2));  // a refusal takes nothing
}

TEST(RateLimiterTest, RefillsAtTheRateOfTheInjectedTime) {
  ManualClock clock(sitechain::testing::kTestEpoch);
  RateLimiter limiter(/*rate=*/2, /*burst=*/1, clock.Now());
  EXPECT_EQ(limiter.TryTake(clock.Now()), std::nullopt);
  clock.Advance(milliseconds(250));  // half a token
  EXPECT_EQ(limiter.TryTake(clock.Now()), Seconds(1 + 1));
  clock.Advance(milliseconds(250));  // a whole one
  EXPECT_EQ(limiter.TryTake(clock.Now()), std::nullopt);
  EXPECT_NE(limiter.TryTake(clock.Now()), std::nullopt);
}

TEST(RateLimiterTest, HoldsAtMostTheBurst) {
  ManualClock clock(sitechain::testing::kTestEpoch);
  RateLimiter limiter(/*rate=*/100, /*burst=*/5, clock.Now());
  clock.Advance(Seconds(3600));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.TryTake(clock.Now()), std::nullopt) << i;
  EXPECT_NE(limiter.TryTake(clock.Now()), std::nullopt);
}

TEST(RateLimiterTest, AClockThatStepsBackRefillsNothing) {
  ManualClock clock(sitechain::testing::kTestEpoch);
  RateLimiter limiter(/*rate=*/1, /*burst=*/1, clock.Now());
  EXPECT_EQ(limiter.TryTake(clock.Now()), std::nullopt);
  EXPECT_NE(limiter.TryTake(clock.Now() - Seconds(60)), std::nullopt);
  // Nor does it spoil the bucket: a second after the last refill there is a token again.
  EXPECT_EQ(limiter.TryTake(clock.Now() + Seconds(1)), std::nullopt);
}

}  // namespace
}  // namespace sitechain::slsm
