#pragma once
// Whether the node manager isolates its services, decided once at `nlsm serve`: each service
// under its own user (service_users.h), in its own cgroup (cgroups.h), hardened and sandboxed
// (child_exec.h). That needs root (for setuid, setgid, chown, mount namespaces and the cgroup
// tree; docs/operations.md says how to run it). Without it, services run as the nlsm's own user,
// as a developer's laptop runs them, and the log and `nlsm status` say so.
//
// Free function, called before the supervisor exists. Errors are statuses.

#include <optional>
#include <string>

#include "common/result.h"
#include "nlsm/cgroups.h"

namespace sitechain::nlsm {

struct NlsmConfig;

struct Isolation {
  bool on = false;
  std::optional<CgroupHost> cgroups;  // when on
  // For the log and `nlsm status`: "on: users A-B, cgroup v2 at ..." or "off: <why>".
  std::string summary;
};

// From config.isolation: "off" gives off; "auto" gives on where the nlsm runs as root, every
// directory above `dir` lets others pass (o+x: the services reach their files) and the cgroups
// can be set up, else off with the reason; "on" gives on, or FAILED_PRECONDITION with
// the reason. The cgroups of this node go under
// <own cgroup>/sitechain-nlsm.<node>.<hash of the absolute dir>, so that two node managers on
// one machine never share one.
Result<Isolation> SetUpIsolation(const std::string& dir, const std::string& node,
                                 const NlsmConfig& config);

}  // namespace sitechain::nlsm
