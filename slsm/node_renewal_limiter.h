#pragma once
// The per-node limit on RenewNode: a token bucket per node name that holds at most `burst`
// renewals and earns one back every `refill` of the injected time. An honest node renews its
// certificate about once per half lifetime, plus a retry when an answer was lost or it crashed
// before saving the certificate; a node that asks more often than the bucket allows is refused
// with the time after which a retry finds a renewal.
//
// In memory: a restart of the slsm gives every node a full bucket again (at most `burst` extra
// certificates per node and restart). One entry per node name that has renewed, i.e. at most
// the number of enrolled names (only authenticated nodes reach it).
// Thread-safe: mu_ guards the buckets (arithmetic only under it).

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"

namespace sitechain::slsm {

class NodeRenewalLimiter final {
 public:
  // burst >= 1, refill > 0 (SiteOptions::Validate checks what they derive from).
  NodeRenewalLimiter(uint32_t burst, Seconds refill) : burst_(burst), refill_(refill) {}
  NodeRenewalLimiter(const NodeRenewalLimiter&) = delete;
  NodeRenewalLimiter& operator=(const NodeRenewalLimiter&) = delete;

  // Takes one renewal for `node` at `now`: nullopt when taken; otherwise the earliest time a
  // retry finds one (whole seconds, rounded up). A `now` earlier than the node's last call
  // refills nothing.
  std::optional<TimePoint> TryTake(const std::string& node, TimePoint now);

  uint32_t burst() const { return burst_; }
  Seconds refill() const { return refill_; }

 private:
  const uint32_t burst_;
  const Seconds refill_;
  std::mutex mu_;
  // The bucket as a time (GCRA, the "generic cell rate algorithm"): when the node's bucket will
  // be full again if it renews no more. Exact integer arithmetic on the clock's durations.
  std::map<std::string, TimePoint> full_at_;  // guarded by mu_; absent = full
};

}  // namespace sitechain::slsm
