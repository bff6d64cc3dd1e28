#include "slsm/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace sitechain::slsm {

std::optional<Seconds> RateLimiter::TryTake(TimePoint now) {
  std::lock_guard lock(mu_);
  const double elapsed = std::chrono::duration<double>(now - updated_).count();
  if (elapsed > 0) {
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    updated_ = now;
  }
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return std::nullopt;
  }
  return Seconds(static_cast<int64_t>(std::ceil((1 - tokens_) / rate_)) + 1);
}

}  // namespace sitechain::slsm
