// The JSON configuration reader of the slsm and the nlsm (common/json_config.h) on arbitrary
// text: the text is parsed as JSON as ApplyFile does, then applied through a key table with one
// key of every kind and the daemons' real key names.
//
// Invariants: nothing crashes or throws; a value accepted for a key keeps the key's contract
// (durations are 0 to 100 years, as ParseDuration allows; numbers are never negative).

#include <nlohmann/json.hpp>

#include "common/json_config.h"
#include "tests/fuzz/fuzz_check.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json json = nlohmann::json::parse(fuzz::Text(data, size), nullptr,
                                              /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;

  std::string site, log_level;
  std::vector<std::string> tls_names;
  Seconds heartbeat_timeout{30}, cert_site_lifetime{3600}, stop_grace{10};
  double renew_window_start = 0.5, max_issuance_per_second = 100;
  uint64_t max_executable_bytes = 1 << 20;
  bool honour_suggested_window = true;
  std::string custom;

  JsonConfigKeys keys;
  keys.String("site", site);
  keys.String("log_level", log_level);
  keys.Strings("tls_names", tls_names);
  keys.Duration("heartbeat_timeout", heartbeat_timeout);
  keys.Duration("cert_site_lifetime", cert_site_lifetime);
  keys.Duration("stop_grace", stop_grace);
  keys.Number("renew_window_start", renew_window_start);
  keys.Number("max_issuance_per_second", max_issuance_per_second);
  keys.Unsigned("max_executable_bytes", max_executable_bytes);
  keys.Boolean("honour_suggested_window", honour_suggested_window);
  keys.Custom("custom", [&custom](const nlohmann::json& v) -> Status {
    custom = v.dump();
    return Status::Ok();
  });

  if (!keys.Apply(json, "fuzz.json").ok()) return 0;
  constexpr Seconds kCentury(100LL * 365 * 86400);  // ParseDuration's limit
  for (Seconds d : {heartbeat_timeout, cert_site_lifetime, stop_grace}) {
    FUZZ_CHECK(d >= Seconds(0) && d <= kCentury,
               "duration of " + std::to_string(d.count()) + "s accepted");
  }
  FUZZ_CHECK(renew_window_start >= 0 && max_issuance_per_second >= 0, "negative number accepted");
  return 0;
}
