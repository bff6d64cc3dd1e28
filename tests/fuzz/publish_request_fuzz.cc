// sitechain.v1.PublishRequest, which the store decodes from a developer, and the pure part of
// StoreService::StartPublish on its header: the Cert_dev PEM parsed, checked against the
// Cert_dev profile and its executableHash decoded. (The signature checks against the
// developer's registered identity need a real chain and are the certificate target's business.)

#include "common/clock.h"
#include "pki/certificate.h"
#include "pki/extensions.h"
#include "pki/oids.h"
#include "pki/verifier.h"
#include "sitechain/v1/store.pb.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto request = fuzz::ParseMessage<v1::PublishRequest>(data, size);
  if (!request || !request->has_header()) return 0;
  auto cert_dev = pki::Certificate::FromPem(request->header().cert_dev_pem());
  if (!cert_dev.ok()) return 0;
  ManualClock clock(cert_dev->NotBefore());
  pki::Verifier verifier(clock);
  (void)verifier.VerifyIssuedBy(*cert_dev, pki::CertRole::kCertDev, *cert_dev);
  if (auto ext = cert_dev->FindExtension(pki::ExecutableHashOid())) {
    (void)pki::DecodeHashExtension(ext->value);
  }
  if (auto ext = cert_dev->FindExtension(pki::ServiceReleaseOid())) {
    (void)pki::DecodeServiceRelease(ext->value);
  }
  return 0;
}
