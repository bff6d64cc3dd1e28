#pragma once
// Reading what programs logged, for the tests of the telemetry example (no std::regex: GCC 12's
// <regex> trips -Werror=maybe-uninitialized in the sanitizer build).

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace sitechain::testing {

// Each token (a run of characters up to the next space or line end) that follows `prefix` in
// `text`, in order; a token must not be empty.
inline std::vector<std::string> TokensAfter(std::string_view text, std::string_view prefix) {
  std::vector<std::string> out;
  for (size_t at = text.find(prefix); at != std::string_view::npos;
       at = text.find(prefix, at + 1)) {
    const size_t begin = at + prefix.size();
    const size_t end = text.find_first_of(" \n", begin);
    std::string token(text.substr(begin, end == std::string_view::npos ? text.npos : end - begin));
    if (!token.empty()) out.push_back(std::move(token));
  }
  return out;
}

// The counts of the last "sensor: <n> ok, <m> failed" line of the telemetry sensor's log; -1
// if there is none.
struct SensorCounts {
  long ok = -1, failed = -1;
};
inline SensorCounts LastSensorCounts(std::string_view log) {
  SensorCounts counts;
  constexpr std::string_view kPrefix = "sensor: ";
  for (size_t at = log.find(kPrefix); at != std::string_view::npos;
       at = log.find(kPrefix, at + 1)) {
    const size_t end = log.find('\n', at);
    const std::string line(log.substr(at, end == std::string_view::npos ? log.npos : end - at));
    long ok = 0, failed = 0;
    char tail[8] = {};
    if (std::sscanf(line.c_str(), "sensor: %ld ok, %ld %7s", &ok, &failed, tail) == 3 &&
        std::string_view(tail) == "failed") {
      counts = {ok, failed};
    }
  }
  return counts;
}

}  // namespace sitechain::testing
