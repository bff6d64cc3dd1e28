#pragma once
// The sweep's output: one CSV row / JSON object per (policy, amount of services). Columns are
// documented in docs/simulator.md; sim/plot_fig3.py reads the CSV.

#include <ostream>
#include <span>
#include <string>

#include "sim/message_sizes.h"
#include "sim/sweep.h"

namespace sitechain::sim {

void WriteCsv(std::ostream& out, std::span<const CellResult> cells);

// `settings` is echoed under "settings" (the command line, as the caller describes it).
void WriteJson(std::ostream& out, std::span<const CellResult> cells, const MessageSizes& sizes,
               const std::string& settings_json);

}  // namespace sitechain::sim
