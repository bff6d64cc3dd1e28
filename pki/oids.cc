#include "pki/oids.h"

#include <map>

namespace sitechain::pki {

std::string ExecutableHashOid() { return std::string(kOidArc) + ".1"; }
std::string MetadataHashOid() { return std::string(kOidArc) + ".2"; }
std::string ServiceReleaseOid() { return std::string(kOidArc) + ".3"; }
std::string SitePolicyOid() { return std::string(kOidArc) + ".4"; }

std::string ExtensionName(const std::string& oid) {
  static const std::map<std::string, std::string> kNames = {
      {ExecutableHashOid(), "executableHash"},    {MetadataHashOid(), "metadataHash"},
      {ServiceReleaseOid(), "serviceRelease"},    {SitePolicyOid(), "sitePolicy"},
      {kBasicConstraintsOid, "basicConstraints"}, {kKeyUsageOid, "keyUsage"},
      {kExtKeyUsageOid, "extKeyUsage"},           {kSubjectAltNameOid, "subjectAltName"},
      {kSubjectKeyIdOid, "subjectKeyIdentifier"}, {kAuthorityKeyIdOid, "authorityKeyIdentifier"},
  };
  auto it = kNames.find(oid);
  return it == kNames.end() ? oid : it->second;
}

}  // namespace sitechain::pki
