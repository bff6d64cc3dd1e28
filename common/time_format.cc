#include "common/time_format.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <utility>

namespace sitechain {

std::string FormatTime(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {
// The latest time sitechain accepts: system_clock counts nanoseconds in 64 bits and ends in
// 2262, so times are capped well before that, at 2200-01-01T00:00:00Z.
constexpr int64_t kMaxUnixSeconds = 7258118400;
constexpr int64_t kMinUnixSeconds = -2208988800;  // 1900-01-01T00:00:00Z
}  // namespace

Result<TimePoint> ParseTime(std::string_view text) {
  const std::string s(text);
  auto bad = [&] {
    return InvalidArgument("'" + s +
                           "' is not a time: use 2026-11-22T10:04:05Z or Unix seconds "
                           "(years 1900 to 2199)");
  };
  int64_t unix_seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), unix_seconds);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty() && text[0] != '-') {
    if (unix_seconds > kMaxUnixSeconds) return bad();
    return TimePoint(Seconds(unix_seconds));
  }
  // Exactly YYYY-MM-DDTHH:MM:SSZ, every field its full width of digits.
  static constexpr std::string_view kLayout = "dddd-dd-ddTdd:dd:ddZ";
  if (text.size() != kLayout.size()) return bad();
  for (size_t i = 0; i < kLayout.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (kLayout[i] == 'd' ? !digit : text[i] != kLayout[i]) return bad();
  }
  auto field = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  std::tm tm{};
  tm.tm_year = field(0, 4) - 1900;
  tm.tm_mon = field(5, 2) - 1;
  tm.tm_mday = field(8, 2);
  tm.tm_hour = field(11, 2);
  tm.tm_min = field(14, 2);
  tm.tm_sec = field(17, 2);
  const std::time_t tt = timegm(&tm);
  // timegm normalises out-of-range fields (Feb 30 -> Mar 2): refuse any that moved.
  if (tt < kMinUnixSeconds || tt > kMaxUnixSeconds) return bad();
  const TimePoint t = std::chrono::system_clock::from_time_t(tt);
  if (FormatTime(t) != s) return bad();
  return t;
}

Result<Seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return InvalidArgument("empty duration");
  static constexpr std::pair<char, int64_t> kUnits[] = {
      {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'y', 365 * 86400}};
  int64_t unit = 1;
  std::string_view digits = text;
  for (const auto& [suffix, seconds] : kUnits) {
    if (text.back() == suffix) {
      unit = seconds;
      digits.remove_suffix(1);
    }
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a duration: use e.g. 90s, 15m, 12h, 30d, 2y");
  }
  // A century is more than any certificate or timer needs, and keeps now + d far from the
  // end of the clock's range.
  constexpr uint64_t kMaxSeconds = 100ULL * 365 * 86400;
  if (n > kMaxSeconds / static_cast<uint64_t>(unit)) {
    return InvalidArgument("duration '" + std::string(text) + "' is longer than 100 years");
  }
  return Seconds(static_cast<int64_t>(n) * unit);
}

}  // namespace sitechain
