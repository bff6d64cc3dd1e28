#include "common/json_config.h"

#include "common/files.h"
#include "common/time_format.h"

namespace sitechain {
namespace {

Status Expect(bool ok, const std::string& key, const std::string& what) {
  return ok ? Status::Ok() : InvalidArgument("key '" + key + "' must be " + what);
}

}  // namespace

void JsonConfigKeys::String(const std::string& key, std::string& out) {
  setters_[key] = [&out, key](const nlohmann::json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(Expect(v.is_string(), key, "a string"));
    out = v.get<std::string>();
    return Status::Ok();
  };
}

void JsonConfigKeys::Strings(const std::string& key, std::vector<std::string>& out) {
  setters_[key] = [&out, key](const nlohmann::json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(Expect(v.is_array(), key, "an array of strings"));
    std::vector<std::string> values;
    for (const auto& s : v) {
      SITECHAIN_RETURN_IF_ERROR(Expect(s.is_string(), key, "an array of strings"));
      values.push_back(s.get<std::string>());
    }
    out = std::move(values);
    return Status::Ok();
  };
}

void JsonConfigKeys::Duration(const std::string& key, Seconds& out) {
  setters_[key] = [&out, key](const nlohmann::json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(Expect(v.is_string() || v.is_number_unsigned(), key,
                                     "a duration such as \"5000s\" or \"24h\""));
    // A number of seconds passes the same checks (at most 100 years) as "<n>s".
    auto d = ParseDuration(v.is_string() ? v.get<std::string>()
                                         : std::to_string(v.get<uint64_t>()) + "s");
    if (!d.ok()) return d.status().WithContext("key '" + key + "'");
    out = *d;
    return Status::Ok();
  };
}

void JsonConfigKeys::Number(const std::string& key, double& out) {
  setters_[key] = [&out, key](const nlohmann::json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(
        Expect(v.is_number() && v.get<double>() >= 0, key, "a non-negative number"));
    out = v.get<double>();
    return Status::Ok();
  };
}

void JsonConfigKeys::Unsigned(const std::string& key, uint64_t& out) {
  setters_[key] = [&out, key](const nlohmann::json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(Expect(v.is_number_unsigned(), key, "a non-negative integer"));
    out = v.get<uint64_t>();
    return Status::Ok();
  };
}

void JsonConfigKeys::Boolean(const std::string& key, bool& out) {
  setters_[key] = [&out, key](const nlohmann::json& v) -> Status {
    SITECHAIN_RETURN_IF_ERROR(Expect(v.is_boolean(), key, "true or false"));
    out = v.get<bool>();
    return Status::Ok();
  };
}

void JsonConfigKeys::Custom(const std::string& key, Setter setter) {
  setters_[key] = std::move(setter);
}

Status JsonConfigKeys::Apply(const nlohmann::json& object, const std::string& where) const {
  if (!object.is_object()) return InvalidArgument(where + " must hold a JSON object");
  for (const auto& [key, value] : object.items()) {
    auto it = setters_.find(key);
    if (it == setters_.end()) {
      std::string known;
      for (const auto& [k, s] : setters_) known += (known.empty() ? "" : ", ") + k;
      return InvalidArgument(where + ": unknown key '" + key + "' (known: " + known + ")");
    }
    if (Status s = it->second(value); !s.ok()) return s.WithContext(where);
  }
  return Status::Ok();
}

Status JsonConfigKeys::ApplyFile(const std::string& path) const {
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, kMaxConfigFileBytes));
  return ApplyText(text, path);
}

Status JsonConfigKeys::ApplyText(std::string_view text, const std::string& where) const {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(where + " is not valid JSON: " + e.what());
  }
  return Apply(json, where);
}

}  // namespace sitechain
