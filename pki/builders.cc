#include "pki/builders.h"

#include <arpa/inet.h>

#include <algorithm>

#include "pki/issuer.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "pki/verifier.h"

namespace sitechain::pki {
namespace {

// Completes `spec` with its validity, signs it and checks the result with the verifier every
// other party uses. notBefore = now - backdate; notAfter = now + lifetime, capped at the
// issuer's notAfter and at `cap`. issuer.certificate == nullptr: a self-signed root.
Result<Certificate> Sign(CertificateSpec spec, CertRole role, const Issuer& issuer,
                         Seconds lifetime, const BuildContext& ctx,
                         TimePoint cap = TimePoint::max()) {
  if (lifetime <= Seconds(0)) return InvalidArgument("certificate lifetime must be positive");
  const TimePoint now = std::chrono::time_point_cast<Seconds>(ctx.clock.Now());
  spec.not_before = now - kNotBeforeBackdate;
  spec.not_after = std::min(now + lifetime, cap);
  if (const Certificate* parent = issuer.certificate) {
    if (parent->NotAfter() <= now) {
      return FailedPrecondition("the issuing certificate '" + parent->Subject().common_name +
                                "' expired at its notAfter; renew it first");
    }
    spec.not_after = std::min(spec.not_after, parent->NotAfter());
  }
  SITECHAIN_ASSIGN_OR_RETURN(Certificate cert, IssueCertificate(spec, issuer, ctx.rng));
  const Certificate& parent = issuer.certificate ? *issuer.certificate : cert;
  Verification v = Verifier(ctx.clock).VerifyIssuedBy(cert, role, parent);
  if (!v.ok()) {
    return Internal("refusing to hand out a certificate that fails verification: " +
                    v.failure->ToString());
  }
  return cert;
}

Result<Certificate> BuildRoot(const PrivateKey& key, DistinguishedName subject, CertRole role,
                              Seconds lifetime, const BuildContext& ctx) {
  CertificateSpec spec;
  spec.subject = std::move(subject);
  spec.subject_public_key = key.PublicKeyDer();
  spec.is_ca = true;
  spec.key_usage = kKeyCertSign | kCrlSign;
  return Sign(std::move(spec), role, Issuer{nullptr, key}, lifetime, ctx);
}

// The protected extensions of a Cert_dev or Cert_store, to copy byte for byte. INVALID_ARGUMENT
// if the certificate lacks executableHash or serviceRelease: it is not of the role `expected`.
Result<std::vector<RawExtension>> ProtectedExtensionsOf(const Certificate& cert,
                                                        std::string_view expected) {
  if (!cert.FindExtension(ExecutableHashOid()) || !cert.FindExtension(ServiceReleaseOid())) {
    return InvalidArgument("the certificate given as " + std::string(expected) + " (" +
                           cert.Subject().common_name +
                           ") lacks executableHash or serviceRelease; it is not one");
  }
  std::vector<RawExtension> out;
  for (const auto& oid : ProtectedExtensionOids()) {
    if (auto ext = cert.FindExtension(oid)) out.push_back(*ext);
  }
  return out;
}

}  // namespace

Result<Certificate> BuildStoreRoot(const PrivateKey& store_key, const std::string& store_name,
                                   Seconds lifetime, const BuildContext& ctx) {
  if (store_name.empty() || store_name.size() > 64) {
    return InvalidArgument("store name must be 1 to 64 bytes");
  }
  return BuildRoot(store_key, {store_name, "sitechain store CA", ""}, CertRole::kStoreRoot,
                   lifetime, ctx);
}

Result<Certificate> BuildSiteRoot(const PrivateKey& site_key, const std::string& site,
                                  Seconds lifetime, const BuildContext& ctx) {
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("site name", site));
  return BuildRoot(site_key, {site, kSiteRootUnit, ""}, CertRole::kSiteRoot, lifetime, ctx);
}

Result<Certificate> BuildDeveloperIdentity(const CertificateRequest& csr,
                                           const Certificate& store_root,
                                           const PrivateKey& store_key, Seconds lifetime,
                                           const BuildContext& ctx) {
  SITECHAIN_RETURN_IF_ERROR(CheckRequest(csr, "developer"));
  const std::string cn = csr.CommonName();
  CertificateSpec spec;
  spec.subject = {cn, "sitechain developer", ""};
  spec.subject_public_key = csr.PublicKeyDer();
  spec.is_ca = true;
  spec.path_limit = 0;
  spec.key_usage = kKeyCertSign | kDigitalSignature;
  return Sign(std::move(spec), CertRole::kDeveloperIdentity, Issuer{&store_root, store_key},
              lifetime, ctx);
}

Result<Certificate> BuildCertDev(const ReleaseSpec& release, const Certificate& developer_identity,
                                 const PrivateKey& developer_key, Seconds lifetime,
                                 const BuildContext& ctx) {
  if (developer_identity.PublicKeyDer() != developer_key.PublicKeyDer()) {
    return InvalidArgument("the key is not the one the developer certificate was issued for");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto release_der, EncodeServiceRelease(release.release));
  CertificateSpec spec;
  spec.subject = {release.release.name, release.release.version,
                  developer_identity.Subject().common_name};
  spec.subject_public_key = developer_key.PublicKeyDer();
  spec.key_usage = kDigitalSignature;
  spec.extra_extensions.push_back(
      {ExecutableHashOid(), false, EncodeHashExtension(release.executable)});
  spec.extra_extensions.push_back({ServiceReleaseOid(), false, release_der});
  if (release.metadata) {
    spec.extra_extensions.push_back(
        {MetadataHashOid(), false, EncodeHashExtension(*release.metadata)});
  }
  return Sign(std::move(spec), CertRole::kCertDev, Issuer{&developer_identity, developer_key},
              lifetime, ctx);
}

