#pragma once
// The Cert_site issuer: renews the certificates of a node's service instances. For each entry
// of a Renew call it checks that the service is deployed to the node and its release is not
// revoked, checks the CSR, takes a token of the site's rate limit (rate_limiter.h), signs with
// the site CA (binding node, service, instance key and the service's policy) and suggests the
// renewal window; the whole call's issuances are logged in one transaction (issued_log.h) before
// any certificate is handed out.
//
// Thread-safe, without a lock of its own: it reads the database under the database's lock, takes
// the rate limiters' small locks for one token, and signs holding no lock at all (the site CA's
// issuing methods and the random source are thread-safe), so issuances for different nodes run
// in parallel.
// Errors: see Renew; every refusal is a Status whose message says what was wrong.

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "slca/site_ca.h"
#include "slsm/catalog_db.h"
#include "slsm/deployment_db.h"
#include "slsm/issued_log.h"
#include "slsm/node_issuance_limiter.h"
#include "slsm/rate_limiter.h"
#include "slsm/records.h"
#include "slsm/site_db.h"
#include "slsm/site_options.h"

namespace sitechain::slsm {

// One entry of a Renew call and its outcome.
struct RenewalRequest {
  std::string service;
  std::vector<uint8_t> csr_der;
};
struct RenewalResult {
  std::string service;
  Status status;  // OK: certificate is set
  std::optional<pki::Certificate> certificate;
  TimePoint renew_after, renew_before;  // suggested window
};

class CertSiteIssuer final {
 public:
  // The rate limiter starts full (options.issuance_burst tokens). Keeps references to
  // everything; they must outlive it.
  CertSiteIssuer(const slca::SiteCa& ca, SiteDatabase& db, const Clock& clock, Random& rng,
                 const SiteOptions& options);
  CertSiteIssuer(const CertSiteIssuer&) = delete;
  CertSiteIssuer& operator=(const CertSiteIssuer&) = delete;

  // Cert_site for each entry, each with its own status: PERMISSION_DENIED for a service not
  // deployed to the node (it takes no token and costs no signature work), FAILED_PRECONDITION
  // for a revoked release, RESOURCE_EXHAUSTED when the node is over its share or the site's rate
  // limit is reached (renew_after says when to come back). INVALID_ARGUMENT for the whole call
  // when it has no entries, too many, or names a service twice (before any other work); a
  // storage error fails the whole call (nothing is handed out unless logged).
  Result<std::vector<RenewalResult>> Renew(const NodeRecord& node,
                                           const std::vector<RenewalRequest>& requests);

 private:
  // Issues (or refuses) one entry at the clock's time when it takes its token; what it issued
  // is appended to `issued`, for the caller to log in one transaction.
  // `deployed`: the node's services; feed_confirmed_at: when the store's revocation feed was
  // last read to its end (revocation_staleness.h). Both read once per call.
  Result<RenewalResult> IssueOne(const NodeRecord& node, const std::set<std::string>& deployed,
                                 TimePoint feed_confirmed_at, const RenewalRequest& request,
                                 std::vector<IssuedRecord>& issued);

  const slca::SiteCa& ca_;  // thread-safe issuing (const methods)
  const Clock& clock_;
  Random& rng_;  // thread-safe
  const SiteOptions& options_;
  RateLimiter limiter_;               // thread-safe (its own lock): the site's rate
  NodeIssuanceLimiter node_limiter_;  // thread-safe (its own lock): each node's share
  DeploymentDb instances_;            // thread-safe (the database's lock); reads only
  CatalogDb catalog_;                 // thread-safe (the database's lock); reads only
  IssuedLog log_;                     // thread-safe (the database's lock)
};

}  // namespace sitechain::slsm
