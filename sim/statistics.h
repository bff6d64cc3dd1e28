#pragma once
// Boxplot statistics of a sample, computed the way matplotlib's boxplot computes them (so that
// sim/plot_fig3.py can draw our numbers with Axes.bxp and get the boxes matplotlib would draw
// from the raw data): quartiles by linear interpolation (numpy's default), whiskers at the most
// extreme data points within 1.5 IQR of the box, everything beyond them an outlier.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sitechain::sim {

struct BoxStats {
  uint64_t count = 0;  // the number of values (seconds with traffic)
  double min = 0;
  double q1 = 0;
  double median = 0;
  double q3 = 0;
  double whisker_low = 0;   // smallest value >= q1 - 1.5 IQR
  double whisker_high = 0;  // largest value <= q3 + 1.5 IQR
  double max = 0;           // the peak
  double mean = 0;
  double p999 = 0;        // 99.9th percentile
  uint64_t outliers = 0;  // values outside the whiskers
  // Up to max_outlier_sample distinct outlier values, evenly spread over their range and
  // always including the most extreme ones, for drawing.
  std::vector<double> outlier_sample;
};

// The q-quantile (0 <= q <= 1) of sorted values by linear interpolation; 0 for no values.
double Quantile(const std::vector<uint64_t>& sorted, double q);

// Sorts values in place and summarises them. All zero for no values.
BoxStats ComputeBoxStats(std::vector<uint64_t>& values, size_t max_outlier_sample = 40);

}  // namespace sitechain::sim
