#pragma once
// Test support: CSRs naming public keys outside the profile, assembled by hand (DER with the
// helpers of hand_made_csr.h), for tests that show such a key is refused before any signature
// work. No key is generated: an RSA "key" here is a random odd modulus of the requested size
// with the requested exponent, and the signature is random bytes of the modulus's length, as an
// attacker who only wants to burn the server's CPU would send.
//
//   std::vector<uint8_t> spki = testing::RandomRsaSpki(16384, testing::kExponent65537, rng);
//   std::vector<uint8_t> der = testing::CsrDerWithKey(spki, "mallory", 16384 / 8, rng);
//   std::string pem = testing::der::Pem("CERTIFICATE REQUEST", der);

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/random.h"

namespace sitechain::testing {

// The exponent 65537 (01 00 01) and the exponent 3, as big-endian magnitudes.
inline const std::vector<uint8_t> kExponent65537 = {0x01, 0x00, 0x01};
inline const std::vector<uint8_t> kExponent3 = {0x03};

// A random odd number of exactly `bits` bits (top bit set), big-endian.
std::vector<uint8_t> RandomOddNumber(size_t bits, Random& rng);

// A DER SubjectPublicKeyInfo of rsaEncryption with a random `modulus_bits`-bit modulus and the
// given exponent (a big-endian magnitude).
std::vector<uint8_t> RandomRsaSpki(size_t modulus_bits, const std::vector<uint8_t>& exponent,
                                   Random& rng);

// A DER PKCS#10 CSR for CN=common_name naming `spki`, "signed" with sha256WithRSAEncryption by
// `signature_bytes` random bytes (which verify under no key). Inputs up to 64 KiB.
std::vector<uint8_t> CsrDerWithKey(const std::vector<uint8_t>& spki, const std::string& common_name,
                                   size_t signature_bytes, Random& rng);

}  // namespace sitechain::testing
