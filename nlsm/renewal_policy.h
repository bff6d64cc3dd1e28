#pragma once
// When a node renews a service's Cert_site: the pure timing decisions shared by the node manager
// (nlsm) and the renewal-traffic simulator (sim/), so that the simulator measures the very policy
// the nodes run. Nothing here reads a clock or a global random source: every function takes
// `now` and a Random&. No threads, no I/O.
//
// Policies (RenewalPolicyKind):
//   at-expiry      the paper's Fig. 3 top: renew at the very moment the certificate expires.
//   paper-backoff  the paper's Fig. 3 bottom: uniform in [notAfter - B, notAfter - 1 s], with
//                  B = 25 % of the lifetime (1250 s for 5000 s) unless set in seconds.
//   window         the default: a uniform point in [notBefore + start*L, notBefore + end*L]
//                  (L = notAfter - notBefore; 50 %..75 % by default), well before expiry, so that
//                  a failed attempt has time to be retried; an slsm-suggested window
//                  [renew_after, renew_before] (as ACME's ARI) replaces it when it is sane.
// Failed attempts are retried with capped, jittered exponential backoff until expiry, whatever
// the policy.

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"

namespace sitechain::nlsm {

enum class RenewalPolicyKind { kAtExpiry, kPaperBackoff, kWindow };

// "at-expiry", "paper-backoff", "window".
std::string_view RenewalPolicyName(RenewalPolicyKind kind);
// INVALID_ARGUMENT naming the accepted values for anything else.
Result<RenewalPolicyKind> ParseRenewalPolicy(std::string_view name);

// A renewal window suggested by the slsm (RenewResponse.renew_after / renew_before).
struct RenewalWindow {
  TimePoint renew_after;
  TimePoint renew_before;
};

// What the policy knows about one certificate.
struct CertificateTimes {
  TimePoint not_before;
  TimePoint not_after;
  std::optional<RenewalWindow> suggested;  // from the slsm, if it sent one
};

struct RenewalPolicyConfig {
  RenewalPolicyKind kind = RenewalPolicyKind::kWindow;

  // paper-backoff: B as a fraction of the lifetime (the paper: 1250 s of 5000 s = 0.25) ...
  double backoff_fraction = 0.25;
  // ... or, when non-zero, B in seconds (overrides backoff_fraction). B is clamped to at least
  // 1 s, and to the lifetime.
  Seconds backoff{0};

  // window: the default window, as fractions of the lifetime after notBefore; 0 <= start <=
  // end < 1.
  double window_start = 0.5;
  double window_end = 0.75;
  // window: use the slsm's suggested window when it lies inside [notBefore, notAfter).
  bool honour_suggested_window = true;

  // Retries after a failed attempt (every policy): the n-th retry waits a uniform time in
  // [d/2, d] with d = min(retry_max, retry_initial * 2^(n-1)), and never past notAfter.
  Seconds retry_initial{10};
  Seconds retry_max{300};

  // OK, or INVALID_ARGUMENT saying which field is out of range.
  Status Validate() const;
};

// The timing decisions of one policy. Immutable after construction; thread-safe as long as each
// thread passes its own Random.
class RenewalPolicy final {
 public:
  // config must have passed Validate() (checked by an assert in debug builds).
  explicit RenewalPolicy(RenewalPolicyConfig config);

  const RenewalPolicyConfig& config() const { return config_; }

  // When to make the first renewal attempt for a certificate just received. Always within
  // [notBefore, notAfter] (at-expiry: exactly notAfter); millisecond resolution.
  TimePoint FirstAttempt(const CertificateTimes& cert, Random& rng) const;

  // The attempt made at `now` failed for the `failures`-th time in a row (1 for the first).
  // Returns when to try again: never before now, never after notAfter (a last try exactly at
  // expiry). nullopt once now >= notAfter: the certificate has expired, the service must stop,
  // and the caller requests a fresh certificate as when the service starts.
  std::optional<TimePoint> NextRetry(const CertificateTimes& cert, TimePoint now, int failures,
                                     Random& rng) const;

  // The B of paper-backoff for this certificate (also defined for the other kinds).
  std::chrono::milliseconds BackoffFor(const CertificateTimes& cert) const;

 private:
  RenewalPolicyConfig config_;
};

// A uniform point in [from, to] with millisecond resolution; `from` if to <= from.
TimePoint UniformBetween(TimePoint from, TimePoint to, Random& rng);

// A renew-now request (a policy change, RenewNowCommand) or a start after a power cut: a uniform
// point in [now, now + window]. window 0 means now.
TimePoint JitteredWithin(TimePoint now, Seconds window, Random& rng);

// What a node renews when it reconnects after being offline.
enum class ReconnectRule {
  kAll,      // every certificate at once (the paper's Sec. IV text)
  kExpired,  // only those that expired while offline, at once
  kDue,      // expired ones and those whose planned attempt has passed, spread most urgent
             // first (the nlsm default)
};

// "all", "expired", "due".
std::string_view ReconnectRuleName(ReconnectRule rule);
Result<ReconnectRule> ParseReconnectRule(std::string_view name);

// One of the node's certificates, as PlanReconnect sees it.
struct ReconnectCandidate {
  size_t id = 0;  // the caller's handle, returned in the plan
  TimePoint not_after;
  TimePoint planned_attempt;  // when the policy planned to renew it
  bool stale = false;         // must be renewed regardless (e.g. the slsm changed its policy)
};

struct PlannedRenewal {
  size_t id = 0;
  TimePoint at;
};

// Which certificates to renew after reconnecting at `now`, and when. kAll and kExpired renew
// at `now` (kExpired: certificates with notAfter <= now, plus stale ones). kDue renews expired,
// stale and overdue (planned_attempt <= now) certificates ordered by notAfter, the i-th (from 0)
// at a uniform point in [now + i*spacing, now + (i+1)*spacing) — never past its notAfter unless
// already expired; spacing 0 means all at `now`. Certificates not in the plan keep their
// planned attempt. The plan is sorted by `at`.
std::vector<PlannedRenewal> PlanReconnect(std::span<const ReconnectCandidate> candidates,
                                          TimePoint now, ReconnectRule rule,
                                          std::chrono::milliseconds spacing, Random& rng);

}  // namespace sitechain::nlsm
