#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/key.h"

namespace sitechain::pki {

// Builders for every row of the certificate profile. Each one builds its extension set from the
// role's allow-list (never copying a request's extensions), sets notBefore to now minus
// kNotBeforeBackdate (tolerates small clock differences), caps notAfter at the issuer's
// notAfter, signs, and then checks what it signed with the shared verifier (as SPIRE's CA does):
// a builder never returns a certificate its own verifier would refuse.
//
// All take the time from `clock` and randomness from `rng`. Errors: INVALID_ARGUMENT for bad
// names, lifetimes or inputs of the wrong role; FAILED_PRECONDITION if the issuer has expired.

inline constexpr Seconds kNotBeforeBackdate{60};

// Default lifetimes (each builder takes its own).
inline constexpr Seconds kDefaultRootLifetime{10 * 365 * 86400};
inline constexpr Seconds kDefaultDeveloperIdentityLifetime{2 * 365 * 86400};
inline constexpr Seconds kDefaultCertDevLifetime{365 * 86400};
inline constexpr Seconds kDefaultNodeLifetime{24 * 3600};
inline constexpr Seconds kDefaultCertSiteLifetime{5000};
inline constexpr Seconds kDefaultTlsServerLifetime{90 * 86400};

struct BuildContext {
  const Clock& clock;
  Random& rng;
};

// The self-signed store root: CN=<store_name>, OU=sitechain store CA.
Result<Certificate> BuildStoreRoot(const PrivateKey& store_key, const std::string& store_name,
                                   Seconds lifetime, const BuildContext& ctx);

// A developer identity (CA:TRUE, pathLen 0) for the CSR's key, issued by the store root.
// Refuses a CSR whose signature does not verify (UNAUTHENTICATED), that asks for CA rights or
// for any extension (PERMISSION_DENIED), whose key type is unsupported or whose CN is empty or
// over 64 bytes (INVALID_ARGUMENT). Subject: CN=<csr CN>, OU=sitechain developer.
Result<Certificate> BuildDeveloperIdentity(const CertificateRequest& csr,
                                           const Certificate& store_root,
                                           const PrivateKey& store_key, Seconds lifetime,
                                           const BuildContext& ctx);

// What a developer signs: the release and the digests of its files.
struct ReleaseSpec {
  ServiceRelease release;
  Digest executable;
  std::optional<Digest> metadata;
};

// Cert_dev: signed by the developer key under the developer identity, subject key = developer
// key. Subject: CN=<name>, OU=<version>, O=<developer CN>. Refuses a key that is not the
// identity's.
Result<Certificate> BuildCertDev(const ReleaseSpec& spec, const Certificate& developer_identity,
                                 const PrivateKey& developer_key, Seconds lifetime,
                                 const BuildContext& ctx);

// Cert_store from Cert_dev: same subject and subject key, the protected extensions copied byte
// for byte, issued by the store root; notAfter capped at Cert_dev's notAfter. The caller must
// have verified Cert_dev (rule 1); this builder re-checks that what it signed passes rule 4.
Result<Certificate> BuildCertStore(const Certificate& cert_dev, const Certificate& store_root,
                                   const PrivateKey& store_key, Seconds lifetime,
                                   const BuildContext& ctx);

// The self-signed site root: CN=<site>, OU=sitechain site CA. site follows ValidateIdentifier.
inline constexpr char kSiteRootUnit[] = "sitechain site CA";
Result<Certificate> BuildSiteRoot(const PrivateKey& site_key, const std::string& site,
                                  Seconds lifetime, const BuildContext& ctx);

// A node certificate for a key made on the node: CN=<node>, O=<site>, URI SAN
// spiffe://<site>/node/<node>, TLS client+server usage.
Result<Certificate> BuildNodeCertificate(const std::vector<uint8_t>& node_public_key,
                                         const std::string& node, const Certificate& site_root,
                                         const PrivateKey& site_key, Seconds lifetime,
                                         const BuildContext& ctx);

// Where a Cert_site is bound: the service instance on one node.
struct SiteBinding {
  std::string node;
  std::string service;                       // usually the release name
  std::vector<uint8_t> instance_public_key;  // made on the node
  std::string site_policy_json = "{}";       // compact JSON object
};

// Cert_site (Cert_SLSM) from Cert_store: protected extensions copied byte for byte plus
// sitePolicy, URI SAN spiffe://<site>/node/<node>/svc/<service>, issued by the site root.
// Subject: CN=<service>, OU=<node>, O=<site>.
Result<Certificate> BuildCertSite(const Certificate& cert_store, const SiteBinding& binding,
                                  const Certificate& site_root, const PrivateKey& site_key,
                                  Seconds lifetime, const BuildContext& ctx);

// The names a TLS server certificate is valid for: DNS names and IPv4 addresses, following
// CertificateSpec::dns_sans / ip_sans (pki/issuer.h; IPv6 is refused).
struct TlsServerNames {
  std::vector<std::string> dns;
  std::vector<std::string> ips;
};

// Sorts names that clients dial into DNS names and IP addresses (IPv6 ones go to ips, and
// BuildTlsServerCertificate refuses them with a clear message).
TlsServerNames SplitTlsNames(const std::vector<std::string>& names);

// A TLS server certificate for a sitechain network service (the store, the site manager),
// issued by that service's root: CN=<first DNS name, else first IP>, OU=sitechain TLS server,
// O=<root CN>; subjectAltName with every DNS name and IP; extKeyUsage serverAuth; keyUsage
// digitalSignature (enough for TLS 1.3 and ECDHE, and for OpenSSL's sslserver purpose);
// CA:FALSE. Default lifetime kDefaultTlsServerLifetime (90 days), capped at the root's notAfter.
// INVALID_ARGUMENT for no name at all, a name that breaks the SAN rules, a first name over 64
// bytes (it becomes the CN), a root that is not a self-signed CA, a root_key that is not the
// root's, or an unsupported public key.
Result<Certificate> BuildTlsServerCertificate(const std::vector<uint8_t>& public_key,
                                              const TlsServerNames& names, const Certificate& root,
                                              const PrivateKey& root_key, Seconds lifetime,
                                              const BuildContext& ctx);

// A fresh Ed25519 key and its TLS server certificate (BuildTlsServerCertificate), for a service
// that issues itself a new TLS identity at every start; the key need never touch the disk.
struct TlsServerIdentity {
  Certificate certificate;
  PrivateKey key;
};
Result<TlsServerIdentity> BuildTlsServerIdentity(const TlsServerNames& names,
                                                 const Certificate& root,
                                                 const PrivateKey& root_key, Seconds lifetime,
                                                 const BuildContext& ctx);

}  // namespace sitechain::pki
