// sitechain.v1.NodeMessage, which the slsm decodes from every connected node's command stream
// (hello, heartbeat, instance changes), and what the slsm reads from it: the instance reports,
// which it stores cut to 64 and 1024 bytes.

#include "pki/profile.h"
#include "sitechain/v1/site.pb.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

namespace {

void Report(const v1::InstanceStatus& status) {
  (void)pki::ValidateIdentifier("service", status.service());
  FUZZ_CHECK(status.state().substr(0, 64).size() <= 64, "state cut");
  FUZZ_CHECK(status.detail().substr(0, 1024).size() <= 1024, "detail cut");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto message = fuzz::ParseMessage<v1::NodeMessage>(data, size);
  if (!message) return 0;
  switch (message->kind_case()) {
    case v1::NodeMessage::kHello:
      for (const auto& instance : message->hello().instances()) Report(instance);
      break;
    case v1::NodeMessage::kInstance:
      Report(message->instance());
      break;
    case v1::NodeMessage::kHeartbeat:
      (void)message->heartbeat();
      break;
    case v1::NodeMessage::KIND_NOT_SET:
      break;
  }
  return 0;
}
