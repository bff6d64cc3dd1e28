#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace sitechain {

// RFC 3339 in UTC with second precision: "2026-11-22T10:04:05Z".
std::string FormatTime(TimePoint t);

// Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (the form FormatTime writes) or decimal Unix seconds,
// from 1900 up to 2200 (Unix seconds: from 1970); refuses other layouts and dates that do not exist
// (Feb 30).
Result<TimePoint> ParseTime(std::string_view text);

// Parses a duration such as "90s", "15m", "12h", "30d", "2y" (365 days) or a plain number of
// seconds. Refuses negative and empty values and anything over 100 years.
Result<Seconds> ParseDuration(std::string_view text);

}  // namespace sitechain
