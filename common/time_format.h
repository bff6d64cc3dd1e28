#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace sitechain {

// RFC 3339 in UTC with second precision: "2026-11-22T10:04:05Z".
std::string FormatTime(TimePoint t);

// Parses "YYYY-MM-DDTHH:MM:SSZ" (the form FormatTime writes) or a decimal Unix time.
Result<TimePoint> ParseTime(std::string_view text);

// Parses a duration such as "90s", "15m", "12h", "30d", "2y" (365 days) or a plain number of
// seconds. Refuses negative, empty and overflowing values.
Result<Seconds> ParseDuration(std::string_view text);

}  // namespace sitechain
