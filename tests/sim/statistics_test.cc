#include "sim/statistics.h"

#include <gtest/gtest.h>

#include <vector>

namespace sitechain::sim {
namespace {

TEST(Quantile, LinearInterpolationLikeNumpy) {
  const std::vector<uint64_t> v = {1, 2, 3, 4};
  // numpy.percentile([1,2,3,4], [0,25,50,75,100]) = 1, 1.75, 2.5, 3.25, 4
  EXPECT_DOUBLE_EQ(Quantile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.75), 3.25);
  EXPECT_DOUBLE_EQ(Quantile(v, 1), 4);
  EXPECT_DOUBLE_EQ(Quantile({}, 0.5), 0);
  EXPECT_DOUBLE_EQ(Quantile({7}, 0.999), 7);
}

TEST(BoxStats, MatchesMatplotlibsBoxplotStats) {
  // matplotlib.cbook.boxplot_stats([1,2,3,4,5,6,7,8,9,100]):
  // q1 3.25, med 5.5, q3 7.75, whislo 1, whishi 9, fliers [100], mean 14.5
  std::vector<uint64_t> v = {100, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  BoxStats s = ComputeBoxStats(v);
  EXPECT_EQ(s.count, 10u);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.q1, 3.25);
  EXPECT_DOUBLE_EQ(s.median, 5.5);
  EXPECT_DOUBLE_EQ(s.q3, 7.75);
  EXPECT_DOUBLE_EQ(s.whisker_low, 1);
  EXPECT_DOUBLE_EQ(s.whisker_high, 9);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 14.5);
  EXPECT_EQ(s.outliers, 1u);
  EXPECT_EQ(s.outlier_sample, std::vector<double>{100});
}

TEST(BoxStats, ConstantSampleHasNoOutliers) {
  std::vector<uint64_t> v(50, 1800);
  BoxStats s = ComputeBoxStats(v);
  EXPECT_DOUBLE_EQ(s.q1, 1800);
  EXPECT_DOUBLE_EQ(s.q3, 1800);
  EXPECT_DOUBLE_EQ(s.whisker_low, 1800);
  EXPECT_DOUBLE_EQ(s.whisker_high, 1800);
  EXPECT_EQ(s.outliers, 0u);
}

TEST(BoxStats, OutlierSampleKeepsTheExtremesAndIsBounded) {
  std::vector<uint64_t> v(5000, 10);
  for (uint64_t i = 0; i < 500; ++i) v.push_back(1000 + i);  // 500 distinct outliers
  BoxStats s = ComputeBoxStats(v, 20);
  EXPECT_EQ(s.outliers, 500u);
  ASSERT_LE(s.outlier_sample.size(), 20u);
  EXPECT_DOUBLE_EQ(s.outlier_sample.front(), 1000);
  EXPECT_DOUBLE_EQ(s.outlier_sample.back(), 1499);
  EXPECT_DOUBLE_EQ(s.p999, Quantile(v, 0.999));
}

TEST(BoxStats, EmptyIsAllZero) {
  std::vector<uint64_t> v;
  BoxStats s = ComputeBoxStats(v);
  EXPECT_EQ(s.count, 0u);
  EXPECT_DOUBLE_EQ(s.max, 0);
}

}  // namespace
}  // namespace sitechain::sim
