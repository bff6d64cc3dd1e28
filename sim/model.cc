#include "sim/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "sim/event_queue.h"
#include "sim/sim_clock.h"

namespace sitechain::sim {

using std::chrono::milliseconds;

std::string_view LifetimeFromName(LifetimeFrom from) {
  return from == LifetimeFrom::kRenewal ? "renewal" : "previous-expiry";
}

Result<LifetimeFrom> ParseLifetimeFrom(std::string_view name) {
  if (name == "renewal") return LifetimeFrom::kRenewal;
  if (name == "previous-expiry") return LifetimeFrom::kPreviousExpiry;
  return InvalidArgument("unknown lifetime start '" + std::string(name) +
                         "' (expected renewal or previous-expiry)");
}

Status ModelConfig::Validate() const {
  if (services == 0) return InvalidArgument("services must be at least 1");
  if (services_per_node == 0) return InvalidArgument("services per node must be at least 1");
  if (duration <= Seconds(0)) return InvalidArgument("duration must be positive");
  if (duration > Seconds(int64_t{30} * 365 * 86400)) {
    return InvalidArgument("duration must be at most 30 years");
  }
  if (lifetime < Seconds(2)) return InvalidArgument("lifetime must be at least 2 s");
  if (start_spread < Seconds(0)) return InvalidArgument("start spread must not be negative");
  if (!(churn_rate >= 0 && churn_rate < 1)) {
    return InvalidArgument("churn rate must be in [0, 1) per node per second");
  }
  if (offline_min < Seconds(0) || offline_max < offline_min) {
    return InvalidArgument("offline time must satisfy 0 <= min <= max");
  }
  if (payload_min > payload_max) return InvalidArgument("payload min must not exceed max");
  if (payload_max > 65535) return InvalidArgument("payload max must be at most 65535 bytes");
  SITECHAIN_RETURN_IF_ERROR(policy.Validate());
  if (reconnect_spacing < milliseconds(0)) {
    return InvalidArgument("reconnect spacing must not be negative");
  }
  if (batch_horizon < Seconds(0)) return InvalidArgument("batch horizon must not be negative");
  if (slsm_windows && policy.kind != nlsm::RenewalPolicyKind::kWindow) {
    return InvalidArgument("slsm-suggested windows need the window renewal policy");
  }
  if (slsm_windows && slsm_window_choices == 0) {
    return InvalidArgument("slsm window choices must be at least 1");
  }
  if (policy_change_at && *policy_change_at < Seconds(0)) {
    return InvalidArgument("policy change time must not be negative");
  }
  if (renew_now_window < Seconds(0)) return InvalidArgument("renew-now window must be >= 0");
  if (!(renew_failure_prob >= 0 && renew_failure_prob < 1)) {
    return InvalidArgument("renew failure probability must be in [0, 1)");
  }
  return Status::Ok();
}

namespace {

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr SimTime kNoCertificate = std::numeric_limits<SimTime>::min() / 4;

// Compact per-service state: one cache line holds more than one service.
struct ServiceState {
  SimTime not_after = kNoCertificate;  // kNoCertificate before the first certificate
  SimTime planned = 0;                 // the pending attempt's time
  int32_t slot = -1;                   // the slsm-promised second, or -1
  uint32_t generation = 0;             // bumped to invalidate the pending attempt
  uint16_t payload = 0;
  uint16_t failures = 0;
  bool stale = false;      // must be re-issued (policy change)
  bool in_cohort = false;  // counted by the pending policy change
};

struct NodeState {
  bool online = true;
  SimTime last_reconnect = 0;
  uint32_t generation = 0;
};

class Model final {
 public:
  Model(const ModelConfig& config, const MessageSizes& sizes, uint64_t seed)
      : config_(config),
        sizes_(sizes),
        policy_(config.policy),
        churn_rng_(Mix(seed, 1)),
        payload_rng_(Mix(seed, 2)),
        policy_rng_(Mix(seed, 3)),
        slsm_rng_(Mix(seed, 4)),
        end_(std::chrono::duration_cast<milliseconds>(config.duration).count()),
        lifetime_(std::chrono::duration_cast<milliseconds>(config.lifetime).count()) {}

