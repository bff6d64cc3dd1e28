#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pki/certificate.h"

namespace sitechain::pki {

// A certificate as data for people and tools: subject, issuer, serial, validity, key, SHA-256
// fingerprint, CA flags, SANs and every extension, with the sitechain extensions decoded
// (an extension that does not decode is shown with its error, never silently dropped). Every
// string is valid UTF-8 (bytes of the certificate that are not are shown as U+FFFD), so dump()
// never throws.
nlohmann::json DescribeCertificate(const Certificate& cert);

// The same as indented text, one field a line.
std::string DescribeCertificateText(const Certificate& cert);

}  // namespace sitechain::pki
