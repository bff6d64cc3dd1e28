#include "sim/event_queue.h"

#include <algorithm>
#include <cassert>

namespace sitechain::sim {

// A hand-written 4-ary heap rather than std::priority_queue of a binary heap: half the levels,
// the children of a node in one cache line, and sift-down with a "hole" (one move per level).
// Pop() dominated the run time of large sites before.
void EventQueue::Push(SimTime time, EventKind kind, uint32_t target, uint32_t generation) {
  const auto t = static_cast<uint64_t>(std::clamp<SimTime>(time, 0, kMaxEventTime));
  const uint64_t seq = next_seq_++ & ((uint64_t{1} << kSeqBits) - 1);
  const Slot e{(t << kSeqBits) | seq, target,
               (generation & kGenerationMask) | (static_cast<uint32_t>(kind) << 30)};
  size_t i = heap_.size();
  heap_.push_back(e);
  while (i > 0) {
    const size_t parent = (i - 1) / 4;
    if (heap_[parent].key <= e.key) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

Event EventQueue::Pop() {
  assert(!heap_.empty());
  const Slot top = heap_.front();
  const Slot last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n > 0) {
    size_t i = 0;
    for (;;) {
      const size_t first = 4 * i + 1;
      if (first >= n) break;
      size_t best = first;
      const size_t end = std::min(first + 4, n);
      for (size_t c = first + 1; c < end; ++c) {
        if (heap_[c].key < heap_[best].key) best = c;
      }
      if (heap_[best].key >= last.key) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = last;
  }
  return Event{static_cast<SimTime>(top.key >> kSeqBits), top.target,
               top.generation_and_kind & kGenerationMask,
               static_cast<EventKind>(top.generation_and_kind >> 30)};
}

}  // namespace sitechain::sim
