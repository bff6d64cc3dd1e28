#include "pki/builders.h"

#include <algorithm>

#include "pki/issuer.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "pki/verifier.h"

namespace sitechain::pki {
namespace {

// notBefore = now - backdate; notAfter = now + lifetime, capped at the issuer's notAfter.
Result<std::pair<TimePoint, TimePoint>> Validity(Seconds lifetime, const Certificate* issuer,
                                                 const BuildContext& ctx) {
  if (lifetime <= Seconds(0)) return InvalidArgument("certificate lifetime must be positive");
  const TimePoint now = std::chrono::time_point_cast<Seconds>(ctx.clock.Now());
  TimePoint not_after = now + lifetime;
  if (issuer != nullptr) {
    if (issuer->NotAfter() <= now) {
      return FailedPrecondition("the issuing certificate '" + issuer->Subject().common_name +
                                "' expired at its notAfter; renew it first");
    }
    not_after = std::min(not_after, issuer->NotAfter());
  }
  return std::make_pair(now - kNotBeforeBackdate, not_after);
}

// The issuer checks what it just signed with the same verifier every other party uses.
// issuer == nullptr: a self-signed root.
Result<Certificate> CheckSigned(Result<Certificate> cert, CertRole role, const Certificate* issuer,
                                const BuildContext& ctx) {
  if (!cert.ok()) return cert;
  Verification v = Verifier(ctx.clock).VerifyIssuedBy(*cert, role, issuer ? *issuer : *cert);
  if (!v.ok()) {
    return Internal("refusing to hand out a certificate that fails verification: " +
                    v.failure->ToString());
  }
  return cert;
}

Result<Certificate> BuildRoot(const PrivateKey& key, DistinguishedName subject, Seconds lifetime,
                              const BuildContext& ctx) {
  SITECHAIN_ASSIGN_OR_RETURN(auto validity, Validity(lifetime, nullptr, ctx));
  CertificateSpec spec;
  spec.subject = std::move(subject);
  spec.subject_public_key = key.PublicKeyDer();
  spec.not_before = validity.first;
  spec.not_after = validity.second;
  spec.is_ca = true;
  spec.key_usage = kKeyCertSign | kCrlSign;
  return IssueCertificate(spec, Issuer{nullptr, key}, ctx.rng);
}

std::vector<RawExtension> ProtectedExtensionsOf(const Certificate& cert) {
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
  auto cert = BuildRoot(store_key, {store_name, "sitechain store CA", ""}, lifetime, ctx);
  return CheckSigned(std::move(cert), CertRole::kStoreRoot, nullptr, ctx);
}

Result<Certificate> BuildSiteRoot(const PrivateKey& site_key, const std::string& site,
                                  Seconds lifetime, const BuildContext& ctx) {
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("site name", site));
  auto cert = BuildRoot(site_key, {site, "sitechain site CA", ""}, lifetime, ctx);
  return CheckSigned(std::move(cert), CertRole::kSiteRoot, nullptr, ctx);
}

Result<Certificate> BuildDeveloperIdentity(const CertificateRequest& csr,
                                           const Certificate& store_root,
                                           const PrivateKey& store_key, Seconds lifetime,
                                           const BuildContext& ctx) {
  if (!csr.SignatureValid()) {
    return Unauthenticated(
        "the CSR's signature does not verify with its own key: it was altered "
        "or not made with the key it names");
  }
  if (csr.RequestsCa()) {
    return PermissionDenied(
        "the CSR asks for CA rights; a developer CSR must not (the store "
        "grants the restricted developer CA itself)");
  }
  if (const auto exts = csr.RequestedExtensions(); !exts.empty()) {
    return PermissionDenied("the CSR asks for the extension " + ExtensionName(exts[0].oid) +
                            "; developer CSRs must not request extensions");
  }
  const std::string cn = csr.CommonName();
  if (cn.empty() || cn.size() > 64) {
    return InvalidArgument("the CSR's common name (the developer's name) must be 1 to 64 bytes");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto validity, Validity(lifetime, &store_root, ctx));
  CertificateSpec spec;
  spec.subject = {cn, "sitechain developer", ""};
  spec.subject_public_key = csr.PublicKeyDer();
  spec.not_before = validity.first;
  spec.not_after = validity.second;
  spec.is_ca = true;
  spec.path_limit = 0;
  spec.key_usage = kKeyCertSign | kDigitalSignature;
  auto cert = IssueCertificate(spec, Issuer{&store_root, store_key}, ctx.rng);
  return CheckSigned(std::move(cert), CertRole::kDeveloperIdentity, &store_root, ctx);
}

Result<Certificate> BuildCertDev(const ReleaseSpec& release, const Certificate& developer_identity,
                                 const PrivateKey& developer_key, Seconds lifetime,
                                 const BuildContext& ctx) {
  if (developer_identity.PublicKeyDer() != developer_key.PublicKeyDer()) {
    return InvalidArgument("the key is not the one the developer certificate was issued for");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto release_der, EncodeServiceRelease(release.release));
  SITECHAIN_ASSIGN_OR_RETURN(auto validity, Validity(lifetime, &developer_identity, ctx));
  CertificateSpec spec;
  spec.subject = {release.release.name, release.release.version,
                  developer_identity.Subject().common_name};
  spec.subject_public_key = developer_key.PublicKeyDer();
  spec.not_before = validity.first;
  spec.not_after = validity.second;
  spec.key_usage = kDigitalSignature;
  spec.extra_extensions.push_back(
      {ExecutableHashOid(), false, EncodeHashExtension(release.executable)});
  spec.extra_extensions.push_back({ServiceReleaseOid(), false, release_der});
  if (release.metadata) {
    spec.extra_extensions.push_back(
        {MetadataHashOid(), false, EncodeHashExtension(*release.metadata)});
  }
  auto cert = IssueCertificate(spec, Issuer{&developer_identity, developer_key}, ctx.rng);
  return CheckSigned(std::move(cert), CertRole::kCertDev, &developer_identity, ctx);
}

Result<Certificate> BuildCertStore(const Certificate& cert_dev, const Certificate& store_root,
                                   const PrivateKey& store_key, Seconds lifetime,
                                   const BuildContext& ctx) {
  SITECHAIN_ASSIGN_OR_RETURN(auto validity, Validity(lifetime, &store_root, ctx));
  CertificateSpec spec;
  spec.subject = cert_dev.Subject();
  spec.subject_public_key = cert_dev.PublicKeyDer();
  spec.not_before = validity.first;
  spec.not_after = std::min(validity.second, cert_dev.NotAfter());
  spec.key_usage = kDigitalSignature;
  spec.extra_extensions = ProtectedExtensionsOf(cert_dev);
  auto cert = IssueCertificate(spec, Issuer{&store_root, store_key}, ctx.rng);
  return CheckSigned(std::move(cert), CertRole::kCertStore, &store_root, ctx);
}

Result<Certificate> BuildNodeCertificate(const std::vector<uint8_t>& node_public_key,
                                         const std::string& node, const Certificate& site_root,
                                         const PrivateKey& site_key, Seconds lifetime,
                                         const BuildContext& ctx) {
  const std::string site = site_root.Subject().common_name;
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("node name", node));
  SITECHAIN_ASSIGN_OR_RETURN(auto validity, Validity(lifetime, &site_root, ctx));
  CertificateSpec spec;
  spec.subject = {node, "", site};
  spec.subject_public_key = node_public_key;
  spec.not_before = validity.first;
  spec.not_after = validity.second;
  spec.key_usage = kDigitalSignature;
  spec.tls_ext_key_usage = true;
  spec.uri_sans = {NodeSpiffeId(site, node)};
  auto cert = IssueCertificate(spec, Issuer{&site_root, site_key}, ctx.rng);
  return CheckSigned(std::move(cert), CertRole::kNode, &site_root, ctx);
}

