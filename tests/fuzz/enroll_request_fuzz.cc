// sitechain.v1.EnrollRequest, which the slsm decodes from a node that has proven nothing yet (a
// join token is all it holds), and the checks SiteService::Enroll runs before its database:
// the token's shape, the node name and the CSR.

#include "pki/csr.h"
#include "pki/profile.h"
#include "sitechain/v1/site.pb.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto request = fuzz::ParseMessage<v1::EnrollRequest>(data, size);
  if (!request) return 0;
  // <id>.<secret>.<fingerprint>, as SiteService::Enroll splits it.
  const std::string& token = request->token();
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string::npos ? dot1 : token.find('.', dot1 + 1);
  if (token.size() <= 256 && dot2 != std::string::npos) {
    (void)token.substr(0, dot1);
    (void)token.substr(dot1 + 1, dot2 - dot1 - 1);
  }
  const bool node_ok = pki::ValidateIdentifier("node", request->node()).ok();
  auto csr = pki::CertificateRequest::FromDer(fuzz::Bytes(request->csr_der()));
  if (csr.ok() && pki::CheckRequest(*csr, "node").ok()) {
    FUZZ_CHECK(csr->SignatureValid() && !csr->RequestsCa(), "CheckRequest's rules");
    (void)(node_ok && csr->CommonName() == request->node());
  }
  return 0;
}
