#pragma once
// The site's issuance rate limit: a token bucket that holds at most `burst` tokens and refills
// at `rate` tokens per second of the injected time. Each Cert_site takes one; a request that
// finds the bucket empty is refused with the time after which a retry finds a token.
//
// Thread-safe: mu_ guards the bucket (a few arithmetic operations under it, never a signature).

#include <mutex>
#include <optional>

#include "common/clock.h"

namespace sitechain::slsm {

class RateLimiter final {
 public:
  // Starts full at `start`. rate > 0 and burst >= 1 (SiteOptions::Validate checks them).
  RateLimiter(double rate, double burst, TimePoint start)
      : rate_(rate), burst_(burst), tokens_(burst), updated_(start) {}
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token at `now`: nullopt when taken; otherwise how long to wait before a retry
  // finds one (the missing fraction at `rate`, rounded up to whole seconds, plus one second).
  // A `now` earlier than the last call refills nothing.
  std::optional<Seconds> TryTake(TimePoint now);

 private:
  const double rate_;
  const double burst_;
  std::mutex mu_;
  double tokens_;      // guarded by mu_: tokens available
  TimePoint updated_;  // guarded by mu_: when tokens_ was last refilled
};

}  // namespace sitechain::slsm
