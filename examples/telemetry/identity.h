#pragma once
// How the telemetry examples start: their service identity, from the SITECHAIN_* variables a node
// manager sets (service_identity/service_identity.h), or a clear message of why not.

#include <memory>
#include <string>
#include <string_view>

#include "service_identity/service_identity.h"

namespace sitechain::examples {

// The identity, loaded and checked once; nullptr after printing on stderr why it cannot be
// loaded, with a hint for a program not started by a node manager. `program` names the program
// in the message.
std::shared_ptr<service_identity::ServiceIdentity> LoadIdentity(std::string_view program);

// The sitePolicy's "peers" (the patterns this service accepts), comma-separated; "nobody" if it
// lists none, "?" if the policy cannot be read. For the start-up line.
std::string AllowedPeers();

}  // namespace sitechain::examples
