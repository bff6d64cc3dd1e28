#include "tests/support/main/allowed_skips.h"

#include <sstream>

namespace sitechain::testutil {

Result<std::vector<AllowedSkip>> ParseAllowedSkips(std::string_view text) {
  std::vector<AllowedSkip> out;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::istringstream words(line.substr(start));
    AllowedSkip skip;
    words >> skip.test >> skip.condition;
    std::getline(words >> std::ws, skip.reason);
    const std::string where = "allowed skips, line " + std::to_string(number) + ": ";
    if (skip.condition != "non-root") {
      return InvalidArgument(where + "the condition '" + skip.condition +
                             "' is not one of: non-root");
    }
    if (skip.reason.empty()) return InvalidArgument(where + "a skip needs its reason");
    out.push_back(std::move(skip));
  }
  return out;
}

std::vector<std::string> UnallowedSkips(const std::vector<SkippedTest>& skipped,
                                        const std::vector<AllowedSkip>& allowed, bool as_root) {
  std::vector<std::string> out;
  for (const SkippedTest& s : skipped) {
    bool ok = false;
    for (const AllowedSkip& a : allowed) ok = ok || (a.test == s.test && !as_root);
    if (!ok) out.push_back(s.test + ": " + s.message);
  }
  return out;
}

}  // namespace sitechain::testutil
