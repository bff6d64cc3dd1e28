#pragma once
// The named renewal policies the simulator compares ("presets"): the paper's two, the nlsm
// default, and the improvements of issue 6. A preset sets only the policy-related fields of a
// ModelConfig (renewal policy, reconnect rule, batching, slsm windows, start jitter, renew-now
// window); the site, time, churn and payload fields stay as the caller set them.

#include <span>
#include <string_view>

#include "common/result.h"
#include "sim/model.h"

namespace sitechain::sim {

struct PolicyPreset {
  std::string_view name;
  std::string_view summary;  // one line for --help and the docs
  bool paper;                // one of the paper's two policies
  void (*apply)(ModelConfig& config);
};

// Every preset, the paper's first.
std::span<const PolicyPreset> PolicyPresets();

// The preset of this name; INVALID_ARGUMENT listing the names for anything else.
Result<const PolicyPreset*> FindPolicyPreset(std::string_view name);

}  // namespace sitechain::sim
