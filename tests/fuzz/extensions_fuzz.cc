// The sitechain extension decoders (pki/extensions.h) on arbitrary bytes: every input goes
// through all three, as an extension value of any OID can hold anything.
//
// Invariants: a decoder never crashes or throws; what it accepts re-encodes to exactly the input
// (the decoders promise strict DER; a hash AlgorithmIdentifier's NULL parameters, which the
// decoder accepts and the encoder never writes, aside) and keeps the limits the header names.

#include "pki/extensions.h"
#include "tests/fuzz/fuzz_check.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> der = fuzz::Bytes(data, size);

  if (auto digest = pki::DecodeHashExtension(der); digest.ok()) {
    FUZZ_CHECK(digest->bytes.size() == pki::DigestSize(digest->algorithm), "digest size");
    // The encoder writes absent parameters; the decoder also accepts NULL ones (2 bytes more).
    const std::vector<uint8_t> again = pki::EncodeHashExtension(*digest);
    FUZZ_CHECK(again == der || again.size() + 2 == der.size(), "hash extension re-encodes");
    auto twice = pki::DecodeHashExtension(again);
    FUZZ_CHECK(twice.ok() && *twice == *digest, "re-encoded hash extension decodes the same");
  }

  if (auto release = pki::DecodeServiceRelease(der); release.ok()) {
    FUZZ_CHECK(pki::ValidateServiceRelease(*release).ok(), "decoded release is valid");
    auto again = pki::EncodeServiceRelease(*release);
    FUZZ_CHECK(again.ok() && *again == der, "serviceRelease re-encodes");
  }

  if (auto policy = pki::DecodeSitePolicy(der); policy.ok()) {
    FUZZ_CHECK(policy->size() <= pki::kMaxSitePolicyBytes, "sitePolicy limit");
    FUZZ_CHECK(policy->find('\0') == std::string::npos, "sitePolicy without NUL");
    auto again = pki::EncodeSitePolicy(*policy);
    FUZZ_CHECK(again.ok() && *again == der, "sitePolicy re-encodes");
  }
  return 0;
}
