// sitechain.v1.RenewRequest, which the slsm decodes from an authenticated node, handed to the
// slsm's own issuer (SiteService::Renew, what SiteGrpcService::Renew calls) as node-1's, on a
// real site (fuzz_site.h: node-1 runs hello and world).
//
// Invariants: nothing crashes; a call of 1 to max_renewals_per_call entries, each naming another
// service, is answered entry by entry, in order (more, none, or a service named twice:
// INVALID_ARGUMENT); a service not deployed to node-1 is refused
// PERMISSION_DENIED; a Cert_site is issued for the key of the entry's CSR, passes every rule a
// node checks before it runs the service (pki::Verifier with the release's chain and package
// and node-1's SPIFFE ID) and comes with a suggested renewal window inside its validity; a
// refusal carries no certificate.

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "pki/csr.h"
#include "sitechain/v1/site.pb.h"
#include "tests/fuzz/fuzz_site.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto request = fuzz::ParseMessage<v1::RenewRequest>(data, size);
  if (!request) return 0;
  fuzz::FuzzSite& site = fuzz::FuzzSite::Get();
  const std::string node = "node-1";
  std::vector<slsm::RenewalRequest> entries;
  for (const auto& i : request->instances()) {
    entries.push_back({i.service(), fuzz::Bytes(i.csr_der())});
  }
  auto results = site.service().Renew(site.record(node), entries);
  std::set<std::string> named;
  bool twice = false;
  for (const auto& e : entries) twice = !named.insert(e.service).second || twice;
  if (entries.empty() || entries.size() > site.service().options().max_renewals_per_call || twice) {
    FUZZ_CHECK(!results.ok() && results.status().code() == StatusCode::kInvalidArgument,
               "a call of " + std::to_string(entries.size()) + " entries" +
                   (twice ? " naming a service twice" : "") + " was not refused");
    return 0;
  }
  FUZZ_CHECK(results.ok(), "the call failed: " + results.status().ToString());
  FUZZ_CHECK(results->size() == entries.size(), "not one answer per entry");
  const std::vector<std::string> deployed = fuzz::FuzzSite::ServicesOf(node);
  for (size_t k = 0; k < entries.size(); ++k) {
    const slsm::RenewalResult& r = (*results)[k];
    FUZZ_CHECK(r.service == entries[k].service, "answers out of order");
    if (std::find(deployed.begin(), deployed.end(), r.service) == deployed.end()) {
      FUZZ_CHECK(r.status.code() == StatusCode::kPermissionDenied,
                 "an instance the node does not run: " + r.status.ToString());
    }
    if (!r.status.ok()) {
      FUZZ_CHECK(!r.certificate, "a refusal with a certificate");
      continue;
    }
    FUZZ_CHECK(r.certificate.has_value(), "OK without a certificate");
    const pki::Certificate& cert = *r.certificate;
    auto csr = pki::CertificateRequest::FromDer(entries[k].csr_der);
    FUZZ_CHECK(csr.ok() && csr->PublicKeyDer() == cert.PublicKeyDer(),
               "a Cert_site for another key than the CSR's");
    const pki::Verification v = site.VerifyAsNode(node, r.service, cert);
    FUZZ_CHECK(v.ok(), "the node refuses its Cert_site: " + v.failure->ToString());
    FUZZ_CHECK(cert.NotBefore() <= r.renew_after && r.renew_after <= r.renew_before &&
                   r.renew_before <= cert.NotAfter(),
               "the suggested window lies outside the Cert_site's validity");
  }
  return 0;
}
