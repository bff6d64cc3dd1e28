#include "slsm/node_renewal_limiter.h"

#include <algorithm>
#include <chrono>

namespace sitechain::slsm {

std::optional<TimePoint> NodeRenewalLimiter::TryTake(const std::string& node, TimePoint now) {
  // A renewal moves full_at one refill later; the bucket is empty when full_at is more than
  // burst refills ahead of now. A retry succeeds once full_at is burst - 1 refills ahead.
  const auto tolerance = refill_ * static_cast<int64_t>(burst_ - 1);
  std::lock_guard lock(mu_);
  auto [it, inserted] = full_at_.try_emplace(node, now);
  const TimePoint from = std::max(it->second, now);
  if (from - now > tolerance) {
    const TimePoint retry = from - tolerance;
    return now + std::chrono::ceil<Seconds>(retry - now);
  }
  it->second = from + refill_;
  return std::nullopt;
}

}  // namespace sitechain::slsm
