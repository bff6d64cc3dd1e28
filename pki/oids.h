#pragma once

#include <string>

namespace sitechain::pki {

// The private OID arc of every sitechain extension. 32473 is IANA's enterprise number for
// documentation (RFC 5612). A deployment that registers its own enterprise number changes this
// one constant and nothing else.
inline constexpr const char* kOidArc = "1.3.6.1.4.1.32473.17";

// The sitechain extensions, all non-critical (ARCHITECTURE.md §2, docs/cert-profile.md).
std::string ExecutableHashOid();  // arc.1
std::string MetadataHashOid();    // arc.2
std::string ServiceReleaseOid();  // arc.3
std::string SitePolicyOid();      // arc.4

// Standard extensions the profiles use, by dotted OID.
inline constexpr const char* kBasicConstraintsOid = "2.5.29.19";
inline constexpr const char* kKeyUsageOid = "2.5.29.15";
inline constexpr const char* kExtKeyUsageOid = "2.5.29.37";
inline constexpr const char* kSubjectAltNameOid = "2.5.29.17";
inline constexpr const char* kSubjectKeyIdOid = "2.5.29.14";
inline constexpr const char* kAuthorityKeyIdOid = "2.5.29.35";

// A short human name for an extension OID ("executableHash", "basicConstraints"), or the dotted
// OID itself when it is not one sitechain knows.
std::string ExtensionName(const std::string& oid);

}  // namespace sitechain::pki
