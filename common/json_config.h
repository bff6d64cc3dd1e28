#pragma once
// Configuration files as JSON objects, read through a table of keys: each key names a setter
// that checks and stores its value. An unknown key, a value of the wrong type or a bad duration
// is INVALID_ARGUMENT naming the file and the key, so a typo never goes unnoticed.
//
//   JsonConfigKeys keys;
//   keys.String("listen", config.listen);
//   keys.Duration("heartbeat_timeout", config.heartbeat_timeout);
//   SITECHAIN_RETURN_IF_ERROR(keys.ApplyFile(path));

#include <cstddef>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sitechain {

// The most a configuration file may hold.
inline constexpr size_t kMaxConfigFileBytes = 64 << 10;

class JsonConfigKeys final {
 public:
  using Setter = std::function<Status(const nlohmann::json&)>;

  void String(const std::string& key, std::string& out);
  void Strings(const std::string& key, std::vector<std::string>& out);
  // A duration string ("5000s", "24h", "7d") or a number of seconds; at most 100 years either way
  // (ParseDuration).
  void Duration(const std::string& key, Seconds& out);
  void Number(const std::string& key, double& out);
  void Unsigned(const std::string& key, uint64_t& out);
  void Boolean(const std::string& key, bool& out);
  void Custom(const std::string& key, Setter setter);

  // Reads the file (at most kMaxConfigFileBytes) and applies every key in it (ApplyText).
  Status ApplyFile(const std::string& path) const;
  // Parses the text as JSON and applies every key in it; `where` (the file's path) names the
  // text in errors. INVALID_ARGUMENT for text that is not JSON, and as Apply.
  Status ApplyText(std::string_view text, const std::string& where) const;
  // Applies every key of the object in turn. INVALID_ARGUMENT naming `where` for something else
  // than an object, and naming the key too for an unknown key or a value its setter refuses (the
  // keys before it are applied by then).
  Status Apply(const nlohmann::json& object, const std::string& where) const;

 private:
  std::map<std::string, Setter> setters_;
};

}  // namespace sitechain
