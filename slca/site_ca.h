#pragma once
// slca: a site's certificate authority, a library inside the slsm process. Its root is the
// trust anchor of every node of the site. State directory (pki/ca_files.h): <dir>/root.pem,
// <dir>/root.key (mode 0600, optionally passphrase-encrypted).
//
// It issues node certificates (enrollment and renewal), Cert_site for service instances, and the
// slsm's own TLS server certificate. Every builder checks what it signed with the shared
// verifier. Who may have a certificate is the slsm's decision, not the CA's.
// Thread-safe: the issuing methods are const and keep no state between calls (each signature
// makes its own Botan signer over the immutable key), so the slsm issues for several nodes at
// once; the injected Clock and Random are thread-safe too.

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"

namespace sitechain::slca {

class SiteCa final {
 public:
  struct InitOptions {
    std::string dir;
    std::string site;  // the site's name: the root's CN and the SPIFFE trust domain
    std::string key_type = "ed25519";
    Seconds lifetime{10 * 365 * 86400};
    std::optional<std::string> passphrase;  // encrypts root.key
  };

  // Creates the CA. ALREADY_EXISTS if dir holds one; INVALID_ARGUMENT for a site name that is
  // not an identifier ([a-z0-9][a-z0-9._-], at most 63 bytes).
  static Result<SiteCa> Init(const InitOptions& opts, const Clock& clock, Random& rng);
  // FAILED_PRECONDITION if dir holds no CA ("run slsm init").
  static Result<SiteCa> Open(const std::string& dir, const std::optional<std::string>& passphrase);

  const pki::Certificate& root() const { return root_; }
  std::string site() const { return root_.Subject().common_name; }
  // SHA-256 of the root (DER), lower-case hex: what a join token carries so that a node can
  // authenticate the slsm on first contact.
  std::string RootFingerprint() const { return root_.Sha256Fingerprint(); }

  // A node certificate for an enrolling node's CSR (pki::CheckRequest's rules; its CN must be
  // `node`, INVALID_ARGUMENT otherwise): CN=<node>, O=<site>, URI spiffe://<site>/node/<node>.
  Result<pki::Certificate> IssueNode(const pki::CertificateRequest& csr, const std::string& node,
                                     Seconds lifetime, const pki::BuildContext& ctx) const;
  // A fresh node certificate for the same key and node as `current`, which must be this CA's
  // node certificate (INVALID_ARGUMENT otherwise). Expiry is the caller's decision.
  Result<pki::Certificate> RenewNode(const pki::Certificate& current, Seconds lifetime,
                                     const pki::BuildContext& ctx) const;
  // Cert_site for a service instance (pki::BuildCertSite).
  Result<pki::Certificate> IssueCertSite(const pki::Certificate& cert_store,
                                         const pki::SiteBinding& binding, Seconds lifetime,
                                         const pki::BuildContext& ctx) const;
  // The slsm's own TLS server identity (fresh key).
  Result<pki::TlsServerIdentity> IssueTlsServer(const pki::TlsServerNames& names, Seconds lifetime,
                                                const pki::BuildContext& ctx) const;

 private:
  SiteCa(pki::Certificate root, pki::PrivateKey key)
      : root_(std::move(root)), key_(std::move(key)) {}

  pki::Certificate root_;
  pki::PrivateKey key_;
};

}  // namespace sitechain::slca
