// nlsm::ParseLaunchPolicy on arbitrary text: the sitePolicy JSON a site puts in a Cert_site,
// which the node turns into argv, environment and restart policy.
//
// Invariants: parsing never crashes or throws; an accepted policy keeps the header's limits and
// name rules (no NUL anywhere, no reserved variable), and written back as JSON it parses to the
// same policy.

#include <nlohmann/json.hpp>

#include "nlsm/launch_policy.h"
#include "tests/fuzz/fuzz_check.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto policy = nlsm::ParseLaunchPolicy(fuzz::Text(data, size));
  if (!policy.ok()) return 0;

  FUZZ_CHECK(policy->args.size() <= nlsm::kMaxPolicyArgs, "args limit");
  FUZZ_CHECK(policy->env.size() <= nlsm::kMaxPolicyEnv, "env limit");
  for (const auto& arg : policy->args) {
    FUZZ_CHECK(arg.find('\0') == std::string::npos, "NUL in an argument");
  }
  for (const auto& [name, value] : policy->env) {
    FUZZ_CHECK(nlsm::CheckPolicyEnvName(name).ok(), "refused variable name " + name);
    FUZZ_CHECK(value.find('\0') == std::string::npos, "NUL in a value");
  }

  nlohmann::json j = nlohmann::json::object();
  j["args"] = policy->args;
  j["env"] = policy->env;
  j["restart"] = std::string(nlsm::RestartPolicyName(policy->restart));
  // The parser accepts only valid UTF-8, so the strict dump cannot throw.
  const std::string text = j.dump();
  if (text.size() <= nlsm::kMaxPolicyBytes) {
    auto again = nlsm::ParseLaunchPolicy(text);
    FUZZ_CHECK(again.ok() && *again == *policy, "policy written back parses the same: " + text);
  }
  return 0;
}
