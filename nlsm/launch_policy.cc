#include "nlsm/launch_policy.h"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace sitechain::nlsm {
namespace {

using nlohmann::json;

std::string Quote(std::string_view s);

Status Refuse(std::string_view key, const std::string& why) {
  return InvalidArgument("site policy: " + Quote(key) + ": " + why +
                         " (a policy the node cannot honour)");
}

// The JSON type name as a person would say it.
std::string TypeName(const json& j) {
  if (j.is_number()) return "a number";
  if (j.is_boolean()) return "a boolean";
  if (j.is_null()) return "null";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Shows a (possibly hostile) string in a message: quoted, at most 40 bytes.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 40)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out + (s.size() > 40 ? "...\"" : "\"");
}

Status ParseArgs(const json& j, std::vector<std::string>& out) {
  if (!j.is_array()) return Refuse("args", "must be an array of strings, not " + TypeName(j));
  if (j.size() > kMaxPolicyArgs) {
    return Refuse("args", "has " + std::to_string(j.size()) + " elements, at most " +
                              std::to_string(kMaxPolicyArgs) + " are allowed");
  }
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string key = "args[" + std::to_string(i) + "]";
    if (!j[i].is_string()) return Refuse(key, "must be a string, not " + TypeName(j[i]));
    const auto& s = j[i].get_ref<const std::string&>();
    if (HasNul(s)) return Refuse(key, "contains a NUL character");
    out.push_back(s);
  }
  return Status::Ok();
}

Status ParseEnv(const json& j, std::map<std::string, std::string>& out) {
  if (!j.is_object()) {
    return Refuse("env", "must be an object of string values, not " + TypeName(j));
  }
  if (j.size() > kMaxPolicyEnv) {
    return Refuse("env", "has " + std::to_string(j.size()) + " variables, at most " +
                             std::to_string(kMaxPolicyEnv) + " are allowed");
  }
  for (const auto& [name, value] : j.items()) {
    if (Status s = CheckPolicyEnvName(name); !s.ok()) return Refuse("env", s.message());
    const std::string key = "env." + name;
    if (!value.is_string()) return Refuse(key, "must be a string, not " + TypeName(value));
    const auto& v = value.get_ref<const std::string&>();
    if (HasNul(v)) return Refuse(key, "contains a NUL character");
    out.emplace(name, v);
  }
  return Status::Ok();
}

Status ParseRestart(const json& j, RestartPolicy& out) {
  if (!j.is_string()) return Refuse("restart", "must be a string, not " + TypeName(j));
  auto parsed = ParseRestartPolicy(j.get_ref<const std::string&>());
  if (!parsed.ok()) return Refuse("restart", parsed.status().message());
  out = *parsed;
  return Status::Ok();
}

Status ParseRenewalSignal(const json& j, int& out) {
  if (!j.is_string()) return Refuse("renewal_signal", "must be a string, not " + TypeName(j));
  const auto& name = j.get_ref<const std::string&>();
  for (auto [n, sig] :
       {std::pair{"none", 0}, {"SIGHUP", SIGHUP}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}}) {
    if (name == n) {
      out = sig;
      return Status::Ok();
    }
  }
  return Refuse("renewal_signal",
                "unknown value " + Quote(name) + " (expected none, SIGHUP, SIGUSR1 or SIGUSR2)");
}

// "64M", "1G", "512K" or a plain number of bytes (a JSON number or a string of digits).
std::optional<uint64_t> ParseBytes(const json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (!j.is_string()) return std::nullopt;
  const auto& s = j.get_ref<const std::string&>();
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t n = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
    n = n * 10 + static_cast<uint64_t>(s[i] - '0');
  if (i == 0 || n > (uint64_t{1} << 40)) return std::nullopt;
  if (i == s.size()) return n;
  if (i + 1 != s.size()) return std::nullopt;
  switch (s[i]) {
    case 'K':
      return n << 10;
    case 'M':
      return n << 20;
    case 'G':
      return n << 30;
    default:
      return std::nullopt;
  }
}

