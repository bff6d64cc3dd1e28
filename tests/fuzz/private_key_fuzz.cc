// pki::PrivateKey::FromPem on arbitrary text: the key files every daemon and devkit load at start
// (a damaged or foreign file must be refused with a status, never crash or be used half-read),
// then what the programs do with a key they loaded: its public half, a CSR signed with it, a raw
// signature, and a check of both signatures with the public half. The input is also tried as a
// DER SubjectPublicKeyInfo (PublicKeyType, VerifyMessage), as certificates and CSRs carry them.
//
// Encrypted keys are tried without a passphrase only: decrypting runs the file's own PBKDF2
// iteration count (100000 for ours), far too slow to fuzz.
//
// Invariants: nothing crashes or throws; a loaded key is of a supported type, re-exports to PEM
// that loads again to the same public key, and its signatures verify with its public key.

#include "common/random.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "tests/fuzz/fuzz_check.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;  // PrivateKey::Load reads at most 16 KiB
  const std::vector<uint8_t> bytes = fuzz::Bytes(data, size);
  if (auto type = pki::PublicKeyType(bytes); type.ok()) {
    (void)pki::VerifyMessage(bytes, "message", bytes);
  }

  auto key = pki::PrivateKey::FromPem(fuzz::Text(data, size), std::nullopt);
  if (!key.ok()) {
    FUZZ_CHECK(!key.status().message().empty(), "a refusal says why");
    return 0;
  }
  SeededRandom rng(1);
  const std::vector<uint8_t> spki = key->PublicKeyDer();
  auto type = pki::PublicKeyType(spki);
  FUZZ_CHECK(type.ok() && *type == key->type(), "the public half has the key's type");

  auto again = pki::PrivateKey::FromPem(key->ToPem(std::nullopt, rng), std::nullopt);
  FUZZ_CHECK(again.ok() && again->PublicKeyDer() == spki, "ToPem loads again");

  const std::vector<uint8_t> signature = pki::SignMessage(*key, "message", rng);
  FUZZ_CHECK(pki::VerifyMessage(spki, "message", signature),
             "a signature verifies with the key's public half");
  auto csr = pki::CertificateRequest::Create(*key, "fuzz", rng);
  if (csr.ok()) {
    FUZZ_CHECK(csr->SignatureValid() && csr->PublicKeyDer() == spki, "the CSR is signed by it");
  }
  return 0;
}
