#include "common/clock.h"

namespace sitechain {

TimePoint SystemClock::Now() const { return std::chrono::system_clock::now(); }

TimePoint ManualClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void ManualClock::Set(TimePoint t) {
  std::lock_guard lock(mu_);
  now_ = t;
}

void ManualClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  now_ += std::chrono::duration_cast<TimePoint::duration>(d);
}

}  // namespace sitechain
