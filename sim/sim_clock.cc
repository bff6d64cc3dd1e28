#include "sim/sim_clock.h"

#include <cassert>

namespace sitechain::sim {

void SimClock::AdvanceTo(SimTime t) {
  const SimTime now = now_.load(std::memory_order_relaxed);
  assert(t >= now && "simulated time must not go backwards");
  if (t > now) now_.store(t, std::memory_order_relaxed);
}

}  // namespace sitechain::sim
