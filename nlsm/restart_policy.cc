#include "nlsm/restart_policy.h"

#include <algorithm>
#include <cstdint>

namespace sitechain::nlsm {

using std::chrono::milliseconds;

milliseconds RestartBackoff(milliseconds initial, milliseconds max, int n, Random& rng) {
  milliseconds d = initial;
  for (int i = 1; i < n && d < max; ++i) d *= 2;
  d = std::min(d, max);
  const milliseconds low = d / 2;
  return low + milliseconds(
                   static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>((d - low).count()) + 1)));
}

bool RestartsAfter(RestartPolicy policy, bool failed) {
  return policy == RestartPolicy::kAlways || (policy == RestartPolicy::kOnFailure && failed);
}

bool RestartRecord::CountExit(TimePoint now, int limit, milliseconds window) {
  exits_.push_back(now);
  while (!exits_.empty() && now - exits_.front() >= window) exits_.pop_front();
  return static_cast<int>(exits_.size()) >= limit;
}

}  // namespace sitechain::nlsm
