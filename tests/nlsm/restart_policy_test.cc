// The supervisor's restart decisions (restart_policy.h), apart from any process: the backoff of
// the n-th restart, which exits a policy answers with a restart, and crash-loop accounting on an
// injected time.
#include "nlsm/restart_policy.h"

#include <gtest/gtest.h>

namespace sitechain::nlsm {
namespace {

using std::chrono::milliseconds;

const TimePoint kT0 = TimePoint(Seconds(1767225600));

TEST(RestartPolicyTest, BackoffDoublesWithJitterAndIsCapped) {
  SeededRandom rng(7);
  for (int n = 1; n <= 8; ++n) {
    const milliseconds d = std::min(milliseconds(1000) * (1 << (n - 1)), milliseconds(30000));
    for (int k = 0; k < 50; ++k) {
      const milliseconds b = RestartBackoff(milliseconds(1000), milliseconds(30000), n, rng);
      EXPECT_GE(b, d / 2) << "n=" << n;
      EXPECT_LE(b, d) << "n=" << n;
    }
  }
  EXPECT_LE(RestartBackoff(milliseconds(1000), milliseconds(30000), 1000, rng),
            milliseconds(30000));
}

TEST(RestartPolicyTest, WhichExitsAreRestarted) {
  EXPECT_TRUE(RestartsAfter(RestartPolicy::kAlways, false));
  EXPECT_TRUE(RestartsAfter(RestartPolicy::kAlways, true));
  EXPECT_FALSE(RestartsAfter(RestartPolicy::kOnFailure, false));
  EXPECT_TRUE(RestartsAfter(RestartPolicy::kOnFailure, true));
  EXPECT_FALSE(RestartsAfter(RestartPolicy::kNever, false));
  EXPECT_FALSE(RestartsAfter(RestartPolicy::kNever, true));
}

TEST(RestartPolicyTest, ACrashLoopIsLimitExitsWithinTheWindow) {
  RestartRecord record;
  const milliseconds window(60000);
  EXPECT_FALSE(record.CountExit(kT0, 3, window));
  EXPECT_FALSE(record.CountExit(kT0 + Seconds(10), 3, window));
  EXPECT_TRUE(record.CountExit(kT0 + Seconds(20), 3, window));
  EXPECT_EQ(record.exits_in_window(), 3);

  RestartRecord spread;
  EXPECT_FALSE(spread.CountExit(kT0, 3, window));
  EXPECT_FALSE(spread.CountExit(kT0 + Seconds(40), 3, window));
  // The first exit is a full window old: it no longer counts.
  EXPECT_FALSE(spread.CountExit(kT0 + Seconds(60), 3, window));
  EXPECT_EQ(spread.exits_in_window(), 2);
}

TEST(RestartPolicyTest, TheBackoffSeriesStartsAfreshAfterAReset) {
  RestartRecord record;
  EXPECT_EQ(record.NextStep(), 1);
  EXPECT_EQ(record.NextStep(), 2);
  record.ResetBackoff();
  EXPECT_EQ(record.NextStep(), 1);
}

}  // namespace
}  // namespace sitechain::nlsm
