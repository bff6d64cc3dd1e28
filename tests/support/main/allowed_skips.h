#pragma once
// The review of skipped tests: a test that called GTEST_SKIP passes for ctest, so a skip must be
// allowed by a line of tests/allowed_skips.txt (its name, the condition under which it may skip,
// the reason), or the test program fails. Pure functions; test_main.cc applies them.
//
//   Result<std::vector<AllowedSkip>> list = ParseAllowedSkips(text);
//   std::vector<std::string> bad = UnallowedSkips(skipped, *list, /*as_root=*/geteuid() == 0);

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sitechain::testutil {

// One line of the file: `<Suite.Test> <condition> <reason>`.
struct AllowedSkip {
  std::string test;       // "Suite.Test", exactly
  std::string condition;  // "non-root"
  std::string reason;
};

// A test that skipped, and the message it gave.
struct SkippedTest {
  std::string test;  // "Suite.Test"
  std::string message;
};

// Parses the file. INVALID_ARGUMENT, naming the line, for a line without a reason or with a
// condition other than "non-root" (a typo must not allow a skip silently).
Result<std::vector<AllowedSkip>> ParseAllowedSkips(std::string_view text);

// The skips no line allows, each as "Suite.Test: message". A "non-root" line allows a skip only
// when as_root is false.
std::vector<std::string> UnallowedSkips(const std::vector<SkippedTest>& skipped,
                                        const std::vector<AllowedSkip>& allowed, bool as_root);

}  // namespace sitechain::testutil
