#include "sim/event_queue.h"

#include <cassert>
#include <utility>

namespace sitechain::sim {

// A hand-written heap rather than std::priority_queue: Pop() moves the event out instead of
// copying top() first, and sift-down uses the "hole" technique (one move per level).
void EventQueue::Push(SimTime time, EventKind kind, uint32_t target, uint32_t generation) {
  Event e{time, next_seq_++, target, generation, kind};
  size_t i = heap_.size();
  heap_.push_back(e);
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!Before(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

Event EventQueue::Pop() {
  assert(!heap_.empty());
  Event top = heap_.front();
  Event last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n == 0) return top;
  size_t i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap_[child + 1], heap_[child])) ++child;
    if (!Before(heap_[child], last)) break;
    heap_[i] = heap_[child];
    i = child;
  }
  heap_[i] = last;
  return top;
}

}  // namespace sitechain::sim
