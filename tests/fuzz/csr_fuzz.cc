// pki::CertificateRequest::FromDer and FromPem on arbitrary bytes (the site API carries CSRs as
// DER from nodes that have not proven anything yet), then what an issuer reads from a CSR and
// CheckRequest, the rules every issuer applies.
//
// Invariants: parsing never crashes or throws; ToDer of a parsed CSR parses again to the same
// subject and key; a CSR that passes CheckRequest has a verifying signature, no CA request and
// no extension requests.

#include "pki/csr.h"
#include "tests/fuzz/fuzz_check.h"

using namespace sitechain;

namespace {

void Walk(const pki::CertificateRequest& csr) {
  const std::string cn = csr.CommonName();
  const std::vector<uint8_t> key = csr.PublicKeyDer();
  const bool signature_valid = csr.SignatureValid();
  const auto extensions = csr.RequestedExtensions();
  const bool ca = csr.RequestsCa();
  (void)csr.ToPem();
  if (pki::CheckRequest(csr, "node").ok()) {
    FUZZ_CHECK(signature_valid && !ca && extensions.empty(), "CheckRequest's rules");
    FUZZ_CHECK(!cn.empty() && cn.size() <= 64, "CheckRequest's CN length");
  }
  auto again = pki::CertificateRequest::FromDer(csr.ToDer());
  FUZZ_CHECK(again.ok(), "ToDer parses again: " + again.status().ToString());
  FUZZ_CHECK(again->CommonName() == cn && again->PublicKeyDer() == key, "same CSR after ToDer");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (auto csr = pki::CertificateRequest::FromDer(std::span<const uint8_t>(data, size)); csr.ok()) {
    Walk(*csr);
  }
  if (auto csr = pki::CertificateRequest::FromPem(fuzz::Text(data, size)); csr.ok()) {
    Walk(*csr);
  }
  return 0;
}
