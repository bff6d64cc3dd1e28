#pragma once
// The simulated clock: a sitechain Clock whose time is the simulation's, so code written for a
// Clock& (the nlsm's renewal policy, pki builders) runs under the simulator unchanged. A run
// starts at `epoch` (SimTime 0). Thread-safe (an atomic), as the Clock interface requires,
// though one run advances it from one thread.

#include <atomic>
#include <chrono>

#include "common/clock.h"
#include "sim/event_queue.h"

namespace sitechain::sim {

// 2026-01-01T00:00:00Z: SimTime 0 unless a run says otherwise.
inline const TimePoint kDefaultEpoch = TimePoint(Seconds(1767225600));

class SimClock final : public Clock {
 public:
  explicit SimClock(TimePoint epoch = kDefaultEpoch) : epoch_(epoch) {}

  TimePoint Now() const override { return ToTimePoint(now_.load(std::memory_order_relaxed)); }
  SimTime NowSim() const { return now_.load(std::memory_order_relaxed); }

  // Moves the clock to t. Simulated time never goes backwards: t earlier than now is a bug
  // (asserted in debug builds) and is ignored.
  void AdvanceTo(SimTime t);

  TimePoint epoch() const { return epoch_; }
  TimePoint ToTimePoint(SimTime t) const { return epoch_ + std::chrono::milliseconds(t); }
  // Rounds down to the millisecond.
  SimTime FromTimePoint(TimePoint t) const {
    return std::chrono::floor<std::chrono::milliseconds>(t - epoch_).count();
  }

 private:
  const TimePoint epoch_;
  std::atomic<SimTime> now_{0};
};

}  // namespace sitechain::sim