Result<Certificate> BuildCertSite(const Certificate& cert_store, const SiteBinding& binding,
                                  const Certificate& site_root, const PrivateKey& site_key,
                                  Seconds lifetime, const BuildContext& ctx) {
  const std::string site = site_root.Subject().common_name;
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("node name", binding.node));
  SITECHAIN_RETURN_IF_ERROR(ValidateIdentifier("service name", binding.service));
  SITECHAIN_ASSIGN_OR_RETURN(auto policy_der, EncodeSitePolicy(binding.site_policy_json));
  SITECHAIN_ASSIGN_OR_RETURN(auto validity, Validity(lifetime, &site_root, ctx));
  CertificateSpec spec;
  spec.subject = {binding.service, binding.node, site};
  spec.subject_public_key = binding.instance_public_key;
  spec.not_before = validity.first;
  spec.not_after = validity.second;
  spec.key_usage = kDigitalSignature;
  spec.tls_ext_key_usage = true;
  spec.uri_sans = {ServiceSpiffeId(site, binding.node, binding.service)};
  spec.extra_extensions = ProtectedExtensionsOf(cert_store);
  spec.extra_extensions.push_back({SitePolicyOid(), false, policy_der});
  auto cert = IssueCertificate(spec, Issuer{&site_root, site_key}, ctx.rng);
  return CheckSigned(std::move(cert), CertRole::kCertSite, &site_root, ctx);
}

}  // namespace sitechain::pki
