#include "pki/profile.h"

#include <algorithm>

#include "pki/oids.h"

namespace sitechain::pki {

std::string_view CertRoleName(CertRole role) {
  switch (role) {
    case CertRole::kStoreRoot:
      return "store-root";
    case CertRole::kDeveloperIdentity:
      return "developer-identity";
    case CertRole::kCertDev:
      return "cert-dev";
    case CertRole::kCertStore:
      return "cert-store";
    case CertRole::kSiteRoot:
      return "site-root";
    case CertRole::kNode:
      return "node";
    case CertRole::kCertSite:
      return "cert-site";
    case CertRole::kTlsServer:
      return "tls-server";
  }
  return "unknown";
}

const std::vector<std::string>& ProtectedExtensionOids() {
  static const std::vector<std::string> kOids = {ExecutableHashOid(), ServiceReleaseOid(),
                                                 MetadataHashOid()};
  return kOids;
}

const std::vector<std::string>& AllowedExtensionOids(CertRole role) {
  static const std::vector<std::string> kCa = {kBasicConstraintsOid, kKeyUsageOid, kSubjectKeyIdOid,
                                               kAuthorityKeyIdOid};
  static const std::vector<std::string> kRelease = {
      kBasicConstraintsOid, kKeyUsageOid,        kAuthorityKeyIdOid, kSubjectKeyIdOid,
      ExecutableHashOid(),  ServiceReleaseOid(), MetadataHashOid()};
  static const std::vector<std::string> kNode = {kBasicConstraintsOid, kKeyUsageOid,
                                                 kAuthorityKeyIdOid,   kSubjectKeyIdOid,
                                                 kSubjectAltNameOid,   kExtKeyUsageOid};
  static const std::vector<std::string> kSite = [] {
    std::vector<std::string> v = kRelease;
    v.insert(v.end(), {kSubjectAltNameOid, kExtKeyUsageOid, SitePolicyOid()});
    return v;
  }();
  switch (role) {
    case CertRole::kStoreRoot:
    case CertRole::kSiteRoot:
    case CertRole::kDeveloperIdentity:
      return kCa;
    case CertRole::kCertDev:
    case CertRole::kCertStore:
      return kRelease;
    case CertRole::kNode:
    case CertRole::kTlsServer:
      return kNode;
    case CertRole::kCertSite:
      return kSite;
  }
  return kCa;
}

bool IsKnownExtension(const std::string& oid) {
  const auto& all = AllowedExtensionOids(CertRole::kCertSite);
  return std::find(all.begin(), all.end(), oid) != all.end();
}

Status ValidateIdentifier(std::string_view what, std::string_view name) {
  auto bad = [&] {
    return InvalidArgument(std::string(what) + " '" + std::string(name) +
                           "' must be 1 to 63 characters of a-z, 0-9, '.', '_', '-', "
                           "starting with a-z or 0-9");
  };
  if (name.empty() || name.size() > 63) return bad();
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return bad();
  }
  return Status::Ok();
}

std::string NodeSpiffeId(std::string_view site, std::string_view node) {
  return "spiffe://" + std::string(site) + "/node/" + std::string(node);
}

std::string ServiceSpiffeId(std::string_view site, std::string_view node,
                            std::string_view service) {
  return NodeSpiffeId(site, node) + "/svc/" + std::string(service);
}

}  // namespace sitechain::pki
