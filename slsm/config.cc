#include "slsm/config.h"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/time_format.h"

namespace sitechain::slsm {
namespace {

using Json = nlohmann::json;
using Setter = std::function<Status(const Json&)>;

Status Expect(bool ok, const std::string& key, const std::string& what) {
  return ok ? Status::Ok() : InvalidArgument("config key '" + key + "' must be " + what);
}

Setter String(const std::string& key, std::string& out) {
  return [&out, key](const Json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(Expect(v.is_string(), key, "a string"));
    out = v.get<std::string>();
    return Status::Ok();
  };
}

Setter Duration(const std::string& key, Seconds& out) {
  return [&out, key](const Json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(Expect(v.is_string(), key, "a duration string such as \"5000s\""));
    auto d = ParseDuration(v.get<std::string>());
    if (!d.ok()) return d.status().WithContext("config key '" + key + "'");
    out = *d;
    return Status::Ok();
  };
}

template <typename Number>
Setter NumberOf(const std::string& key, Number& out) {
  return [&out, key](const Json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(
        Expect(v.is_number() && v.get<double>() >= 0, key, "a non-negative number"));
    out = v.get<Number>();
    return Status::Ok();
  };
}

Status Apply(const std::string& path, SlsmConfig& c) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 64 << 10));
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::exception& e) {
    return InvalidArgument(path + " is not valid JSON: " + e.what());
  }
  if (!json.is_object()) return InvalidArgument(path + " must hold a JSON object");
  SiteOptions& o = c.site_options;
  const std::map<std::string, Setter> setters = {
      {"site", String("site", c.site)},
      {"store", String("store", c.store)},
      {"listen", String("listen", c.listen)},
      {"admin_socket", String("admin_socket", c.admin_socket)},
      {"tls_names",
       [&c](const Json& v) -> Status {
         SITECHAIN_RETURN_IF_ERROR(Expect(v.is_array(), "tls_names", "an array of strings"));
         c.tls_names.clear();
         for (const auto& n : v) {
           SITECHAIN_RETURN_IF_ERROR(Expect(n.is_string(), "tls_names", "an array of strings"));
           c.tls_names.push_back(n.get<std::string>());
         }
         return Status::Ok();
       }},
      {"tls_lifetime", Duration("tls_lifetime", c.tls_lifetime)},
      {"heartbeat_timeout", Duration("heartbeat_timeout", c.heartbeat_timeout)},
      {"log_level", String("log_level", c.log_level)},
      {"ready_file", String("ready_file", c.ready_file)},
      {"cert_site_lifetime", Duration("cert_site_lifetime", o.cert_site_lifetime)},
      {"node_lifetime", Duration("node_lifetime", o.node_lifetime)},
      {"default_token_ttl", Duration("default_token_ttl", o.default_token_ttl)},
      {"max_token_ttl", Duration("max_token_ttl", o.max_token_ttl)},
      {"renew_window_start", NumberOf("renew_window_start", o.renew_window_start)},
      {"renew_window_end", NumberOf("renew_window_end", o.renew_window_end)},
      {"max_issuance_per_second", NumberOf("max_issuance_per_second", o.max_issuance_per_second)},
      {"issuance_burst", NumberOf("issuance_burst", o.issuance_burst)},
      {"policy_push_window", Duration("policy_push_window", o.policy_push_window)},
      {"max_executable_bytes", NumberOf("max_executable_bytes", o.max_executable_bytes)},
      {"max_policy_bytes", NumberOf("max_policy_bytes", o.max_policy_bytes)},
      {"clock_skew", Duration("clock_skew", o.verify.clock_skew)},
  };
  for (const auto& [key, value] : json.items()) {
    auto it = setters.find(key);
    if (it == setters.end()) {
      return InvalidArgument(path + ": unknown config key '" + key +
                             "' (docs/operations.md lists the keys)");
    }
    if (Status s = it->second(value); !s.ok()) return s.WithContext(path);
  }
  return Status::Ok();
}

}  // namespace

Result<SlsmConfig> LoadConfig(const std::string& dir, const std::string& override_path) {
  SlsmConfig c;
  const std::string base = dir + "/slsm.json";
  if (!PathExists(base)) {
    return FailedPrecondition(dir + " holds no site manager (no slsm.json); run slsm init --dir " +
                              dir);
  }
  SITECHAIN_RETURN_IF_ERROR(Apply(base, c));
  if (!override_path.empty()) SITECHAIN_RETURN_IF_ERROR(Apply(override_path, c));
  if (c.store.empty()) return InvalidArgument("the config names no store (key 'store')");
  if (c.tls_names.empty()) return InvalidArgument("the config names no TLS name ('tls_names')");
  if (c.heartbeat_timeout < Seconds(1)) {
    return InvalidArgument("heartbeat_timeout must be at least 1s");
  }
  SITECHAIN_RETURN_IF_ERROR(c.site_options.Validate());
  return c;
}

Status WriteInitialConfig(const std::string& dir, const std::string& site,
                          const std::string& store) {
  const Json json = {{"site", site}, {"store", store}};
  return WriteFileAtomic(dir + "/slsm.json", json.dump(2) + "\n", 0644, false);
}

}  // namespace sitechain::slsm
