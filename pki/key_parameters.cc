#include "pki/key_parameters.h"

#include <botan/asn1_obj.h>
#include <botan/asn1_oid.h>
#include <botan/ber_dec.h>
#include <botan/bigint.h>

#include <string>
#include <vector>

namespace sitechain::pki {
namespace {

constexpr const char* kRsaEncryptionOid = "1.2.840.113549.1.1.1";
constexpr const char* kEcPublicKeyOid = "1.2.840.10045.2.1";
constexpr const char* kP256Oid = "1.2.840.10045.3.1.7";
constexpr const char* kEd25519Oid = "1.3.101.112";

Status Refuse(const std::string& what) {
  return InvalidArgument(what + "; sitechain accepts " + kAllowedKeysText);
}

// "secp384r1 (1.3.132.0.34)" when Botan knows the name, else the dotted form.
std::string Describe(const Botan::OID& oid) {
  const std::string dotted = oid.to_string();
  const std::string name = oid.to_formatted_string();
  return name == dotted ? dotted : name + " (" + dotted + ")";
}

Result<KeyType> CheckRsa(const Botan::AlgorithmIdentifier& alg,
                         const std::vector<uint8_t>& key_bits) {
  // RFC 3279 §2.3.1: the parameters are NULL (absent is tolerated, as Botan does).
  if (!alg.parameters_are_null_or_empty()) {
    return Refuse("the RSA key's algorithm identifier carries parameters");
  }
  Botan::BigInt n, e;
  Botan::BER_Decoder(key_bits)
      .start_cons(Botan::SEQUENCE)
      .decode(n)
      .decode(e)
      .end_cons()
      .verify_end();
  if (n.is_negative() || n < 3 || e.is_negative()) {
    return Refuse("the RSA key's modulus or exponent is not a positive number");
  }
  const size_t bits = n.bits();
  if (bits > kMaxRsaModulusBits) {
    return Refuse("the key is RSA with a " + std::to_string(bits) + "-bit modulus, more than the " +
                  std::to_string(kMaxRsaModulusBits) + " bits any sitechain code uses");
  }
  if (bits != 2048 && bits != 3072) {
    return Refuse("the key is RSA with a " + std::to_string(bits) + "-bit modulus");
  }
  if (e != Botan::BigInt(kRsaPublicExponent)) {
    return Refuse("the RSA key's public exponent is " +
                  (e.bits() <= 32 ? std::to_string(e.to_u32bit())
                                  : "a " + std::to_string(e.bits()) + "-bit number") +
                  ", not " + std::to_string(kRsaPublicExponent));
  }
  return bits == 2048 ? KeyType::kRsa2048 : KeyType::kRsa3072;
}

Result<KeyType> CheckEc(const Botan::AlgorithmIdentifier& alg,
                        const std::vector<uint8_t>& key_bits) {
  // RFC 5480 §2.1.1: namedCurve only; explicit parameters would make Botan build a curve from
  // numbers the peer chose.
  Botan::OID curve;
  try {
    Botan::BER_Decoder(alg.get_parameters()).decode(curve).verify_end();
  } catch (const std::exception&) {
    return Refuse("the EC key does not name its curve (explicit or missing curve parameters)");
  }
  if (curve != Botan::OID(kP256Oid)) return Refuse("the EC key is on the curve " + Describe(curve));
  // An uncompressed (04 || x || y) or compressed (02/03 || x) point of P-256.
  const bool uncompressed = key_bits.size() == 65 && key_bits[0] == 0x04;
  const bool compressed = key_bits.size() == 33 && (key_bits[0] == 0x02 || key_bits[0] == 0x03);
  if (!uncompressed && !compressed) return Refuse("the P-256 key's point has the wrong length");
  return KeyType::kEcdsaP256;
}

}  // namespace

const char* const kAllowedKeysText =
    "Ed25519, ECDSA on the named curve P-256, or RSA of 2048 or 3072 bits with public exponent "
    "65537";

Result<KeyType> CheckKeyParameters(std::span<const uint8_t> spki_der) {
  try {
    Botan::AlgorithmIdentifier alg;
    std::vector<uint8_t> key_bits;
    Botan::BER_Decoder(spki_der.data(), spki_der.size())
        .start_cons(Botan::SEQUENCE)
        .decode(alg)
        .decode(key_bits, Botan::BIT_STRING)
        .end_cons()
        .verify_end();
    const Botan::OID& oid = alg.get_oid();
    if (oid == Botan::OID(kRsaEncryptionOid)) return CheckRsa(alg, key_bits);
    if (oid == Botan::OID(kEcPublicKeyOid)) return CheckEc(alg, key_bits);
    if (oid == Botan::OID(kEd25519Oid)) {
      if (!alg.get_parameters().empty()) {
        return Refuse("the Ed25519 key's algorithm identifier carries parameters");
      }
      if (key_bits.size() != 32) return Refuse("the Ed25519 key is not 32 bytes");
      return KeyType::kEd25519;
    }
    return Refuse("the key's algorithm is " + Describe(oid));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("malformed SubjectPublicKeyInfo: ") + e.what());
  }
}

}  // namespace sitechain::pki
