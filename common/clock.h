#pragma once

#include <chrono>
#include <mutex>

namespace sitechain {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

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
