#pragma once
// When the supervisor restarts a service that exited, and when it gives up on it.
//
//   - The restart policy of the service (launch_policy.h: always, on-failure, never) says
//     whether an exit is answered with a restart at all (RestartsAfter).
//   - Restarts back off: the n-th consecutive restart (n = 1, 2, ...) waits a uniform time in
//     [d/2, d], d = min(max, initial * 2^(n-1)) (capped, jittered exponential backoff). A process
//     that ran long enough before it exited starts the series afresh.
//   - A service whose process exits `limit` times within `window` (by the injected clock), each
//     time in a way its policy answers with a restart, is in a crash loop: not restarted any more.
//
// Pure decisions and a small per-service record; no clock is read here (times are parameters)
// and randomness comes from the caller's Random. Not thread-safe: each RestartRecord belongs to
// one service of the supervisor and is used under the supervisor's lock.

#include <chrono>
#include <deque>

#include "common/clock.h"
#include "common/random.h"
#include "nlsm/launch_policy.h"

namespace sitechain::nlsm {

// The delay before the n-th consecutive restart (n >= 1): uniform in [d/2, d], d = min(max,
// initial * 2^(n-1)). Requires 0 < initial <= max.
std::chrono::milliseconds RestartBackoff(std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max, int n, Random& rng);

// Whether `policy` answers an exit (failed: not exit code 0) with a restart.
bool RestartsAfter(RestartPolicy policy, bool failed);

// One service's restart history: its backoff series and the exits counted for crash-loop
// detection.
class RestartRecord final {
 public:
  // Counts an exit answered with a restart at `now`; true if that makes `limit` such exits
  // within `window` (a crash loop). Requires limit >= 1 and window > 0.
  bool CountExit(TimePoint now, int limit, std::chrono::milliseconds window);
  // The exits counted within the window, as of the last CountExit.
  int exits_in_window() const { return static_cast<int>(exits_.size()); }

  // The next step of the backoff series (1, 2, ...).
  int NextStep() { return ++backoff_step_; }
  // The process ran long enough: the next restart starts the series afresh.
  void ResetBackoff() { backoff_step_ = 0; }

 private:
  int backoff_step_ = 0;         // consecutive restarts in the current backoff series
  std::deque<TimePoint> exits_;  // exits answered with a restart, within the window
};

}  // namespace sitechain::nlsm
