#include "common/time_format.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace sitechain {

std::string FormatTime(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<TimePoint> ParseTime(std::string_view text) {
  int64_t unix_seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), unix_seconds);
  if (ec == std::errc() && end == text.data() + text.size()) {
    return TimePoint(Seconds(unix_seconds));
  }
  std::tm tm{};
  char z = 0;
  int consumed = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z, &consumed) != 7 ||
      z != 'Z' || static_cast<size_t>(consumed) != s.size()) {
    return InvalidArgument("'" + s + "' is not a time: use 2026-11-22T10:04:05Z or Unix seconds");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t tt = timegm(&tm);
  return std::chrono::system_clock::from_time_t(tt);
}

Result<Seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return InvalidArgument("empty duration");
  int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      digits.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      digits.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      digits.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      digits.remove_suffix(1);
      break;
    case 'y':
      unit = 365 * 86400;
      digits.remove_suffix(1);
      break;
    default:
      break;
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a duration: use e.g. 90s, 15m, 12h, 30d, 2y");
  }
  if (n > static_cast<uint64_t>(INT64_MAX / unit) / 1000) {
    return InvalidArgument("duration '" + std::string(text) + "' is too long");
  }
  return Seconds(static_cast<int64_t>(n) * unit);
}

}  // namespace sitechain