Status ParseLimits(const json& j, ResourceLimits& out) {
  if (!j.is_object()) return Refuse("limits", "must be an object, not " + TypeName(j));
  for (const auto& [key, value] : j.items()) {
    const std::string name = "limits." + key;
    if (key == "memory") {
      const auto bytes = ParseBytes(value);
      if (!bytes || *bytes < kMinMemoryLimit) {
        return Refuse(name,
                      "must be a number of bytes, or a string like \"64M\" (K, M, G), "
                      "of at least 1M");
      }
      out.memory_bytes = *bytes;
    } else if (key == "cpu") {
      if (!value.is_number() || value.get<double>() < 0.01 || value.get<double>() > 1024) {
        return Refuse(name, "must be a number of cores from 0.01 to 1024, e.g. 0.5");
      }
      out.cpu_millicores = static_cast<uint32_t>(value.get<double>() * 1000 + 0.5);
    } else if (key == "pids") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() < 1 ||
          value.get<uint64_t>() > 4194304) {
        return Refuse(name, "must be a whole number of processes from 1 to 4194304");
      }
      out.pids = static_cast<uint32_t>(value.get<uint64_t>());
    } else {
      return Refuse(name, "unknown limit (expected memory, cpu or pids)");
    }
  }
  return Status::Ok();
}

Status ParseSandbox(const json& j, Sandbox& out) {
  if (!j.is_object()) return Refuse("sandbox", "must be an object, not " + TypeName(j));
  for (const auto& [key, value] : j.items()) {
    const std::string name = "sandbox." + key;
    std::optional<bool>* slot = key == "private_tmp"      ? &out.private_tmp
                                : key == "read_only_root" ? &out.read_only_root
                                                          : nullptr;
    if (slot == nullptr)
      return Refuse(name, "unknown option (expected private_tmp or read_only_root)");
    if (!value.is_boolean()) return Refuse(name, "must be true or false, not " + TypeName(value));
    *slot = value.get<bool>();
  }
  return Status::Ok();
}

}  // namespace

std::string_view RestartPolicyName(RestartPolicy policy) {
  switch (policy) {
    case RestartPolicy::kAlways:
      return "always";
    case RestartPolicy::kOnFailure:
      return "on-failure";
    case RestartPolicy::kNever:
      return "never";
  }
  return "?";
}

Result<RestartPolicy> ParseRestartPolicy(std::string_view name) {
  for (auto p : {RestartPolicy::kAlways, RestartPolicy::kOnFailure, RestartPolicy::kNever}) {
    if (name == RestartPolicyName(p)) return p;
  }
  return InvalidArgument("unknown restart policy " + Quote(name) +
                         " (expected always, on-failure or never)");
}

Result<LaunchPolicy> ParseLaunchPolicy(std::string_view text) {
  LaunchPolicy policy;
  if (text.empty()) return policy;
  if (text.size() > kMaxPolicyBytes) {
    return InvalidArgument("site policy: " + std::to_string(text.size()) + " bytes, at most " +
                           std::to_string(kMaxPolicyBytes) +
                           " are allowed (a policy the node cannot honour)");
  }
  // A key given twice would mean one thing to the node (nlohmann keeps the last) and maybe
  // another to the service's parser: refuse it, at any depth.
  std::vector<std::set<std::string>> keys_per_object;
  std::string duplicate;
  const json::parser_callback_t track = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys_per_object.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys_per_object.empty()) keys_per_object.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys_per_object.empty() && parsed.is_string() &&
            !keys_per_object.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  const json j = json::parse(text.begin(), text.end(), track, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return InvalidArgument("site policy: not valid JSON (a policy the node cannot honour)");
  }
  if (!j.is_object()) {
    return InvalidArgument("site policy: must be a JSON object, not " + TypeName(j) +
                           " (a policy the node cannot honour)");
  }
  if (!duplicate.empty()) return Refuse(duplicate, "appears more than once");
  if (auto it = j.find("args"); it != j.end()) {
    SITECHAIN_RETURN_IF_ERROR(ParseArgs(*it, policy.args));
  }
  if (auto it = j.find("env"); it != j.end()) {
    SITECHAIN_RETURN_IF_ERROR(ParseEnv(*it, policy.env));
  }
  if (auto it = j.find("renewal_signal"); it != j.end()) {
    SITECHAIN_RETURN_IF_ERROR(ParseRenewalSignal(*it, policy.renewal_signal));
  }
  if (auto it = j.find("restart"); it != j.end()) {
    SITECHAIN_RETURN_IF_ERROR(ParseRestart(*it, policy.restart));
  }
  if (auto it = j.find("limits"); it != j.end()) {
    SITECHAIN_RETURN_IF_ERROR(ParseLimits(*it, policy.limits));
  }
  if (auto it = j.find("sandbox"); it != j.end()) {
    SITECHAIN_RETURN_IF_ERROR(ParseSandbox(*it, policy.sandbox));
  }
  return policy;
}

}  // namespace sitechain::nlsm
