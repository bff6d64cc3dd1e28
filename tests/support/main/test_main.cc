// The main of every GoogleTest program of sitechain: GoogleTest's own, and then the review of
// skips (allowed_skips.h). A test that skipped without a line of tests/allowed_skips.txt allowing
// it fails the program, with the test's name and its reason for skipping.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>

#include "tests/support/main/allowed_skips.h"

namespace {

using sitechain::testutil::SkippedTest;

std::vector<SkippedTest> Skipped(const ::testing::UnitTest& unit) {
  std::vector<SkippedTest> out;
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
    for (int j = 0; j < suite.total_test_count(); ++j) {
      const ::testing::TestInfo& test = *suite.GetTestInfo(j);
      if (!test.should_run() || !test.result()->Skipped()) continue;
      std::string message;
      for (int k = 0; k < test.result()->total_part_count(); ++k) {
        const auto& part = test.result()->GetTestPartResult(k);
        if (part.skipped()) message = part.message();
      }
      out.push_back({std::string(suite.name()) + "." + test.name(), message});
    }
  }
  return out;
}

// 0, or 1 after naming every skip the file does not allow.
int ReviewSkips(const std::vector<SkippedTest>& skipped) {
  if (skipped.empty()) return 0;
  const char* path = SITECHAIN_ALLOWED_SKIPS;
  std::ifstream in(path);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto allowed = sitechain::testutil::ParseAllowedSkips(text);
  if (!in.is_open() || !allowed.ok()) {
    std::cerr << "[ SKIPS    ] cannot read " << path << ": "
              << (allowed.ok() ? "no such file" : allowed.status().ToString()) << "\n";
    return 1;
  }
  const auto unallowed = sitechain::testutil::UnallowedSkips(skipped, *allowed, ::geteuid() == 0);
  for (const std::string& s : unallowed) {
    std::cerr << "[ SKIPS    ] skipped without a line of " << path << " allowing it: " << s << "\n";
  }
  if (!unallowed.empty()) {
    std::cerr << "[ SKIPS    ] " << unallowed.size()
              << " unreviewed skip(s): fix what the test needs, or add a line with the reason\n";
    return 1;
  }
  std::cerr << "[ SKIPS    ] " << skipped.size() << " skip(s), each allowed by " << path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  const int skips = ReviewSkips(Skipped(*::testing::UnitTest::GetInstance()));
  return rc != 0 ? rc : skips;
}
