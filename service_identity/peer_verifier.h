#pragma once
// Decides whether a TLS peer's certificate is a service identity this service accepts, and why
// not: the check behind every handshake of the service-identity helper (credentials.h), usable
// on its own by services with another TLS stack.
//
// A peer is accepted when, in this order:
//   1. its certificate parses and names exactly one SPIFFE ID (URI SAN);  NO_SPIFFE_ID
//   2. a root vouches for that ID's trust domain: this site's root (the trust bundle) for this
//      site, a federated site's root only for its own trust domain;       UNKNOWN_TRUST_DOMAIN
//   3. it is a valid Cert_site issued by that root at the time of the check (the verifier of
//      pki/verifier.h: signature, validity, the Cert_site profile, subject = SAN); a coded
//      reason of pki::Reason: ISSUER_MISMATCH, BAD_SIGNATURE, EXPIRED, SUBJECT_MISMATCH, ...
//   4. the peer policy allows the ID.                                     PEER_NOT_ALLOWED
//
// Never the store root: every developer identity is a CA under it (docs/cert-profile.md, "The
// trust bundle"). Thread-safe: Check may run on many handshake threads at once; the roots are
// swapped under a lock when the trust files change (Reload).

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/verifier.h"
#include "service_identity/peer_policy.h"

namespace sitechain::service_identity {

// The roots a service trusts, each for one trust domain (its site root's CN).
struct TrustRoots {
  std::string local_trust_domain;       // this site
  std::vector<pki::Certificate> roots;  // the site root first, then federated ones
  std::vector<std::string> ignored;     // why a federated root was left out

  // bundle_pem: this site's root (exactly one certificate). federation_pem: federated site roots
  // (may be empty); one that is not a self-signed site root, or claims this site's trust domain
  // or another root's, is left out and named in `ignored`. INVALID_ARGUMENT for a bundle that
  // does not hold exactly one valid site root.
  static Result<TrustRoots> FromPem(std::string_view bundle_pem, std::string_view federation_pem,
                                    const Clock& clock);
};

struct PeerCheck {
  std::string spiffe_id;  // empty if the certificate named none
  std::string code;       // empty when accepted; else NO_SPIFFE_ID, UNKNOWN_TRUST_DOMAIN, a
                          // pki::ReasonName, PEER_NOT_ALLOWED
  std::string detail;     // a sentence for the log
  bool ok() const { return code.empty(); }
  // "accepted spiffe://..." or "refused <id or subject>: <CODE>: <detail>"
  std::string ToString() const;
};

class PeerVerifier final {
 public:
  PeerVerifier(TrustRoots roots, PeerPolicy peers, const Clock& clock);

  PeerCheck Check(const pki::Certificate& peer) const;
  PeerCheck CheckPem(std::string_view peer_pem) const;

  void SetRoots(TrustRoots roots);
  std::string local_trust_domain() const;

 private:
  std::shared_ptr<const TrustRoots> Roots() const;

  const PeerPolicy peers_;
  const pki::Verifier verifier_;
  mutable std::mutex mu_;
  std::shared_ptr<const TrustRoots> roots_;  // guarded by mu_
};

}  // namespace sitechain::service_identity
