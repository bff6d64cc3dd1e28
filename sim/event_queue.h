#pragma once
// The simulator's future event list: a 4-ary min-heap of 16-byte events ordered by time, and
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

// What the model sees of an event.
struct Event {
  SimTime time = 0;
  uint32_t target = 0;      // service or node index
  uint32_t generation = 0;  // must equal the target's generation when popped, or it is stale
  EventKind kind = EventKind::kAttempt;
};

// Times must be in [0, kMaxEventTime]; generations are compared modulo 2^30.
inline constexpr SimTime kMaxEventTime = (SimTime{1} << 40) - 1;  // about 34 years
inline constexpr uint32_t kGenerationMask = (uint32_t{1} << 30) - 1;

class EventQueue final {
 public:
  void Reserve(size_t n) { heap_.reserve(n); }
  // time is clamped to [0, kMaxEventTime].
  void Push(SimTime time, EventKind kind, uint32_t target, uint32_t generation);
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // The earliest event's time; the queue must not be empty.
  SimTime TopTime() const { return static_cast<SimTime>(heap_.front().key >> kSeqBits); }
  // Removes and returns the earliest event; the queue must not be empty.
  Event Pop();
  // Events pushed since construction.
  uint64_t pushed() const { return next_seq_; }

 private:
  // 16 bytes, so that the four children of a node of the 4-ary heap share one cache line:
  // the key orders by time, then by insertion order (the low bits of a push counter; it wraps
  // after 2^24 pushes, which can reorder equal-time events pushed that far apart — still
  // deterministic).
  static constexpr int kSeqBits = 24;
  struct Slot {
    uint64_t key;
    uint32_t target;
    uint32_t generation_and_kind;  // generation in the low 30 bits, kind in the top 2
  };
  std::vector<Slot> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace sitechain::sim
