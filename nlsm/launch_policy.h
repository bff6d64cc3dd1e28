#pragma once
// The part of a service's sitePolicy that the node manager honours when it launches the service.
//
// The sitePolicy (ARCHITECTURE.md §2, docs/cert-profile.md) is a JSON object carried in the
// service's Cert_site. The node reads these keys; every other key belongs to the service, which
// reads the whole policy itself, and is ignored here:
//
//   "args"     array of strings appended to the service's argv (at most kMaxPolicyArgs)
//   "env"      object of string -> string added to the service's environment (at most
//              kMaxPolicyEnv); names match [A-Z_][A-Z0-9_]* and are neither reserved nor
//              refused (CheckPolicyEnvName)
//   "restart"  "always" | "on-failure" (default) | "never"
//   "renewal_signal"  "none" (default) | "SIGHUP" | "SIGUSR1" | "SIGUSR2": sent to the running
//              service each time its identity file holds a renewed Cert_site (and key), for
//              services that reload on a signal; services using the service-identity helper
//              need none (it watches the file)
//   "limits"   {"memory": 67108864 | "64M", "cpu": 0.5, "pids": 64}, each optional: the most
//              memory (bytes, or a number with K, M or G, powers of 1024; at least 1M), CPU
//              (cores) and processes the service's cgroup may use (docs/operations.md §isolation)
//   "sandbox"  {"private_tmp": bool, "read_only_root": bool}: a private mount namespace with its
//              own /tmp, and / read-only but for the service's work directory. Unset keys take
//              the node's default: on where the node isolates services, off where it cannot
//
// A policy the node cannot honour (invalid JSON, not an object, a wrong type or value, a reserved
// name, a duplicate key, a limit exceeded) is refused as a whole with INVALID_ARGUMENT naming the
// key and the reason: the node never runs a service with half of its policy.
//
// Pure functions, no I/O; thread-safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy_env.h"
#include "common/result.h"

namespace sitechain::nlsm {

// What the supervisor does when a service's process exits on its own (not by Stop).
enum class RestartPolicy {
  kAlways,     // restart after every exit
  kOnFailure,  // restart after a non-zero exit code or a death by signal (the default)
  kNever,      // never restart
};

// "always", "on-failure", "never".
std::string_view RestartPolicyName(RestartPolicy policy);
// INVALID_ARGUMENT naming the accepted values for anything else.
Result<RestartPolicy> ParseRestartPolicy(std::string_view name);

// Limits on what a policy may ask for.
inline constexpr size_t kMaxPolicyBytes = 4096;  // the whole JSON text (as the profile's SIZE)
inline constexpr size_t kMaxPolicyArgs = 64;
inline constexpr size_t kMaxPolicyEnv = 64;
inline constexpr size_t kMaxEnvNameBytes = kMaxPolicyEnvNameBytes;

// The sitePolicy's "limits": what the service's cgroup may use (unset: no limit).
struct ResourceLimits {
  std::optional<uint64_t> memory_bytes;    // at least kMinMemoryLimit
  std::optional<uint32_t> cpu_millicores;  // 1000 = one core; 10 .. 1024000
  std::optional<uint32_t> pids;            // 1 .. 4194304

  bool any() const { return memory_bytes || cpu_millicores || pids; }
  bool operator==(const ResourceLimits&) const = default;
};
inline constexpr uint64_t kMinMemoryLimit = 1 << 20;

// The sitePolicy's "sandbox" (unset: the node's default).
struct Sandbox {
  std::optional<bool> private_tmp, read_only_root;
  bool operator==(const Sandbox&) const = default;
};

struct LaunchPolicy {
  std::vector<std::string> args;           // appended to argv, in order
  std::map<std::string, std::string> env;  // added to the environment
  RestartPolicy restart = RestartPolicy::kOnFailure;
  int renewal_signal = 0;  // 0: none
  ResourceLimits limits;
  Sandbox sandbox;

  bool operator==(const LaunchPolicy&) const = default;
};

// Parses the sitePolicy text. An empty text (a Cert_site without a policy) and "{}" give the
// defaults. INVALID_ARGUMENT, "site policy: <key>: <reason>", for a policy the node cannot honour.
Result<LaunchPolicy> ParseLaunchPolicy(std::string_view site_policy_json);

// OK if a site policy may set the environment variable `name`, else INVALID_ARGUMENT naming it
// and why: the rule the slsm applies when a policy is set, applied again here (common/
// policy_env.h: the pattern [A-Z_][A-Z0-9_]*, at most kMaxEnvNameBytes, no SITECHAIN_*, and no
// variable that makes the loader, the C library, a language runtime or a shell load code that
// was never verified).
using ::sitechain::CheckPolicyEnvName;

}  // namespace sitechain::nlsm
