// sitechain.v1.RenewRequest, which the slsm decodes from an authenticated node, and the checks
// it runs on each instance before touching its database: the service name and the CSR
// (CertificateRequest::FromDer, CheckRequest), as CertSiteIssuer::IssueOne
// (slsm/cert_site_issuer.h) does.

#include "pki/csr.h"
#include "pki/profile.h"
#include "sitechain/v1/site.pb.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto request = fuzz::ParseMessage<v1::RenewRequest>(data, size);
  if (!request) return 0;
  for (const auto& instance : request->instances()) {
    (void)pki::ValidateIdentifier("service", instance.service());
    auto csr = pki::CertificateRequest::FromDer(fuzz::Bytes(instance.csr_der()));
    if (!csr.ok()) continue;
    if (pki::CheckRequest(*csr, "service instance").ok()) {
      FUZZ_CHECK(csr->SignatureValid() && !csr->RequestsCa(), "CheckRequest's rules");
    }
  }
  return 0;
}
