#include "slsm/config.h"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/json_config.h"
#include "server/tls_identity_renewer.h"

namespace sitechain::slsm {
namespace {

Status Apply(const ConfigText& file, SlsmConfig& c) {
  SiteOptions& o = c.site_options;
  JsonConfigKeys keys;
  keys.String("site", c.site);
  keys.String("store", c.store);
  keys.String("listen", c.listen);
  keys.String("admin_socket", c.admin_socket);
  keys.Strings("tls_names", c.tls_names);
  keys.Duration("tls_lifetime", c.tls_lifetime);
  keys.Duration("heartbeat_timeout", c.heartbeat_timeout);
  keys.String("log_level", c.log_level);
  keys.String("ready_file", c.ready_file);
  keys.Custom("federation", [&c](const nlohmann::json& v) -> Status {
    const auto refuse = [] {
      return InvalidArgument(
          "'federation' must be an array of {\"trust_domain\": NAME, \"root\": PATH}");
    };
    if (!v.is_array()) return refuse();
    c.federation.clear();
    for (const auto& site : v) {
      if (!site.is_object() || site.size() != 2 || !site.contains("trust_domain") ||
          !site.contains("root") || !site["trust_domain"].is_string() ||
          !site["root"].is_string()) {
        return refuse();
      }
      c.federation.push_back(
          {site["trust_domain"].get<std::string>(), site["root"].get<std::string>()});
    }
    return Status::Ok();
  });
  keys.Duration("cert_site_lifetime", o.cert_site_lifetime);
  keys.Duration("node_lifetime", o.node_lifetime);
  keys.Duration("node_recovery_grace", o.node_recovery_grace);
  keys.Unsigned("node_renewal_burst", o.node_renewal_burst);
  keys.Duration("default_token_ttl", o.default_token_ttl);
  keys.Duration("max_token_ttl", o.max_token_ttl);
  keys.Number("renew_window_start", o.renew_window_start);
  keys.Number("renew_window_end", o.renew_window_end);
  keys.Number("max_issuance_per_second", o.max_issuance_per_second);
  keys.Number("issuance_burst", o.issuance_burst);
  keys.Duration("policy_push_window", o.policy_push_window);
  keys.Unsigned("max_executable_bytes", o.max_executable_bytes);
  keys.Unsigned("max_policy_bytes", o.max_policy_bytes);
  keys.Duration("clock_skew", o.verify.clock_skew);
  // Per-node bounds (issue 17).
  keys.Number("node_issuance_factor", o.node_issuance_factor);
  keys.Number("node_issuance_min_burst", o.node_issuance_min_burst);
  keys.Unsigned("max_node_commands", o.max_node_commands);
  keys.Duration("revocation_staleness_limit", o.revocation_staleness_limit);
  return keys.ApplyText(file.text, file.where);
}

}  // namespace

Result<SlsmConfig> LoadConfig(const std::string& dir, const std::string& override_path) {
  ConfigText base{dir + "/slsm.json", ""};
  if (!PathExists(base.where)) {
    return FailedPrecondition(dir + " holds no site manager (no slsm.json); run slsm init --dir " +
                              dir);
  }
  SITECHAIN_ASSIGN_OR_RETURN(base.text, ReadSmallFile(base.where, kMaxConfigFileBytes));
  std::optional<ConfigText> overrides;
  if (!override_path.empty()) {
    SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(override_path, kMaxConfigFileBytes));
    overrides = ConfigText{override_path, std::move(text)};
  }
  return ParseConfig(base, overrides);
}

Result<SlsmConfig> ParseConfig(const ConfigText& base, const std::optional<ConfigText>& overrides) {
  SlsmConfig c;
  SITECHAIN_RETURN_IF_ERROR(Apply(base, c));
  if (overrides) SITECHAIN_RETURN_IF_ERROR(Apply(*overrides, c));
  if (c.store.empty()) return InvalidArgument("the config names no store (key 'store')");
  if (c.tls_names.empty()) return InvalidArgument("the config names no TLS name ('tls_names')");
  if (c.tls_lifetime < server::kMinTlsLifetime) {
    return InvalidArgument("tls_lifetime must be at least " +
                           std::to_string(server::kMinTlsLifetime.count()) +
                           "s (the certificate is renewed two thirds into it)");
  }
  if (c.heartbeat_timeout < Seconds(1)) {
    return InvalidArgument("heartbeat_timeout must be at least 1s");
  }
  SITECHAIN_RETURN_IF_ERROR(c.site_options.Validate());
  return c;
}

Status WriteInitialConfig(const std::string& dir, const std::string& site,
                          const std::string& store) {
  const nlohmann::json json = {{"site", site}, {"store", store}};
  return WriteFileAtomic(dir + "/slsm.json", json.dump(2) + "\n", 0644, false);
}

}  // namespace sitechain::slsm