  RunResult Run();

 private:
  uint32_t NodeOf(uint32_t service) const { return service / config_.services_per_node; }
  uint32_t FirstServiceOf(uint32_t node) const { return node * config_.services_per_node; }
  uint32_t EndServiceOf(uint32_t node) const {
    return std::min(config_.services, (node + 1) * config_.services_per_node);
  }
  TimePoint T(SimTime t) const { return clock_.ToTimePoint(t); }
  SimTime S(TimePoint t) const { return clock_.FromTimePoint(t); }

  void Schedule(uint32_t service, SimTime at) {
    ServiceState& s = services_[service];
    s.planned = at;
    queue_.Push(at, EventKind::kAttempt, service, ++s.generation);
  }
  SimTime Exponential(double rate_per_s);
  nlsm::CertificateTimes TimesOf(const ServiceState& s) const;
  void AccountExpired(const ServiceState& s, const NodeState& node, SimTime now);

  void OnAttempt(uint32_t service, SimTime now);
  void OnDrop(uint32_t node, SimTime now);
  void OnReconnect(uint32_t node, SimTime now);
  void OnPolicyChange(SimTime now);
  void Issue(uint32_t service, SimTime now);
  void LeaveCohort(ServiceState& s, SimTime now);
  int32_t PromiseSlot(SimTime from, SimTime to, SimTime now);
  void AddTraffic(SimTime now, uint64_t bytes, uint32_t certificates);

  const ModelConfig& config_;
  const MessageSizes& sizes_;
  const nlsm::RenewalPolicy policy_;
  SeededRandom churn_rng_;
  SeededRandom payload_rng_;
  SeededRandom policy_rng_;
  SeededRandom slsm_rng_;
  const SimTime end_;
  const SimTime lifetime_;

  SimClock clock_;
  EventQueue queue_;
  std::vector<ServiceState> services_;
  std::vector<NodeState> nodes_;
  std::vector<uint16_t> batch_payloads_;  // scratch
  std::vector<uint32_t> batch_members_;   // scratch
  RunResult result_;

  // Policy change bookkeeping.
  SimTime change_at_ = -1;
  uint64_t cohort_remaining_ = 0;
  SimTime last_cohort_renewal_ = -1;

