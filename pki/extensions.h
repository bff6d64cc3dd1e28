#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "pki/hash.h"

namespace sitechain::pki {

// DER encoders and strict decoders for the sitechain extension values (the bytes inside the
// extension's OCTET STRING). Decoding refuses trailing bytes, a digest whose length does not fit
// its algorithm, unknown hash algorithms, out-of-range values and oversized input, each with
// INVALID_ARGUMENT and a message that names the field.

// Limits on what a decoder accepts (and an encoder produces).
inline constexpr size_t kMaxExtensionValueBytes = 8192;
inline constexpr size_t kMaxServiceNameBytes = 63;  // as every SPIFFE path segment
inline constexpr size_t kMaxVersionBytes = 64;
inline constexpr size_t kMaxSitePolicyBytes = 4096;

// executableHash and metadataHash:
//   SEQUENCE { hashAlgorithm AlgorithmIdentifier, digest OCTET STRING }
// The AlgorithmIdentifier is id-sha256 / id-sha512 with absent parameters (NULL is accepted).
std::vector<uint8_t> EncodeHashExtension(const Digest& digest);
Result<Digest> DecodeHashExtension(const std::vector<uint8_t>& der);

// serviceRelease: SEQUENCE { name UTF8String, version UTF8String, releaseCounter INTEGER }
struct ServiceRelease {
  std::string name;              // [a-z0-9][a-z0-9._-]*, at most kMaxServiceNameBytes
  std::string version;           // printable, no spaces, at most kMaxVersionBytes
  uint64_t release_counter = 0;  // 0 .. 2^63-1, must grow with every release of a name

  bool operator==(const ServiceRelease&) const = default;
};
// Checks the name, version and counter rules above.
Status ValidateServiceRelease(const ServiceRelease& release);
Result<std::vector<uint8_t>> EncodeServiceRelease(const ServiceRelease& release);
Result<ServiceRelease> DecodeServiceRelease(const std::vector<uint8_t>& der);

// sitePolicy: UTF8String holding a compact JSON object (at most kMaxSitePolicyBytes).
Result<std::vector<uint8_t>> EncodeSitePolicy(const std::string& json_object);
Result<std::string> DecodeSitePolicy(const std::vector<uint8_t>& der);

}  // namespace sitechain::pki
