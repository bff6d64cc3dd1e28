#pragma once
// Configuration files as JSON objects, read through a table of keys: each key names a setter
// that checks and stores its value. An unknown key, a value of the wrong type or a bad duration
// is INVALID_ARGUMENT naming the file and the key, so a typo never goes unnoticed.
//
//   JsonConfigKeys keys;
//   keys.String("listen", config.listen);
//   keys.Duration("heartbeat_timeout", config.heartbeat_timeout);
//   SITECHAIN_RETURN_IF_ERROR(keys.ApplyFile(path));

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sitechain {

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

  // Reads the file (at most 64 KiB) and applies every key in it.
  Status ApplyFile(const std::string& path) const;
  Status Apply(const nlohmann::json& object, const std::string& where) const;

 private:
  std::map<std::string, Setter> setters_;
};

}  // namespace sitechain
