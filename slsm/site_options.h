#pragma once
// Every tunable of the site manager, with its default. Validate() is the one place they are
// checked; SiteService::Create refuses options that do not validate. A plain value, shared
// read-only by the site manager's concepts (catalog, enrollment, deployments, issuer).

#include <cstddef>
#include <cstdint>

#include "common/clock.h"
#include "common/status.h"
#include "pki/verifier.h"

namespace sitechain::slsm {

struct SiteOptions {
  Seconds cert_site_lifetime{5000};  // Cert_site, the paper's default
  Seconds node_lifetime{24 * 3600};  // node certificates, renewed by the node itself
  // A node whose certificate expired (it was offline) may still renew it this long after expiry,
  // proving it holds its registered key; later it needs a new join token. 0: never.
  Seconds node_recovery_grace{7 * 86400};
  Seconds default_token_ttl{3600};  // join tokens
  Seconds max_token_ttl{7 * 86400};
  // The suggested renewal window, as fractions of a Cert_site's lifetime after issuance.
  double renew_window_start = 0.5;
  double renew_window_end = 0.75;
  // Issuance rate limit (token bucket): sustained certificates per second, and the burst.
  double max_issuance_per_second = 100;
  double issuance_burst = 200;
  // Renew-now after a policy change: spread over at least this window, longer when the affected
  // instances would otherwise exceed the rate limit. Pushes of several policy changes (and the
  // catch-up of nodes that were away) queue behind each other at the rate the limit leaves
  // beside the regular renewals, so that they never add up to a stampede.
  Seconds policy_push_window{10};
  uint64_t max_executable_bytes = 1ull << 30;
  size_t max_policy_bytes = 4096;
  uint32_t max_renewals_per_call = 1000;
  pki::VerifyOptions verify;
  // How long a release may go unconfirmed by the store's revocation feed before the site stops
  // issuing Cert_site for it. A release is confirmed when it is installed and each time the
  // revocation follower reads the feed to its end; while the store cannot be reached the
  // revocation bound is this limit + cert_site_lifetime + the nodes' clock skew. A day, as
  // TUF's timestamp role: a store outage of hours goes unnoticed by the services, a longer one
  // stops them one Cert_site lifetime later (docs/operations.md).
  Seconds revocation_staleness_limit{86400};

  // --- RenewNode limit (issue 17). Each node may renew its node certificate at most
  // node_renewal_burst times at once and earns one renewal back every
  // node_lifetime / node_renewal_burst (NodeRenewalRefill). An honest node renews about once per
  // half lifetime, plus a retry when an answer was lost or it crashed before saving; the default
  // leaves room for both and bounds a hostile node to 4 certificates per lifetime.
  uint64_t node_renewal_burst = 4;
  Seconds NodeRenewalRefill() const {
    return node_lifetime / static_cast<int64_t>(node_renewal_burst);
  }

  // --- Per-node bounds (issue 17: one node cannot take what the others need). ---
  // A node's own issuance bucket, checked before the site's (node_issuance_limiter.h): with k
  // instances deployed to it, it refills at
  //   node_issuance_factor * k / (renew_window_start * cert_site_lifetime)  per second
  // and holds max(node_issuance_min_burst, node_issuance_factor * k) tokens. An honest node
  // renews each instance at most once per renew_window_start * lifetime; the factor leaves room
  // for a policy push, a deploy, a restart and the retries of lost answers on top of that.
  double node_issuance_factor = 4;
  double node_issuance_min_burst = 10;
  // Commands that may wait for one node's stream (queued, scheduled, and heartbeats not yet
  // acknowledged); a node past it does not read its stream and is disconnected (node_hub.h).
  size_t max_node_commands = 1024;

  // INVALID_ARGUMENT naming the first option out of range.
  Status Validate() const;
};

}  // namespace sitechain::slsm
