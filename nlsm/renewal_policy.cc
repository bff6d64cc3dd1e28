#include "nlsm/renewal_policy.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>

namespace sitechain::nlsm {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

milliseconds Lifetime(const CertificateTimes& cert) {
  return std::max(milliseconds(0), duration_cast<milliseconds>(cert.not_after - cert.not_before));
}

milliseconds Fraction(milliseconds whole, double fraction) {
  return milliseconds(
      static_cast<int64_t>(std::llround(static_cast<double>(whole.count()) * fraction)));
}

bool SuggestionUsable(const CertificateTimes& cert) {
  if (!cert.suggested) return false;
  const RenewalWindow& w = *cert.suggested;
  return w.renew_after <= w.renew_before && w.renew_after >= cert.not_before &&
         w.renew_before < cert.not_after;
}

}  // namespace

std::string_view RenewalPolicyName(RenewalPolicyKind kind) {
  switch (kind) {
    case RenewalPolicyKind::kAtExpiry:
      return "at-expiry";
    case RenewalPolicyKind::kPaperBackoff:
      return "paper-backoff";
    case RenewalPolicyKind::kWindow:
      return "window";
  }
  return "?";
}

Result<RenewalPolicyKind> ParseRenewalPolicy(std::string_view name) {
  for (auto kind : {RenewalPolicyKind::kAtExpiry, RenewalPolicyKind::kPaperBackoff,
                    RenewalPolicyKind::kWindow}) {
    if (name == RenewalPolicyName(kind)) return kind;
  }
  return InvalidArgument("unknown renewal policy '" + std::string(name) +
                         "' (expected at-expiry, paper-backoff or window)");
}

Status RenewalPolicyConfig::Validate() const {
  if (!(backoff_fraction > 0 && backoff_fraction <= 1)) {
    return InvalidArgument("backoff fraction must be in (0, 1]");
  }
  if (backoff < Seconds(0)) return InvalidArgument("backoff must not be negative");
  if (!(window_start >= 0 && window_start <= window_end && window_end < 1)) {
    return InvalidArgument("renewal window must satisfy 0 <= start <= end < 1 (of the lifetime)");
  }
  if (retry_initial <= Seconds(0) || retry_max < retry_initial) {
    return InvalidArgument("retry backoff must satisfy 0 < initial <= max");
  }
  return Status::Ok();
}

RenewalPolicy::RenewalPolicy(RenewalPolicyConfig config) : config_(config) {
  assert(config_.Validate().ok());
}

milliseconds RenewalPolicy::BackoffFor(const CertificateTimes& cert) const {
  const milliseconds lifetime = Lifetime(cert);
  milliseconds b = config_.backoff > Seconds(0) ? duration_cast<milliseconds>(config_.backoff)
                                                : Fraction(lifetime, config_.backoff_fraction);
  b = std::min(b, lifetime);
  return std::max(b, milliseconds(1000));
}

TimePoint RenewalPolicy::FirstAttempt(const CertificateTimes& cert, Random& rng) const {
  switch (config_.kind) {
    case RenewalPolicyKind::kAtExpiry:
      return cert.not_after;
    case RenewalPolicyKind::kPaperBackoff: {
      // Uniform in [notAfter - B, notAfter - 1 s], kept inside the certificate's validity.
      const TimePoint from = std::max(cert.not_before, cert.not_after - BackoffFor(cert));
      const TimePoint to = std::max(from, cert.not_after - milliseconds(1000));
      return UniformBetween(from, to, rng);
    }
    case RenewalPolicyKind::kWindow: {
      if (config_.honour_suggested_window && SuggestionUsable(cert)) {
        return UniformBetween(cert.suggested->renew_after, cert.suggested->renew_before, rng);
      }
      const milliseconds lifetime = Lifetime(cert);
      return UniformBetween(cert.not_before + Fraction(lifetime, config_.window_start),
                            cert.not_before + Fraction(lifetime, config_.window_end), rng);
    }
  }
  return cert.not_after;
}

