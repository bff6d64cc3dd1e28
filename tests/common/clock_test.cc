#include "common/clock.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace sitechain {
namespace {

TEST(UnixSecondsTest, RoundTrips) {
  for (int64_t s : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1'800'000'000},
                    int64_t{9'223'372'036}, int64_t{-9'223'372'036}}) {
    EXPECT_EQ(ToUnixSeconds(FromUnixSeconds(s)), s) << s;
  }
}

// Seconds from a peer or a damaged file that a TimePoint cannot hold saturate (they overflowed:
// undefined behaviour, found by tests/fuzz/renew_response_fuzz).
TEST(UnixSecondsTest, OutOfRangeSaturates) {
  EXPECT_EQ(FromUnixSeconds(9'223'372'037), TimePoint::max());
  EXPECT_EQ(FromUnixSeconds(std::numeric_limits<int64_t>::max()), TimePoint::max());
  EXPECT_EQ(FromUnixSeconds(-9'223'372'037), TimePoint::min());
  EXPECT_EQ(FromUnixSeconds(std::numeric_limits<int64_t>::min()), TimePoint::min());
}

}  // namespace
}  // namespace sitechain
