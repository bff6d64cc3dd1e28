#pragma once
// `nlsm serve --config FILE`: a JSON object whose keys override the defaults below
// (docs/operations.md lists them). Unknown keys and bad values are INVALID_ARGUMENT.

#include <string>
#include <string_view>

#include "common/result.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/node_manager.h"
#include "nlsm/service_users.h"

namespace sitechain::nlsm {

struct NlsmConfig {
  std::string admin_socket;  // default <dir>/admin.sock
  std::string log_level = "info";
  std::string ready_file;  // written once serving: {"admin_socket": ...}
  Seconds stop_grace{5};   // SIGTERM, then SIGKILL after this
  // "auto": services run isolated (own users, cgroups, sandbox) where the nlsm can (root), and as
  // its own user elsewhere, said loudly; "on": refuse to start without isolation; "off": never.
  std::string isolation = "auto";
  UidRange service_uid_range;  // service_users.h
  NodeOptions node;
  SiteClientOptions site;  // call_timeout, keepalive_time, keepalive_timeout, connect_timeout
};

// Reads the file (at most kMaxConfigFileBytes, common/json_config.h) and parses it
// (ParseNlsmConfig); path empty: the defaults.
Result<NlsmConfig> LoadNlsmConfig(const std::string& path);
// The keys of the text over the defaults, and the result validated; `where` (the file's path)
// names it in errors. INVALID_ARGUMENT for text that is not a JSON object, an unknown key, a bad
// value, an unknown renewal_policy, a renewal policy that does not validate
// (RenewalPolicyConfig::Validate), call_timeout, keepalive_time, keepalive_timeout,
// connect_timeout, heartbeat_interval or reconnect_initial under 1 s, a reconnect_max under
// reconnect_initial, an isolation other than auto, on or off, and a service_uid_range the node
// must not use (ParseUidRange).
Result<NlsmConfig> ParseNlsmConfig(std::string_view text, const std::string& where);

}  // namespace sitechain::nlsm
