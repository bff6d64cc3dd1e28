// sitechain.v1.FetchPackageResponse, which a node decodes from its site manager (nothing in it
// is believed until verified), read as the node reads its header (nlsm::HeaderFromProto), and
// what nlsm::FetchAndVerify reads from it before the chain check: the hash algorithm, the hex
// digest and the three certificates' DER.

#include "common/hex.h"
#include "nlsm/site_messages.h"
#include "pki/certificate.h"
#include "pki/hash.h"
#include "pki/profile.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto response = fuzz::ParseMessage<v1::FetchPackageResponse>(data, size);
  if (!response || !response->has_header()) return 0;
  const nlsm::PackageHeader h = nlsm::HeaderFromProto(response->header());
  (void)pki::ValidateIdentifier("service", h.service);
  auto alg = pki::ParseHashAlgorithm(h.digest_algorithm);
  auto digest = HexDecode(h.digest);
  if (alg.ok() && digest.ok()) {
    (void)(digest->size() == pki::DigestSize(*alg));
  }
  // (FromDer itself refuses what does not re-encode to the very bytes: nothing to check after.)
  for (const std::vector<uint8_t>* der :
       {&h.cert_dev_der, &h.cert_store_der, &h.developer_certificate_der}) {
    (void)pki::Certificate::FromDer(*der);
  }
  return 0;
}
