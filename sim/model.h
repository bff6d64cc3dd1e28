#pragma once
// The discrete-event model of a site's renewal traffic (docs/simulator.md states it in full).
//
// A site of nodes, each running services_per_node services (the last node may run fewer). Every
// service holds a Cert_site and renews it through the slsm with the nlsm's own renewal policy
// (nlsm/renewal_policy.h) driven by the simulated clock. Each renewal is a Renew call whose bytes
// come from MessageSizes (real messages of the real system). Nodes drop out (churn) and stay
// offline for a uniform time; an offline node makes no calls, and on reconnect it renews what
// the reconnect rule says. The slsm always answers (optionally failing a fraction of calls),
// answers instantly and, if asked to, suggests load-levelled renewal windows.
//
// One run is single-threaded and deterministic for its seed: separate random streams feed the
// churn, the payload sizes, the renewal policy and the slsm, so two policies run with the same
// seed see the same churn.

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "nlsm/renewal_policy.h"
#include "sim/message_sizes.h"

namespace sitechain::sim {

// Where a renewed certificate's validity starts.
enum class LifetimeFrom {
  kRenewal,         // notAfter = renewal time + lifetime (the real system, the default)
  kPreviousExpiry,  // notAfter = previous notAfter + lifetime (renewals keep their phase); a
                    // certificate renewed after it expired counts from the renewal time
};
std::string_view LifetimeFromName(LifetimeFrom from);  // "renewal", "previous-expiry"
Result<LifetimeFrom> ParseLifetimeFrom(std::string_view name);

struct ModelConfig {
  // The site. The paper: 15 nodes x 30 services = 450.
  uint32_t services = 450;
  uint32_t services_per_node = 30;

  // Time. The paper: runs of 100000 s, certificate lifetime 5000 s.
  Seconds duration{100000};
  Seconds lifetime{5000};
  LifetimeFrom lifetime_from = LifetimeFrom::kRenewal;

  // Every service requests its first certificate at a uniform time in [0, start_spread]: the
  // paper's "all services are roughly started at the same time" (a site-wide power cut).
  Seconds start_spread{1};

  // Churn: an online node drops out as a Poisson process of this rate per second (the paper's
  // "0.001 %" read as 0.001 % per node per second), and stays offline for a uniform time in
  // [offline_min, offline_max].
  double churn_rate = 1e-5;
  Seconds offline_min{1};
  Seconds offline_max{2500};

  // Extra sitePolicy payload per service, uniform in [payload_min, payload_max] bytes, drawn
  // once per service. payload_max must not exceed the MessageSizes' max_payload.
  uint32_t payload_min = 0;
  uint32_t payload_max = 200;

  // The renewal policy (the nlsm's module) and what a reconnecting node renews.
  nlsm::RenewalPolicyConfig policy;
  nlsm::ReconnectRule reconnect = nlsm::ReconnectRule::kAll;
  std::chrono::milliseconds reconnect_spacing{0};  // kDue: one renewal slot per spacing

  // Per-node batching: a renewal also renews every other service of the node whose planned
  // attempt is within this horizon, in one Renew call. 0: off.
  Seconds batch_horizon{0};

  // The slsm suggests each new certificate's renewal window (one second wide) inside the
  // policy's window, at the least loaded of `slsm_window_choices` random seconds it has
  // already promised to others (load levelling, as ACME ARI allows). Needs policy kind window.
  bool slsm_windows = false;
  uint32_t slsm_window_choices = 16;

  // A site-wide policy change at this time: every certificate must be re-issued; online nodes
  // are told to renew within renew_now_window, offline ones renew on reconnect. nullopt: none.
  std::optional<Seconds> policy_change_at;
  Seconds renew_now_window{0};

  // Probability that the slsm refuses a call (UNAVAILABLE): the entries get an error back and
  // the node retries with the policy's backoff. 0 in the paper.
  double renew_failure_prob = 0;

  // OK, or INVALID_ARGUMENT naming the bad field.
  Status Validate() const;
  uint32_t nodes() const { return (services + services_per_node - 1) / services_per_node; }
};

struct RunResult {
  // Per simulated second: bytes on the network (both directions) and certificates issued.
  std::vector<uint64_t> bytes;
  std::vector<uint32_t> renewals;

  uint64_t events = 0;        // events popped from the queue, stale ones included
  uint64_t stale_events = 0;  // of those, invalidated ones
  uint64_t certificates = 0;  // issued (the first ones at start included)
  uint64_t calls = 0;         // Renew calls made
  uint64_t failed_calls = 0;
  uint64_t drops = 0;  // node drop-outs
  uint64_t bytes_total = 0;
  // Time a certificate of a service on an online node was expired, in ms, split by cause:
  // it expired while its node was online (the policy failed: zero for a good policy) ...
  uint64_t expired_online_ms = 0;
  // ... or it expired while the node was offline and the node has not renewed it yet since
  // reconnecting (the cost of spreading reconnect renewals).
  uint64_t stale_after_reconnect_ms = 0;
  // A policy change: ms until every service of every node that was online at the change, and
  // stayed online, held a certificate with the new policy. -1: no change in this run.
  int64_t policy_reach_ms = -1;
};

// Runs one simulation. config must have passed Validate() and its payload_max must be within
// sizes.max_payload().
RunResult RunModel(const ModelConfig& config, const MessageSizes& sizes, uint64_t seed);

}  // namespace sitechain::sim
