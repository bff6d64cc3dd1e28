#pragma once
// The telemetry examples' log: one line on stdout per call, prefixed with the UTC time to the
// millisecond ("2026-01-01T00:00:00.123Z collector: ..."), flushed at once so that a reader of the
// log file (the node manager keeps it as the instance's stdout.log) sees each line as it happens.
// Thread-safe: lines from several threads never interleave.

#include <string_view>

namespace sitechain::examples {

void LogLine(std::string_view line);

}  // namespace sitechain::examples
