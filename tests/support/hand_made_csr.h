#pragma once
// Test support: PKCS#10 CSRs assembled by hand, for tests of what a CA refuses.
// CertificateRequest::Create never asks for extensions and always signs with the key it names,
// so CSRs that do otherwise (ask for CA rights or any other extension, carry a signature by
// another key, or a corrupted one) are built here: DER assembled with the helpers in
// testing::der, signed with pki::SignMessage over an Ed25519 key (Ed25519 signs the message
// itself). A control CSR made the same way without extensions is accepted, so a refusal is due
// to what the CSR asks for.
//
//   PrivateKey key = PrivateKey::Generate(KeyType::kEd25519, rng);
//   std::string pem = testing::HandMadeCsrPem(key, "mallory", {testing::CaTrueExtension()}, rng);
//   Result<CertificateRequest> csr = CertificateRequest::FromPem(pem);

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::testing {

// Minimal DER writing, enough for CSRs and forged certificate pieces.
namespace der {

// tag, definite length (short form, or long form up to 0xffff) and content.
std::vector<uint8_t> Tlv(uint8_t tag, const std::vector<uint8_t>& content);
// The parts one after the other.
std::vector<uint8_t> Cat(std::initializer_list<std::vector<uint8_t>> parts);
// An OBJECT IDENTIFIER TLV from its dotted form ("2.5.4.3").
std::vector<uint8_t> Oid(std::string_view dotted);
// "-----BEGIN <label>-----", the base64 of der in 64-character lines, "-----END <label>-----".
std::string Pem(std::string_view label, const std::vector<uint8_t>& der);

}  // namespace der

// What a hand-made CSR says and how it is signed.
struct CsrRequest {
  std::string common_name = "mallory";        // the subject is CN=common_name only
  std::vector<pki::RawExtension> extensions;  // asked for in a PKCS#9 extensionRequest
  const pki::PrivateKey* signer = nullptr;    // signs the CSR; nullptr = the named key
  bool corrupt_signature = false;             // flips a bit of the signature
};

// A PEM PKCS#10 CSR naming `key` (its public key) as `request` says, with an Ed25519 signature
// (so the signer must be an Ed25519 key). Draws from rng only through pki::SignMessage.
std::string HandMadeCsrPem(const pki::PrivateKey& key, const CsrRequest& request, Random& rng);

// Shorthand: CN=common_name asking for `extensions`, signed by `key` itself.
std::string HandMadeCsrPem(const pki::PrivateKey& key, const std::string& common_name,
                           const std::vector<pki::RawExtension>& extensions, Random& rng);

// Shorthand: CN=common_name asking for `extensions`, signed by `signer` (another key than `key`
// gives a CSR that is well formed but whose self-signature does not verify).
std::string HandMadeCsrPem(const pki::PrivateKey& key, const std::string& common_name,
                           const std::vector<pki::RawExtension>& extensions,
                           const pki::PrivateKey& signer, Random& rng);

// basicConstraints { cA TRUE }, critical: the extension a CSR asking for CA rights carries.
pki::RawExtension CaTrueExtension();

}  // namespace sitechain::testing