std::optional<TimePoint> RenewalPolicy::NextRetry(const CertificateTimes& cert, TimePoint now,
                                                  int failures, Random& rng) const {
  if (now >= cert.not_after) return std::nullopt;
  const milliseconds initial = duration_cast<milliseconds>(config_.retry_initial);
  const milliseconds cap = duration_cast<milliseconds>(config_.retry_max);
  milliseconds d = initial;
  for (int i = 1; i < failures && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  const TimePoint next = UniformBetween(now + d / 2, now + d, rng);
  return std::min(next, cert.not_after);
}

TimePoint UniformBetween(TimePoint from, TimePoint to, Random& rng) {
  if (to <= from) return from;
  // In unsigned nanoseconds: to - from may not fit a signed duration (times from the slsm, such
  // as a suggested window, span the whole range when they are absurd), and from + offset <= to.
  using Ticks = TimePoint::duration::rep;
  const uint64_t span_ns = static_cast<uint64_t>(to.time_since_epoch().count()) -
                           static_cast<uint64_t>(from.time_since_epoch().count());
  const uint64_t offset_ms = rng.Uniform(span_ns / 1'000'000 + 1);
  const uint64_t at =
      static_cast<uint64_t>(from.time_since_epoch().count()) + offset_ms * 1'000'000;
  return TimePoint(TimePoint::duration(static_cast<Ticks>(at)));
}

TimePoint JitteredWithin(TimePoint now, Seconds window, Random& rng) {
  return UniformBetween(now, now + window, rng);
}

std::string_view ReconnectRuleName(ReconnectRule rule) {
  switch (rule) {
    case ReconnectRule::kAll:
      return "all";
    case ReconnectRule::kExpired:
      return "expired";
    case ReconnectRule::kDue:
      return "due";
  }
  return "?";
}

Result<ReconnectRule> ParseReconnectRule(std::string_view name) {
  for (auto rule : {ReconnectRule::kAll, ReconnectRule::kExpired, ReconnectRule::kDue}) {
    if (name == ReconnectRuleName(rule)) return rule;
  }
  return InvalidArgument("unknown reconnect rule '" + std::string(name) +
                         "' (expected all, expired or due)");
}

std::vector<PlannedRenewal> PlanReconnect(std::span<const ReconnectCandidate> candidates,
                                          TimePoint now, ReconnectRule rule, milliseconds spacing,
                                          Random& rng) {
  std::vector<const ReconnectCandidate*> chosen;
  chosen.reserve(candidates.size());
  for (const ReconnectCandidate& c : candidates) {
    const bool expired = c.not_after <= now;
    bool take = false;
    switch (rule) {
      case ReconnectRule::kAll:
        take = true;
        break;
      case ReconnectRule::kExpired:
        take = expired || c.stale;
        break;
      case ReconnectRule::kDue:
        take = expired || c.stale || c.planned_attempt <= now;
        break;
    }
    if (take) chosen.push_back(&c);
  }
  std::vector<PlannedRenewal> plan;
  plan.reserve(chosen.size());
  if (rule != ReconnectRule::kDue || spacing <= milliseconds(0)) {
    for (const ReconnectCandidate* c : chosen) plan.push_back({c->id, now});
    return plan;
  }
  // Most urgent first; ties by id so that the plan does not depend on the input order.
  std::sort(chosen.begin(), chosen.end(), [](const auto* a, const auto* b) {
    return a->not_after != b->not_after ? a->not_after < b->not_after : a->id < b->id;
  });
  for (size_t i = 0; i < chosen.size(); ++i) {
    const TimePoint slot = now + spacing * static_cast<int64_t>(i);
    TimePoint at = UniformBetween(slot, slot + spacing - milliseconds(1), rng);
    // A still-valid certificate must not expire waiting for its turn.
    if (chosen[i]->not_after > now) at = std::min(at, chosen[i]->not_after);
    plan.push_back({chosen[i]->id, at});
  }
  std::stable_sort(plan.begin(), plan.end(),
                   [](const PlannedRenewal& a, const PlannedRenewal& b) { return a.at < b.at; });
  return plan;
}

}  // namespace sitechain::nlsm
