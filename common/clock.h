#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace sitechain {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

// Whole seconds since the Unix epoch, as databases and wire messages keep times.
inline int64_t ToUnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}
// A TimePoint holds about 292 years either side of 1970 (nanoseconds in 64 bits); seconds beyond
// that come only from a peer or a damaged file, and saturate to TimePoint::min()/max() instead
// of overflowing (undefined behaviour).
inline TimePoint FromUnixSeconds(int64_t s) {
  constexpr int64_t kLimit =
      std::chrono::duration_cast<Seconds>(TimePoint::duration::max()).count();
  if (s > kLimit) return TimePoint::max();
  if (s < -kLimit) return TimePoint::min();
  return TimePoint(Seconds(s));
}

// Clock is the only way sitechain code learns the time, so that tests and the simulator drive
// the very code that runs in production. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The wall clock. The only place that calls system_clock::now().
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start) {}
  TimePoint Now() const override;
  void Set(TimePoint t);
  void Advance(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  TimePoint now_;  // guarded by mu_
};

}  // namespace sitechain
