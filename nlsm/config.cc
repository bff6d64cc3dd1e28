#include "nlsm/config.h"

#include "common/files.h"
#include "common/json_config.h"

namespace sitechain::nlsm {

Result<NlsmConfig> LoadNlsmConfig(const std::string& path) {
  if (path.empty()) return NlsmConfig{};
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, kMaxConfigFileBytes));
  return ParseNlsmConfig(text, path);
}

Result<NlsmConfig> ParseNlsmConfig(std::string_view text, const std::string& where) {
  NlsmConfig c;
  RenewalPolicyConfig& r = c.node.renewal;
  std::string policy = std::string(RenewalPolicyName(r.kind));
  std::string uid_range = c.service_uid_range.ToString();
  JsonConfigKeys keys;
  keys.String("admin_socket", c.admin_socket);
  keys.String("log_level", c.log_level);
  keys.String("ready_file", c.ready_file);
  keys.Duration("stop_grace", c.stop_grace);
  keys.String("isolation", c.isolation);
  keys.String("service_uid_range", uid_range);
  keys.String("renewal_policy", policy);
  keys.Number("window_start", r.window_start);
  keys.Number("window_end", r.window_end);
  keys.Number("backoff_fraction", r.backoff_fraction);
  keys.Boolean("honour_suggested_window", r.honour_suggested_window);
  keys.Duration("retry_initial", r.retry_initial);
  keys.Duration("retry_max", r.retry_max);
  keys.Duration("batch_interval", c.node.batch_interval);
  keys.Duration("heartbeat_interval", c.node.heartbeat_interval);
  keys.Duration("reconnect_initial", c.node.reconnect_initial);
  keys.Duration("reconnect_max", c.node.reconnect_max);
  keys.Duration("clock_skew", c.node.verify.clock_skew);
  keys.Duration("call_timeout", c.site.call_timeout);
  keys.Duration("keepalive_time", c.site.keepalive_time);
  keys.Duration("keepalive_timeout", c.site.keepalive_timeout);
  keys.Duration("connect_timeout", c.site.connect_timeout);
  SITECHAIN_RETURN_IF_ERROR(keys.ApplyText(text, where));
  SITECHAIN_ASSIGN_OR_RETURN(r.kind, ParseRenewalPolicy(policy));
  if (c.isolation != "auto" && c.isolation != "on" && c.isolation != "off") {
    return InvalidArgument(where + ": isolation \"" + c.isolation.substr(0, 20) +
                           "\" (expected auto, on or off)");
  }
  auto range = ParseUidRange(uid_range);
  if (!range.ok()) return range.status().WithContext(where);
  c.service_uid_range = *range;
  if (Status s = r.Validate(); !s.ok()) return s.WithContext(where);
  if (c.site.call_timeout < Seconds(1) || c.site.keepalive_time < Seconds(1) ||
      c.site.keepalive_timeout < Seconds(1) || c.site.connect_timeout < Seconds(1)) {
    return InvalidArgument(where +
                           ": call_timeout, keepalive_time, keepalive_timeout and "
                           "connect_timeout must be at least 1s");
  }
  if (c.node.heartbeat_interval < Seconds(1) || c.node.reconnect_initial < Seconds(1) ||
      c.node.reconnect_max < c.node.reconnect_initial) {
    return InvalidArgument(where +
                           ": heartbeat and reconnect intervals must be at least 1s, "
                           "reconnect_max at least reconnect_initial");
  }
  return c;
}

}  // namespace sitechain::nlsm
