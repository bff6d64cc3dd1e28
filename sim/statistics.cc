#include "sim/statistics.h"

#include <algorithm>
#include <cmath>

namespace sitechain::sim {

double Quantile(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return static_cast<double>(sorted[lo]) +
         frac * (static_cast<double>(sorted[hi]) - static_cast<double>(sorted[lo]));
}

BoxStats ComputeBoxStats(std::vector<uint64_t>& values, size_t max_outlier_sample) {
  BoxStats s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = values.size();
  s.min = static_cast<double>(values.front());
  s.max = static_cast<double>(values.back());
  s.q1 = Quantile(values, 0.25);
  s.median = Quantile(values, 0.5);
  s.q3 = Quantile(values, 0.75);
  s.p999 = Quantile(values, 0.999);
  long double sum = 0;
  for (uint64_t v : values) sum += static_cast<long double>(v);
  s.mean = static_cast<double>(sum / static_cast<long double>(values.size()));

  const double iqr = s.q3 - s.q1;
  const double low_fence = s.q1 - 1.5 * iqr;
  const double high_fence = s.q3 + 1.5 * iqr;
  // matplotlib: the whisker is the most extreme value inside the fence, but never inside the box.
  auto first_in = std::lower_bound(values.begin(), values.end(), low_fence,
                                   [](uint64_t v, double f) { return static_cast<double>(v) < f; });
  auto last_in = std::upper_bound(values.begin(), values.end(), high_fence,
                                  [](double f, uint64_t v) { return f < static_cast<double>(v); });
  s.whisker_low = std::min(static_cast<double>(*first_in), s.q1);
  s.whisker_high = std::max(static_cast<double>(*(last_in - 1)), s.q3);
  const auto below = static_cast<uint64_t>(first_in - values.begin());
  const auto above = static_cast<uint64_t>(values.end() - last_in);
  s.outliers = below + above;

  std::vector<uint64_t> distinct;
  std::unique_copy(values.begin(), first_in, std::back_inserter(distinct));
  std::unique_copy(last_in, values.end(), std::back_inserter(distinct));
  if (distinct.size() <= max_outlier_sample) {
    for (uint64_t v : distinct) s.outlier_sample.push_back(static_cast<double>(v));
  } else if (max_outlier_sample > 0) {
    const size_t n = distinct.size();
    for (size_t i = 0; i < max_outlier_sample; ++i) {
      const size_t at = max_outlier_sample == 1 ? n - 1 : i * (n - 1) / (max_outlier_sample - 1);
      s.outlier_sample.push_back(static_cast<double>(distinct[at]));
    }
    s.outlier_sample.erase(std::unique(s.outlier_sample.begin(), s.outlier_sample.end()),
                           s.outlier_sample.end());
  }
  return s;
}

}  // namespace sitechain::sim
