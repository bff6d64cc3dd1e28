#pragma once
// The site manager's configuration: <dir>/slsm.json, written by `slsm init` (site and store),
// then an optional file given with --config whose keys override it. Both are JSON objects with
// the keys below; an unknown key or a bad value is INVALID_ARGUMENT naming it (docs/operations.md
// lists them with their defaults). Durations are strings such as "5000s", "24h", "7d".

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "slsm/federation.h"
#include "slsm/site_service.h"

namespace sitechain::slsm {

struct SlsmConfig {
  std::string site;                       // informational; the site root is the truth
  std::string store;                      // host:port of the app store
  std::string listen = "127.0.0.1:7444";  // host:port of the node-facing TLS service
  std::string admin_socket;               // default <dir>/admin.sock
  // Names the TLS server certificate carries (DNS names and IPv4 addresses nodes dial).
  std::vector<std::string> tls_names = {"localhost", "127.0.0.1"};
  // Validity of the TLS server certificate, renewed two thirds into it while serving; at least
  // server::kMinTlsLifetime (6 s).
  Seconds tls_lifetime{90 * 86400};
  Seconds heartbeat_timeout{15};  // a node without a heartbeat this long is down
  std::string log_level = "info";
  std::string ready_file;  // written once serving: {address, port, admin_socket, site_root}
  // The sites whose services this site's services may trust, each for its own trust domain
  // ("federation": [{"trust_domain": "site-b", "root": "site-b-root.pem"}]; a relative root
  // path is relative to the state directory). Checked at start (slsm/federation.h).
  std::vector<FederatedSite> federation;
  SiteOptions site_options;
};

// The text of one configuration file, and the name its errors give it (its path).
struct ConfigText {
  std::string where;
  std::string text;
};

// Reads <dir>/slsm.json and then `override_path` (if not empty), each at most
// kMaxConfigFileBytes (common/json_config.h), and parses them (ParseConfig).
// FAILED_PRECONDITION if dir holds no slsm.json.
Result<SlsmConfig> LoadConfig(const std::string& dir, const std::string& override_path);
// The keys of `base` (slsm.json) and then those of `overrides` (--config) over the defaults, and
// the result validated: INVALID_ARGUMENT for text that is not a JSON object, an unknown key, a
// bad value, and a config without a store or TLS name, with a tls_lifetime under
// server::kMinTlsLifetime, a heartbeat_timeout under 1 s or
// SiteOptions that do not validate.
Result<SlsmConfig> ParseConfig(const ConfigText& base, const std::optional<ConfigText>& overrides);
// Writes <dir>/slsm.json with the site and store (write-then-rename).
Status WriteInitialConfig(const std::string& dir, const std::string& site,
                          const std::string& store);

}  // namespace sitechain::slsm
