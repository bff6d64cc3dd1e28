// sitechain.v1.RenewResponse, which a node decodes from its site manager, read as the node reads
// it (nlsm::OutcomesFromProto), then what the node manager does with each outcome: the status it
// reports, the Cert_site it parses, and the plan for the next renewal from the suggested window
// (RenewalPolicy::FirstAttempt, NextRetry, and the wait a refusal for rate asks for).
//
// Invariants: nothing crashes or overflows; the first attempt lies within the certificate's
// [notBefore, notAfter], as RenewalPolicy promises, whatever window the slsm suggested (for a
// certificate whose notBefore <= notAfter: the verifier refuses the others first).

#include "common/random.h"
#include "nlsm/renewal_policy.h"
#include "nlsm/site_messages.h"
#include "pki/certificate.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto response = fuzz::ParseMessage<v1::RenewResponse>(data, size);
  if (!response) return 0;
  SeededRandom rng(1);
  const nlsm::RenewalPolicy policy{nlsm::RenewalPolicyConfig{}};
  for (const nlsm::RenewalOutcome& o : nlsm::OutcomesFromProto(*response)) {
    (void)o.status.ToString();
    if (!o.status.ok()) {
      // A refusal for rate: the node waits for the suggested time.
      (void)nlsm::UniformBetween(o.renew_after, o.renew_before, rng);
      continue;
    }
    auto cert = pki::Certificate::FromDer(o.cert_site_der);
    if (!cert.ok()) continue;
    const nlsm::CertificateTimes times{cert->NotBefore(), cert->NotAfter(),
                                       nlsm::RenewalWindow{o.renew_after, o.renew_before}};
    const TimePoint first = policy.FirstAttempt(times, rng);
    // (A certificate that ends before it begins is refused by the verifier before any plan.)
    if (times.not_before > times.not_after) continue;
    FUZZ_CHECK(first >= times.not_before && first <= times.not_after,
               "the first attempt lies within the certificate's validity");
    auto retry = policy.NextRetry(times, first, 1, rng);
    if (retry) FUZZ_CHECK(*retry <= times.not_after, "a retry never plans past notAfter");
  }
  return 0;
}
