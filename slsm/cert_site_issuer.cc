#include "slsm/cert_site_issuer.h"

#include <cmath>
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
      instances_(db),
      catalog_(db),
      log_(db) {}

Result<RenewalResult> CertSiteIssuer::IssueOne(const NodeRecord& node,
                                               const RenewalRequest& request,
                                               std::vector<IssuedRecord>& issued) {
  RenewalResult out;
  out.service = request.service;
  auto refuse = [&](Status s) -> Result<RenewalResult> {
    out.status = std::move(s);
    return out;
  };
  auto instance = instances_.FindInstance(request.service, node.name);
  if (instance.status().code() == StatusCode::kNotFound) {
    return refuse(PermissionDenied("service '" + request.service + "' is not deployed to node '" +
                                   node.name + "'"));
  }
  SITECHAIN_RETURN_IF_ERROR(instance.status());
  SITECHAIN_ASSIGN_OR_RETURN(CurrentRelease current, catalog_.FindCurrent(request.service));
  const ReleaseRecord& release = current.release;
  if (release.revoked) {
    return refuse(FailedPrecondition(request.service + " " + release.version +
                                     " was revoked at the store: " + release.revocation_reason));
  }
  SITECHAIN_ASSIGN_OR_RETURN(const TimePoint feed_confirmed_at, catalog_.FeedConfirmedAt());
  if (Status s = CheckConfirmedUnrevoked(release, feed_confirmed_at, clock_.Now(),
                                         options_.revocation_staleness_limit);
      !s.ok()) {
    return refuse(s);
  }
  auto csr = pki::CertificateRequest::FromDer(request.csr_der);
  if (!csr.ok()) return refuse(csr.status());
  if (Status s = pki::CheckRequest(*csr, "service instance"); !s.ok()) return refuse(s);
  // The time of this issuance, read when its token is taken: calls run side by side and a call
  // of many entries takes seconds, so a time read at the start of the call would be stale by
  // then (the log would show more issuances in a second than the bucket let through).
  const TimePoint now = clock_.Now();
  if (std::optional<Seconds> wait = limiter_.TryTake(now)) {
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
  std::vector<RenewalResult> out;
  out.reserve(requests.size());
  std::vector<IssuedRecord> issued;
  for (const auto& r : requests) {
    SITECHAIN_ASSIGN_OR_RETURN(auto result, IssueOne(node, r, issued));
    out.push_back(std::move(result));
  }
  // One commit for the whole call: a commit (and its fsync) per certificate capped the site at
  // ~1 / fsync-time certificates per second. Nothing is handed out unless logged.
  SITECHAIN_RETURN_IF_ERROR(log_.LogIssuedAll(issued));
  return out;
}

}  // namespace sitechain::slsm
