#pragma once
// Logging for the daemons: spdlog to stderr (journald adds its own timestamps under systemd, but
// a plain terminal run needs them too), one line per event, "key=value" details.
//
//   spdlog::info("published name={} version={}", name, version);

#include <spdlog/spdlog.h>

#include <string_view>

#include "common/status.h"

namespace sitechain {

// Sets the level ("trace", "debug", "info", "warn", "error", "off") and the line format
// "2026-11-22T10:00:00.123Z info store: <message>". INVALID_ARGUMENT for an unknown level.
Status InitLogging(std::string_view program, std::string_view level);

}  // namespace sitechain
