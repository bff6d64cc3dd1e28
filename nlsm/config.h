#pragma once
// `nlsm serve --config FILE`: a JSON object whose keys override the defaults below
// (docs/operations.md lists them). Unknown keys and bad values are INVALID_ARGUMENT.

#include <string>

#include "common/result.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/node_manager.h"

namespace sitechain::nlsm {

struct NlsmConfig {
  std::string admin_socket;  // default <dir>/admin.sock
  std::string log_level = "info";
  std::string ready_file;  // written once serving: {"admin_socket": ...}
  Seconds stop_grace{5};   // SIGTERM, then SIGKILL after this
  NodeOptions node;
  SiteClientOptions site;  // call_timeout, keepalive_time, keepalive_timeout, connect_timeout
};

// path empty: the defaults.
Result<NlsmConfig> LoadNlsmConfig(const std::string& path);

}  // namespace sitechain::nlsm
