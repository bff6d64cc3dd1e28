#include "slsm/cert_site_issuer.h"

#include <cmath>
#include <set>
#include <sstream>

#include "pki/csr.h"
#include "pki/extensions.h"
#include "slsm/revocation_staleness.h"

namespace sitechain::slsm {
namespace {

Seconds Scaled(Seconds s, double fraction) {
  return Seconds(static_cast<int64_t>(std::llround(static_cast<double>(s.count()) * fraction)));
}

// 100 -> "100", 2.5 -> "2.5".
std::string FormatRate(double rate) {
  std::ostringstream out;
  out << rate;
  return out.str();
}

}  // namespace

CertSiteIssuer::CertSiteIssuer(const slca::SiteCa& ca, SiteDatabase& db, const Clock& clock,
                               Random& rng, const SiteOptions& options)
    : ca_(ca),
      clock_(clock),
      rng_(rng),
      options_(options),
      limiter_(options.max_issuance_per_second, options.issuance_burst, clock.Now()),
      node_limiter_(options),
      instances_(db),
      catalog_(db),
      log_(db) {}

Result<RenewalResult> CertSiteIssuer::IssueOne(const NodeRecord& node,
                                               const std::set<std::string>& deployed,
                                               TimePoint feed_confirmed_at,
                                               const RenewalRequest& request,
                                               std::vector<IssuedRecord>& issued) {
  RenewalResult out;
  out.service = request.service;
  auto refuse = [&](Status s) -> Result<RenewalResult> {
    out.status = std::move(s);
    return out;
  };
  // Before anything that costs: an entry the node may not have takes no token and no signature
  // work (not even the CSR's).
  if (!deployed.contains(request.service)) {
    return refuse(PermissionDenied("service '" + request.service + "' is not deployed to node '" +
                                   node.name + "'"));
  }
  SITECHAIN_ASSIGN_OR_RETURN(CurrentRelease current, catalog_.FindCurrent(request.service));
  const ReleaseRecord& release = current.release;
  if (release.revoked) {
    return refuse(FailedPrecondition(request.service + " " + release.version +
                                     " was revoked at the store: " + release.revocation_reason));
  }
  if (Status s = CheckConfirmedUnrevoked(release, feed_confirmed_at, clock_.Now(),
                                         options_.revocation_staleness_limit);
      !s.ok()) {
    return refuse(s);
  }
  // The time of this issuance, read when its tokens are taken: calls run side by side and a call
  // of many entries takes seconds, so a time read at the start of the call would be stale by
  // then (the log would show more issuances in a second than the bucket let through).
  const TimePoint now = clock_.Now();
  // The node's own share first, before the CSR's signature is checked: a node over its share
  // costs the site no signature work and never reaches the site's bucket (so it cannot drain it).
  if (std::optional<Seconds> wait = node_limiter_.TryTake(node.name, deployed.size(), now)) {
    const NodeShare share = NodeIssuanceShare(options_, deployed.size());
    out.renew_after = now + *wait;
    out.renew_before = now + *wait + options_.policy_push_window;
    return refuse(ResourceExhausted(
        "node '" + node.name + "' asked for more certificates than its share: with " +
        std::to_string(deployed.size()) + " instances deployed it may take " +
        FormatRate(share.burst) + " at once and " + FormatRate(share.rate) +
        " per second; retry after the suggested time"));
  }
  auto csr = pki::CertificateRequest::FromDer(request.csr_der);
  if (!csr.ok()) return refuse(csr.status());
  if (Status s = pki::CheckRequest(*csr, "service instance"); !s.ok()) return refuse(s);
  if (std::optional<Seconds> wait = limiter_.TryTake(now)) {
    node_limiter_.GiveBack(node.name, deployed.size());  // the node got nothing for it
    out.renew_after = now + *wait;
    out.renew_before = now + *wait + options_.policy_push_window;
    return refuse(ResourceExhausted("the site issues at most " +
                                    FormatRate(options_.max_issuance_per_second) +
                                    " certificates per second; retry after the suggested time"));
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_store, pki::Certificate::FromPem(release.cert_store_pem));
  pki::SiteBinding binding{node.name, request.service, csr->PublicKeyDer(),
                           current.service.policy_json};
  // No lock is held here: signatures for different nodes run side by side.
  auto cert = ca_.IssueCertSite(cert_store, binding, options_.cert_site_lifetime, {clock_, rng_});
  if (!cert.ok()) return refuse(cert.status());
  issued.push_back({cert->SerialHex(), "site", cert->Subject().ToString(), node.name,
                    request.service, cert->NotAfter(), now});
  const Seconds lifetime = options_.cert_site_lifetime;
  out.renew_after = now + Scaled(lifetime, options_.renew_window_start);
  out.renew_before = now + Scaled(lifetime, options_.renew_window_end);
  out.certificate = std::move(*cert);
  return out;
}

Result<std::vector<RenewalResult>> CertSiteIssuer::Renew(
    const NodeRecord& node, const std::vector<RenewalRequest>& requests) {
  if (requests.empty()) return InvalidArgument("a renewal names at least one instance");
  if (requests.size() > options_.max_renewals_per_call) {
    return InvalidArgument("at most " + std::to_string(options_.max_renewals_per_call) +
                           " instances renew in one call");
  }
  // A node runs one instance of a service: a call naming a service twice is not a node's own
  // renewal, and is refused whole, before any work (nlsm never sends one).
  std::set<std::string> named;
  for (const auto& r : requests) {
    if (!named.insert(r.service).second) {
      return InvalidArgument("the renewal names service '" + r.service +
                             "' more than once; name each instance once per call");
    }
  }
  // What is deployed to the node, read once: it decides each entry and the node's share.
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, instances_.ListInstances("", node.name));
  std::set<std::string> deployed;
  for (const auto& i : instances) deployed.insert(i.service);
  SITECHAIN_ASSIGN_OR_RETURN(const TimePoint feed_confirmed_at, catalog_.FeedConfirmedAt());
  std::vector<RenewalResult> out;
  out.reserve(requests.size());
  std::vector<IssuedRecord> issued;
  for (const auto& r : requests) {
    SITECHAIN_ASSIGN_OR_RETURN(auto result, IssueOne(node, deployed, feed_confirmed_at, r, issued));
    out.push_back(std::move(result));
  }
  // One commit for the whole call: a commit (and its fsync) per certificate capped the site at
  // ~1 / fsync-time certificates per second. Nothing is handed out unless logged.
  SITECHAIN_RETURN_IF_ERROR(log_.LogIssuedAll(issued));
  return out;
}

}  // namespace sitechain::slsm
