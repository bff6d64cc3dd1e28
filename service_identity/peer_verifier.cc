#include "service_identity/peer_verifier.h"

#include <utility>

#include "pki/builders.h"
#include "pki/profile.h"

namespace sitechain::service_identity {
namespace {

constexpr std::string_view kScheme = "spiffe://";

// The certificates of a PEM text, in order.
Result<std::vector<pki::Certificate>> CertificatesOf(std::string_view pem) {
  std::vector<pki::Certificate> out;
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  size_t pos = 0;
  while (true) {
    const size_t begin = pem.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string_view::npos) return out;
    const size_t end = pem.find(kEnd, begin);
    if (end == std::string_view::npos) return InvalidArgument("a certificate has no end line");
    SITECHAIN_ASSIGN_OR_RETURN(
        auto cert, pki::Certificate::FromPem(pem.substr(begin, end + kEnd.size() - begin)));
    out.push_back(std::move(cert));
    pos = end + kEnd.size();
  }
}

std::string TrustDomainOf(std::string_view spiffe_id) {
  if (!spiffe_id.starts_with(kScheme)) return "";
  spiffe_id.remove_prefix(kScheme.size());
  return std::string(spiffe_id.substr(0, spiffe_id.find('/')));
}

// A valid self-signed site root (not a store root: the profile of both roots is the same but
// for the OU that names the kind).
Status CheckSiteRoot(const pki::Verifier& verifier, const pki::Certificate& root) {
  if (auto v = verifier.VerifyIssuedBy(root, pki::CertRole::kSiteRoot, root); !v.ok()) {
    return InvalidArgument("is not a valid site root: " + v.failure->ToString());
  }
  if (root.Subject().organizational_unit != pki::kSiteRootUnit) {
    return InvalidArgument("is not a site root (OU is \"" + root.Subject().organizational_unit +
                           "\", not \"" + pki::kSiteRootUnit + "\")");
  }
  return Status::Ok();
}

}  // namespace

Result<TrustRoots> TrustRoots::FromPem(std::string_view bundle_pem, std::string_view federation_pem,
                                       const Clock& clock) {
  const pki::Verifier verifier(clock);
  SITECHAIN_ASSIGN_OR_RETURN(auto bundle, CertificatesOf(bundle_pem));
  if (bundle.size() != 1) {
    return InvalidArgument("the trust bundle holds " + std::to_string(bundle.size()) +
                           " certificates; expected exactly the site root");
  }
  if (Status s = CheckSiteRoot(verifier, bundle[0]); !s.ok()) {
    return InvalidArgument("the trust bundle's certificate " + s.message());
  }
  TrustRoots out;
  out.local_trust_domain = bundle[0].Subject().common_name;
  out.roots.push_back(std::move(bundle[0]));
  SITECHAIN_ASSIGN_OR_RETURN(auto federated, CertificatesOf(federation_pem));
  for (auto& root : federated) {
    const std::string domain = root.Subject().common_name;
    if (Status s = CheckSiteRoot(verifier, root); !s.ok()) {
      out.ignored.push_back("federated root " + root.Subject().ToString() + " " + s.message());
      continue;
    }
    bool taken = false;
    for (const auto& r : out.roots) taken = taken || r.Subject().common_name == domain;
    if (taken) {
      out.ignored.push_back("federated root for " + domain +
                            ": that trust domain already has a root");
      continue;
    }
    out.roots.push_back(std::move(root));
  }
  return out;
}

std::string PeerCheck::ToString() const {
  if (ok()) return "accepted " + spiffe_id;
  return "refused " + (spiffe_id.empty() ? std::string("a peer") : spiffe_id) + ": " + code + ": " +
         detail;
}

PeerVerifier::PeerVerifier(TrustRoots roots, PeerPolicy peers, const Clock& clock)
    : peers_(std::move(peers)),
      verifier_(clock),
      roots_(std::make_shared<const TrustRoots>(std::move(roots))) {}

void PeerVerifier::SetRoots(TrustRoots roots) {
  auto next = std::make_shared<const TrustRoots>(std::move(roots));
  std::lock_guard lock(mu_);
  roots_ = std::move(next);
}

std::shared_ptr<const TrustRoots> PeerVerifier::Roots() const {
  std::lock_guard lock(mu_);
  return roots_;
}

std::string PeerVerifier::local_trust_domain() const { return Roots()->local_trust_domain; }

PeerCheck PeerVerifier::CheckPem(std::string_view peer_pem) const {
  auto certs = CertificatesOf(peer_pem);
  if (!certs.ok() || certs->empty()) {
    return {"", "MALFORMED", certs.ok() ? "no certificate" : certs.status().message()};
  }
  return Check(certs->front());
}

PeerCheck PeerVerifier::Check(const pki::Certificate& peer) const {
  PeerCheck out;
  std::vector<std::string> ids;
  for (const auto& uri : peer.UriSans()) {
    if (uri.starts_with(kScheme)) ids.push_back(uri);
  }
  if (ids.size() != 1) {
    out.code = "NO_SPIFFE_ID";
    out.detail = "the certificate of " + peer.Subject().ToString() + " names " +
                 std::to_string(ids.size()) + " SPIFFE IDs; a service identity names one";
    return out;
  }
  out.spiffe_id = ids[0];
  const std::string domain = TrustDomainOf(out.spiffe_id);
  const auto roots = Roots();
  const pki::Certificate* root = nullptr;
  for (const auto& r : roots->roots) {
    if (r.Subject().common_name == domain) root = &r;
  }
  if (root == nullptr) {
    out.code = "UNKNOWN_TRUST_DOMAIN";
    out.detail =
        "no root of the trust bundle or the federation vouches for trust domain \"" + domain + "\"";
    return out;
  }
  if (auto v = verifier_.VerifyIssuedBy(peer, pki::CertRole::kCertSite, *root); !v.ok()) {
    out.code = std::string(pki::ReasonName(v.failure->reason));
    out.detail = "not a valid Cert_site of trust domain \"" + domain + "\": " + v.failure->detail;
    return out;
  }
  if (!peers_.Allows(out.spiffe_id)) {
    out.code = "PEER_NOT_ALLOWED";
    out.detail = "the sitePolicy's \"peers\" do not allow it";
    return out;
  }
  return out;
}

}  // namespace sitechain::service_identity
