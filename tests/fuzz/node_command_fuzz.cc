// sitechain.v1.NodeCommand, which a node decodes from its site manager's command stream, read as
// the node reads it (nlsm::CommandFromProto), then the checks and plans the node manager makes of
// it: the service names, a deploy's digest, and the renew-now time (JitteredWithin) for its
// window.
//
// Invariants: nothing crashes or overflows; a renew-now is planned within [now, now + window] and
// never before now.

#include "common/clock.h"
#include "common/hex.h"
#include "common/random.h"
#include "nlsm/renewal_policy.h"
#include "nlsm/site_messages.h"
#include "pki/profile.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto message = fuzz::ParseMessage<v1::NodeCommand>(data, size);
  if (!message) return 0;
  const nlsm::Command c = nlsm::CommandFromProto(*message);
  for (const auto& service : c.services) (void)pki::ValidateIdentifier("service", service);
  if (c.kind == nlsm::Command::Kind::kDeploy) (void)HexDecode(c.digest);
  if (c.kind == nlsm::Command::Kind::kRenewNow) {
    SeededRandom rng(1);
    const TimePoint now = FromUnixSeconds(1'800'000'000);
    const TimePoint at = nlsm::JitteredWithin(now, c.window, rng);
    FUZZ_CHECK(at >= now, "a renew-now is never planned in the past");
    FUZZ_CHECK(at - now <= c.window, "a renew-now lies in its window");
  }
  return 0;
}
