#pragma once
// The simulator's future event list: a binary min-heap of compact events ordered by time, and
// by insertion order among events at the same time (so a run is deterministic for a seed).
// Events are never removed from the middle: the model invalidates an event by bumping the
// target's generation and drops stale events when they are popped. Not thread-safe: one queue
// belongs to one run on one thread.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sitechain::sim {

// Simulated time: milliseconds since the start of a run.
using SimTime = int64_t;
inline constexpr SimTime kMillisPerSecond = 1000;

enum class EventKind : uint8_t {
  kAttempt,       // a service's renewal attempt (target = service index)
  kDrop,          // a node goes offline (target = node index)
  kReconnect,     // a node comes back (target = node index)
  kPolicyChange,  // the site admin changes every service's sitePolicy (target unused)
};

struct Event {
  SimTime time = 0;
  uint64_t seq = 0;         // insertion order: breaks ties between equal times
  uint32_t target = 0;      // service or node index
  uint32_t generation = 0;  // must equal the target's generation when popped, or it is stale
  EventKind kind = EventKind::kAttempt;
};

class EventQueue final {
 public:
  void Reserve(size_t n) { heap_.reserve(n); }
  void Push(SimTime time, EventKind kind, uint32_t target, uint32_t generation);
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // The earliest event; the queue must not be empty.
  const Event& Top() const { return heap_.front(); }
  // Removes and returns the earliest event; the queue must not be empty.
  Event Pop();
  // Events pushed since construction.
  uint64_t pushed() const { return next_seq_; }

 private:
  static bool Before(const Event& a, const Event& b) {
    return a.time != b.time ? a.time < b.time : a.seq < b.seq;
  }
  std::vector<Event> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace sitechain::sim
