#pragma once
// The node's renewals: when each instance's Cert_site renews (the renewal policy's plan, retries
// with backoff, renew-now commands, the plan after a reconnect), which renewals share one call
// to the slsm (those due within batch_interval of the first one due), the call itself (bounded
// so that the loop is back before the first notAfter of what runs), when a certificate that was
// not renewed in time must stop the service (fail closed), and the renewal of the node's own
// certificate. The decisions are on `now` (renewal_policy.h); the clock is read only for the
// time a renewal call took.
//
// Verifying and keeping a renewed Cert_site, and launching with it, are the node manager's: Renew
// hands each issued certificate to its caller, in the slsm's order.
//
// Ownership and threads: the node manager owns the renewer and calls it from its loop thread
// only; instances are the node manager's, lent for each call. It borrows the site client, the
// clock and the Random, which must outlive it. Not thread-safe. Errors: a failed renewal is
// recorded on the instance (renewal_error, the next attempt) and logged, never returned.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "nlsm/instance.h"
#include "nlsm/node_state.h"
#include "nlsm/renewal_policy.h"
#include "nlsm/site_client.h"
#include "pki/certificate.h"

namespace sitechain::nlsm {

struct RenewerOptions {
  RenewalPolicyConfig renewal;  // the default window policy; its retries for every renewal
  // Instances whose renewal is due within this much of each other renew in one call.
  Seconds batch_interval{5};
  // After a reconnect, overdue renewals are spread this far apart, most urgent first.
  std::chrono::milliseconds reconnect_spacing{200};
};

class Renewer final {
 public:
  // `dir`: the node's state directory (where the node certificate is saved).
  Renewer(std::string dir, SiteClient& site, const Clock& clock, Random& rng,
          RenewerOptions options);
  Renewer(const Renewer&) = delete;
  Renewer& operator=(const Renewer&) = delete;

  // --- a service's Cert_site ---

  // A fresh Cert_site: plan its first renewal attempt, forget past failures.
  void Schedule(Instance& instance);
  // The renewal attempt made at `now` failed: record why and plan the next one (after expiry,
  // at the capped retry interval).
  void Retry(Instance& instance, const Status& why, TimePoint now);
  // A renew-now command: renew within `window` from now, whatever the plan. False (nothing
  // done) for an instance that does not renew (refused, stopped: it waits for a deploy).
  bool RenewSoon(Instance& instance, Seconds window, TimePoint now);

  // The instances to renew in one call at `now`: none unless one is due; then every renewable
  // one due within batch_interval. Only what runs, or ran until its certificate expired, renews.
  std::vector<std::string> Due(const Instances& instances, TimePoint now) const;

  // A running instance whose Cert_site has expired by `now` must stop (fail closed).
  static bool MustExpire(const Instance& instance, TimePoint now);
  // Marks it expired (the process is stopped by the caller) and renews it at once.
  static void MarkExpired(Instance& instance, TimePoint now);

  // Called for each Cert_site the slsm issued, in the slsm's order, with the key it was issued
  // for and the time the call returned: the caller verifies and keeps both, or calls Retry.
  using Install = std::function<void(Instance&, pki::Certificate, pki::PrivateKey,
                                     const RenewalOutcome&, TimePoint now)>;
  // Renews `services` (from Due) in one call, each for a fresh key (a renewal rotates the key
  // too: a key lives no longer than its certificate); what failed is planned again here.
  void Renew(Instances& instances, const std::vector<std::string>& services,
             const Install& install);

  // After a reconnect at `now`: what expired or is overdue renews first, most urgent first,
  // spread out (PlanReconnect, rule "due").
  void PlanReconnect(Instances& instances, TimePoint now);

  // --- the node certificate ---

  // Plans the first renewal of the node certificate.
  void StartNodeCertificate(const pki::Certificate& certificate);
  // When the node certificate renews next.
  std::optional<TimePoint> node_renewal() const { return node_renewal_; }
  // Renews node.identity.certificate if its renewal is due at `now`: a certificate for the node
  // key, signed by the site root, saved in dir and presented to the slsm from now on. True if it
  // was replaced; a failure is logged and retried with backoff (after expiry, every retry_max).
  bool RenewNodeCertificateIfDue(NodeFiles& node, TimePoint now);

 private:
  const std::string dir_;
  SiteClient& site_;
  const Clock& clock_;
  Random& rng_;
  const RenewerOptions options_;
  const RenewalPolicy policy_;
  std::optional<TimePoint> node_renewal_;
  int node_failures_ = 0;
};

}  // namespace sitechain::nlsm