Result<Certificate> BuildCertStore(const Certificate& cert_dev, const Certificate& store_root,
                                   const PrivateKey& store_key, Seconds lifetime,
                                   const BuildContext& ctx) {
  CertificateSpec spec;
  spec.subject = cert_dev.Subject();
  spec.subject_der = cert_dev.SubjectDnDer();
  spec.subject_public_key = cert_dev.PublicKeyDer();
  spec.key_usage = kDigitalSignature;
  SITECHAIN_ASSIGN_OR_RETURN(spec.extra_extensions, ProtectedExtensionsOf(cert_dev, "Cert_dev"));
  return Sign(std::move(spec), CertRole::kCertStore, Issuer{&store_root, store_key}, lifetime, ctx,
              cert_dev.NotAfter());
}

Result<Certificate> BuildNodeCertificate(const std::vector<uint8_t>& node_public_key,
                                         const std::string& node, const Certificate& site_root,
                                         const PrivateKey& site_key, Seconds lifetime,
                                         const BuildContext& ctx) {
  const std::string site = site_root.Subject().common_name;
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("node name", node));
  CertificateSpec spec;
  spec.subject = {node, "", site};
  spec.subject_public_key = node_public_key;
  spec.key_usage = kDigitalSignature;
  spec.ext_key_usage = kServerAuth | kClientAuth;
  spec.uri_sans = {NodeSpiffeId(site, node)};
  return Sign(std::move(spec), CertRole::kNode, Issuer{&site_root, site_key}, lifetime, ctx);
}

Result<Certificate> BuildCertSite(const Certificate& cert_store, const SiteBinding& binding,
                                  const Certificate& site_root, const PrivateKey& site_key,
                                  Seconds lifetime, const BuildContext& ctx) {
  const std::string site = site_root.Subject().common_name;
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("node name", binding.node));
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("service name", binding.service));
  SITECHAIN_ASSIGN_OR_RETURN(auto policy_der, EncodeSitePolicy(binding.site_policy_json));
  CertificateSpec spec;
  spec.subject = {binding.service, binding.node, site};
  spec.subject_public_key = binding.instance_public_key;
  spec.key_usage = kDigitalSignature;
  spec.ext_key_usage = kServerAuth | kClientAuth;
  spec.uri_sans = {ServiceSpiffeId(site, binding.node, binding.service)};
  SITECHAIN_ASSIGN_OR_RETURN(spec.extra_extensions,
                             ProtectedExtensionsOf(cert_store, "Cert_store"));
  spec.extra_extensions.push_back({SitePolicyOid(), false, policy_der});
  return Sign(std::move(spec), CertRole::kCertSite, Issuer{&site_root, site_key}, lifetime, ctx);
}

Result<Certificate> BuildTlsServerCertificate(const std::vector<uint8_t>& public_key,
                                              const TlsServerNames& names, const Certificate& root,
                                              const PrivateKey& root_key, Seconds lifetime,
                                              const BuildContext& ctx) {
  if (names.dns.empty() && names.ips.empty()) {
    return InvalidArgument("a TLS server certificate needs at least one DNS name or IP address");
  }
  for (const auto& dns : names.dns) SITECHAIN_RETURN_IF_ERROR(ValidateDnsName(dns));
  for (const auto& ip : names.ips) SITECHAIN_RETURN_IF_ERROR(ValidateIpAddress(ip));
  const std::string& cn = names.dns.empty() ? names.ips.front() : names.dns.front();
  if (cn.size() > 64) {
    return InvalidArgument(
        "the first DNS name becomes the subject CN and must be at most 64 bytes");
  }
  if (!root.IsCa() || !root.IsSelfSigned()) {
    return InvalidArgument("'" + root.Subject().ToString() +
                           "' is not a self-signed CA certificate (a service root)");
  }
  CertificateSpec spec;
  spec.subject = {cn, "sitechain TLS server", root.Subject().common_name};
  spec.subject_public_key = public_key;
  spec.key_usage = kDigitalSignature;
  spec.ext_key_usage = kServerAuth;
  spec.dns_sans = names.dns;
  spec.ip_sans = names.ips;
  return Sign(std::move(spec), CertRole::kTlsServer, Issuer{&root, root_key}, lifetime, ctx);
}

Result<TlsServerIdentity> BuildTlsServerIdentity(const TlsServerNames& names,
                                                 const Certificate& root,
                                                 const PrivateKey& root_key, Seconds lifetime,
                                                 const BuildContext& ctx) {
  PrivateKey key = PrivateKey::Generate(KeyType::kEd25519, ctx.rng);
  SITECHAIN_ASSIGN_OR_RETURN(
      Certificate cert,
      BuildTlsServerCertificate(key.PublicKeyDer(), names, root, root_key, lifetime, ctx));
  return TlsServerIdentity{std::move(cert), std::move(key)};
}

TlsServerNames SplitTlsNames(const std::vector<std::string>& names) {
  TlsServerNames out;
  for (const auto& n : names) {
    in_addr v4{};
    in6_addr v6{};
    const bool ip =
        ::inet_pton(AF_INET, n.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, n.c_str(), &v6) == 1;
    (ip ? out.ips : out.dns).push_back(n);
  }
  return out;
}

}  // namespace sitechain::pki