  // slsm load levelling: promised renewals per second in a ring covering [now, now + lifetime].
  std::vector<uint16_t> promised_;
  uint64_t promised_mask_ = 0;
  int64_t promised_cleared_until_ = 0;  // seconds below this are zeroed
};

SimTime Model::Exponential(double rate_per_s) {
  constexpr uint64_t kSteps = uint64_t{1} << 53;
  const double u = (static_cast<double>(churn_rng_.Uniform(kSteps)) + 0.5) / kSteps;
  const double seconds = -std::log(u) / rate_per_s;
  const double ms = std::min(seconds * 1000.0, 4e18);
  return static_cast<SimTime>(ms);
}

nlsm::CertificateTimes Model::TimesOf(const ServiceState& s) const {
  // The policy sees the nominal lifetime (the real Cert_site is backdated by 60 s for clock
  // skew; that does not change when a node renews).
  nlsm::CertificateTimes times{T(s.not_after - lifetime_), T(s.not_after), std::nullopt};
  if (s.slot >= 0) {
    const SimTime from = int64_t{s.slot} * kMillisPerSecond;
    times.suggested = nlsm::RenewalWindow{T(from), T(from + kMillisPerSecond - 1)};
  }
  return times;
}

void Model::AccountExpired(const ServiceState& s, const NodeState& node, SimTime now) {
  if (s.not_after == kNoCertificate || s.not_after >= now) return;
  if (s.not_after >= node.last_reconnect) {
    result_.expired_online_ms += static_cast<uint64_t>(now - s.not_after);
  } else {
    result_.stale_after_reconnect_ms += static_cast<uint64_t>(now - node.last_reconnect);
  }
}

void Model::AddTraffic(SimTime now, uint64_t bytes, uint32_t certificates) {
  const auto second = static_cast<size_t>(now / kMillisPerSecond);
  if (second >= result_.bytes.size()) return;
  result_.bytes[second] += bytes;
  result_.renewals[second] += certificates;
  result_.bytes_total += bytes;
}

int32_t Model::PromiseSlot(SimTime from, SimTime to, SimTime now) {
  const int64_t now_s = now / kMillisPerSecond;
  for (; promised_cleared_until_ < now_s; ++promised_cleared_until_) {
    promised_[static_cast<uint64_t>(promised_cleared_until_) & promised_mask_] = 0;
  }
  const int64_t lo = std::max(now_s + 1, (from + kMillisPerSecond - 1) / kMillisPerSecond);
  const int64_t hi = std::max(lo, to / kMillisPerSecond);
  int64_t best = lo;
  uint16_t best_load = std::numeric_limits<uint16_t>::max();
  for (uint32_t i = 0; i < config_.slsm_window_choices; ++i) {
    const int64_t c =
        lo + static_cast<int64_t>(slsm_rng_.Uniform(static_cast<uint64_t>(hi - lo) + 1));
    const uint16_t load = promised_[static_cast<uint64_t>(c) & promised_mask_];
    if (load < best_load) {
      best = c;
      best_load = load;
    }
  }
  uint16_t& cell = promised_[static_cast<uint64_t>(best) & promised_mask_];
  if (cell < std::numeric_limits<uint16_t>::max()) ++cell;
  return static_cast<int32_t>(best);
}

void Model::LeaveCohort(ServiceState& s, SimTime now) {
  if (!s.in_cohort) return;
  s.in_cohort = false;
  if (--cohort_remaining_ == 0) {
    result_.policy_reach_ms = std::max<SimTime>(0, last_cohort_renewal_ - change_at_);
  }
  (void)now;
}

void Model::Issue(uint32_t service, SimTime now) {
  ServiceState& s = services_[service];
  AccountExpired(s, nodes_[NodeOf(service)], now);
  const bool valid = s.not_after != kNoCertificate && s.not_after > now;
  s.not_after = config_.lifetime_from == LifetimeFrom::kPreviousExpiry && valid
                    ? s.not_after + lifetime_
                    : now + lifetime_;
  const SimTime not_before = s.not_after - lifetime_;
  if (config_.slsm_windows) {
    const int64_t now_s = now / kMillisPerSecond;
    if (s.slot > now_s) {
      uint16_t& cell = promised_[static_cast<uint64_t>(s.slot) & promised_mask_];
      if (cell > 0) --cell;
    }
    const auto from =
        static_cast<SimTime>(static_cast<double>(lifetime_) * config_.policy.window_start);
    const auto to =
        static_cast<SimTime>(static_cast<double>(lifetime_) * config_.policy.window_end);
    s.slot = PromiseSlot(not_before + from, not_before + to, now);
  }
  s.failures = 0;
  s.stale = false;
  if (s.in_cohort) {
    last_cohort_renewal_ = std::max(last_cohort_renewal_, now);
    LeaveCohort(s, now);
  }
  ++result_.certificates;
  Schedule(service, std::max(now, S(policy_.FirstAttempt(TimesOf(s), policy_rng_))));
}

void Model::OnAttempt(uint32_t service, SimTime now) {
  const uint32_t node = NodeOf(service);
  batch_members_.clear();
  batch_members_.push_back(service);
  if (config_.batch_horizon > Seconds(0)) {
    const SimTime horizon =
        now + std::chrono::duration_cast<milliseconds>(config_.batch_horizon).count();
    for (uint32_t o = FirstServiceOf(node); o < EndServiceOf(node); ++o) {
      if (o != service && services_[o].planned <= horizon) batch_members_.push_back(o);
    }
  }
  ++result_.calls;
  if (config_.renew_failure_prob > 0) {
    constexpr uint64_t kSteps = uint64_t{1} << 53;
    const double u = static_cast<double>(slsm_rng_.Uniform(kSteps)) / kSteps;
    if (u < config_.renew_failure_prob) {
      ++result_.failed_calls;
      AddTraffic(now, sizes_.FailedCall(batch_members_.size()), 0);
      for (uint32_t m : batch_members_) {
        ServiceState& s = services_[m];
        ++s.failures;
        std::optional<TimePoint> retry;
        if (s.not_after != kNoCertificate) {
          retry = policy_.NextRetry(TimesOf(s), T(now), s.failures, policy_rng_);
        }
        // No certificate (yet, or any more): keep asking at the capped backoff.
        const SimTime cap =
            std::chrono::duration_cast<milliseconds>(config_.policy.retry_max).count();
        Schedule(m, retry ? std::max(now, S(*retry))
                          : now + cap / 2 +
                                static_cast<SimTime>(
                                    policy_rng_.Uniform(static_cast<uint64_t>(cap / 2) + 1)));
      }
      return;
    }
  }
  uint64_t bytes;
  if (batch_members_.size() == 1) {
    bytes = sizes_.SingleCall(services_[service].payload);
  } else {
    batch_payloads_.clear();
    for (uint32_t m : batch_members_) batch_payloads_.push_back(services_[m].payload);
    bytes = sizes_.BatchCall(batch_payloads_);
  }
  AddTraffic(now, bytes, static_cast<uint32_t>(batch_members_.size()));
  for (uint32_t m : batch_members_) Issue(m, now);
}

void Model::OnDrop(uint32_t node, SimTime now) {
  NodeState& n = nodes_[node];
  n.online = false;
  ++result_.drops;
  for (uint32_t s = FirstServiceOf(node); s < EndServiceOf(node); ++s) {
    ServiceState& st = services_[s];
    AccountExpired(st, n, now);
    ++st.generation;  // no attempts while offline
    LeaveCohort(st, now);
  }
  const SimTime lo = std::chrono::duration_cast<milliseconds>(config_.offline_min).count();
  const SimTime hi = std::chrono::duration_cast<milliseconds>(config_.offline_max).count();
  const SimTime offline =
      lo + static_cast<SimTime>(churn_rng_.Uniform(static_cast<uint64_t>(hi - lo) + 1));
  queue_.Push(now + offline, EventKind::kReconnect, node, ++n.generation);
}

void Model::OnReconnect(uint32_t node, SimTime now) {
  NodeState& n = nodes_[node];
  n.online = true;
  n.last_reconnect = now;
  if (config_.churn_rate > 0) {
    queue_.Push(now + Exponential(config_.churn_rate), EventKind::kDrop, node, ++n.generation);
  }
  std::vector<nlsm::ReconnectCandidate> candidates;
  candidates.reserve(EndServiceOf(node) - FirstServiceOf(node));
  for (uint32_t s = FirstServiceOf(node); s < EndServiceOf(node); ++s) {
    const ServiceState& st = services_[s];
    // A service that never got a certificate counts as expired: it needs one now.
    const SimTime not_after = st.not_after == kNoCertificate ? now - 1 : st.not_after;
    candidates.push_back({s, T(not_after), T(st.planned), st.stale});
  }
  const std::vector<nlsm::PlannedRenewal> plan = nlsm::PlanReconnect(
      candidates, T(now), config_.reconnect, config_.reconnect_spacing, policy_rng_);
  for (const nlsm::PlannedRenewal& p : plan) {
    services_[p.id].planned = std::max(now, S(p.at));
  }
  for (uint32_t s = FirstServiceOf(node); s < EndServiceOf(node); ++s) {
    Schedule(s, std::max(now, services_[s].planned));
  }
}

void Model::OnPolicyChange(SimTime now) {
  change_at_ = now;
  last_cohort_renewal_ = now;
  for (uint32_t node = 0; node < nodes_.size(); ++node) {
    const bool online = nodes_[node].online;
    for (uint32_t s = FirstServiceOf(node); s < EndServiceOf(node); ++s) {
      ServiceState& st = services_[s];
      st.stale = true;
      if (!online) continue;
      st.in_cohort = true;
      ++cohort_remaining_;
      // Renew now, jittered; a renewal already planned earlier carries the new policy too.
      const SimTime at = S(nlsm::JitteredWithin(T(now), config_.renew_now_window, policy_rng_));
      Schedule(s, std::max(now, std::min(st.planned, at)));
    }
  }
  if (cohort_remaining_ == 0) result_.policy_reach_ms = 0;
}

RunResult Model::Run() {
  const auto seconds = static_cast<size_t>(config_.duration.count());
  result_.bytes.assign(seconds, 0);
  result_.renewals.assign(seconds, 0);
  services_.assign(config_.services, ServiceState{});
  nodes_.assign(config_.nodes(), NodeState{});
  queue_.Reserve(config_.services + nodes_.size() + 16);
  if (config_.slsm_windows) {
    uint64_t size = 1;
    while (size < static_cast<uint64_t>(config_.lifetime.count()) + 4) size <<= 1;
    promised_.assign(size, 0);
    promised_mask_ = size - 1;
  }

  const SimTime spread = std::chrono::duration_cast<milliseconds>(config_.start_spread).count();
  for (uint32_t s = 0; s < config_.services; ++s) {
    services_[s].payload = static_cast<uint16_t>(
        config_.payload_min + payload_rng_.Uniform(config_.payload_max - config_.payload_min + 1));
    Schedule(s, static_cast<SimTime>(policy_rng_.Uniform(static_cast<uint64_t>(spread) + 1)));
  }
  if (config_.churn_rate > 0) {
    for (uint32_t n = 0; n < nodes_.size(); ++n) {
      queue_.Push(Exponential(config_.churn_rate), EventKind::kDrop, n, ++nodes_[n].generation);
    }
  }
  if (config_.policy_change_at) {
    queue_.Push(std::chrono::duration_cast<milliseconds>(*config_.policy_change_at).count(),
                EventKind::kPolicyChange, 0, 0);
  }

  while (!queue_.empty() && queue_.TopTime() < end_) {
    const Event e = queue_.Pop();
    ++result_.events;
    clock_.AdvanceTo(e.time);
    switch (e.kind) {
      case EventKind::kAttempt:
        if (e.generation != (services_[e.target].generation & kGenerationMask)) {
          ++result_.stale_events;
          break;
        }
        OnAttempt(e.target, e.time);
        break;
      case EventKind::kDrop:
        if (e.generation != (nodes_[e.target].generation & kGenerationMask)) {
          ++result_.stale_events;
          break;
        }
        OnDrop(e.target, e.time);
        break;
      case EventKind::kReconnect:
        if (e.generation != (nodes_[e.target].generation & kGenerationMask)) {
          ++result_.stale_events;
          break;
        }
        OnReconnect(e.target, e.time);
        break;
      case EventKind::kPolicyChange:
        OnPolicyChange(e.time);
        break;
    }
  }
  // Certificates still expired on online nodes at the end count until the end.
  for (uint32_t s = 0; s < config_.services; ++s) {
    const NodeState& n = nodes_[NodeOf(s)];
    if (n.online) AccountExpired(services_[s], n, end_);
  }
  return std::move(result_);
}

}  // namespace

RunResult RunModel(const ModelConfig& config, const MessageSizes& sizes, uint64_t seed) {
  Model model(config, sizes, seed);
  return model.Run();
}

}  // namespace sitechain::sim
