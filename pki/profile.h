#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pki/certificate.h"

namespace sitechain::pki {

// The certificate kinds of the profile (ARCHITECTURE.md §2, docs/cert-profile.md).
enum class CertRole {
  kStoreRoot,
  kDeveloperIdentity,
  kCertDev,
  kCertStore,
  kSiteRoot,
  kNode,
  kCertSite,
  // A network service's TLS server certificate (store, site manager), issued by its root. Not
  // part of the release chain (rules 1-8): the verifier reports its failures as rule 0.
  kTlsServer,
};

// "store-root", "developer-identity", "cert-dev", "cert-store", "site-root", "node", "cert-site",
// "tls-server".
std::string_view CertRoleName(CertRole role);

// The extensions whose value bytes must be identical in Cert_dev, Cert_store and Cert_site.
const std::vector<std::string>& ProtectedExtensionOids();

// The extension OIDs a certificate of `role` may carry; anything else makes it invalid.
const std::vector<std::string>& AllowedExtensionOids(CertRole role);

// Extension OIDs sitechain understands. A critical extension outside this set rejects a chain.
bool IsKnownExtension(const std::string& oid);

// Name rules shared by builders and verifiers. Site, node and service names become parts of a
// SPIFFE ID, so they are restricted to [a-z0-9] followed by [a-z0-9._-], at most 63 bytes.
Status ValidateIdentifier(std::string_view what, std::string_view name);

// SPIFFE IDs: spiffe://<site>/node/<node> and spiffe://<site>/node/<node>/svc/<service>.
std::string NodeSpiffeId(std::string_view site, std::string_view node);
std::string ServiceSpiffeId(std::string_view site, std::string_view node, std::string_view service);

}  // namespace sitechain::pki
