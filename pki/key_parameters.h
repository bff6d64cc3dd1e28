#pragma once
// The public-key parameters sitechain accepts, checked on the DER SubjectPublicKeyInfo alone,
// before any key object is made from it and before any signature is checked with it.
//
// Why before: the cost of an RSA public-key operation grows with the size of the modulus and of
// the exponent, and a CSR or a certificate from the network may name any of them (a 32768-bit
// modulus with a 32768-bit exponent costs seconds per check). Decoding the two integers costs
// time linear in their size; nothing quadratic or worse runs on a key that fails here.
//
// Plain functions on values; thread-safe.

#include <cstdint>
#include <span>

#include "common/result.h"
#include "pki/key.h"

namespace sitechain::pki {

// The largest RSA modulus any sitechain code decodes further than its length: the profile's
// sizes (2048, 3072) are below it, and nothing above it reaches Botan's RSA code.
inline constexpr size_t kMaxRsaModulusBits = 4096;
// The only RSA public exponent accepted (what every common key generator uses).
inline constexpr uint32_t kRsaPublicExponent = 65537;

// What the profile allows, for messages: "Ed25519, ECDSA on the named curve P-256, or RSA of
// 2048 or 3072 bits with public exponent 65537".
extern const char* const kAllowedKeysText;

// The key type of a DER SubjectPublicKeyInfo if its parameters are the profile's (Ed25519;
// ECDSA on the named curve P-256; RSA with a 2048- or 3072-bit modulus and exponent 65537).
// INVALID_ARGUMENT otherwise, saying what the key is and what is allowed: a malformed encoding,
// another algorithm or curve, explicit curve parameters, an RSA modulus of another size (more
// than kMaxRsaModulusBits named as such), another exponent, a key of the wrong length.
// Whether an EC point lies on the curve is left to Botan, which checks it when it loads the key
// (cheap for P-256).
Result<KeyType> CheckKeyParameters(std::span<const uint8_t> spki_der);

}  // namespace sitechain::pki
