// The review of skipped tests (tests/support/main/): the file's rules, and a test program that
// skips without a line allowing it fails.

#include "tests/support/main/allowed_skips.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/openssl.h"

namespace sitechain::testutil {
namespace {

TEST(AllowedSkipsTest, ParsesTestConditionAndReasonAndIgnoresComments) {
  auto list = ParseAllowedSkips(
      "# comment\n\n  A.B non-root mounting a tmpfs needs root\nC.D non-root why\n");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].test, "A.B");
  EXPECT_EQ((*list)[0].condition, "non-root");
  EXPECT_EQ((*list)[0].reason, "mounting a tmpfs needs root");
  EXPECT_EQ((*list)[1].test, "C.D");
}

TEST(AllowedSkipsTest, AnUnknownConditionOrAMissingReasonIsAnErrorNamingTheLine) {
  auto typo = ParseAllowedSkips("# c\nA.B nonroot because\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(typo.status().message().find("line 2"), std::string::npos) << typo.status().ToString();
  EXPECT_NE(typo.status().message().find("nonroot"), std::string::npos);

  auto bare = ParseAllowedSkips("A.B non-root\n");
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("reason"), std::string::npos) << bare.status().ToString();
}

TEST(AllowedSkipsTest, ANonRootLineAllowsItsTestOnlyWhenNotRoot) {
  const std::vector<AllowedSkip> allowed = {{"A.B", "non-root", "needs root"}};
  const std::vector<SkippedTest> skipped = {{"A.B", "cannot mount"}, {"X.Y", "no faketime"}};
  EXPECT_EQ(UnallowedSkips(skipped, allowed, /*as_root=*/false),
            std::vector<std::string>{"X.Y: no faketime"});
  EXPECT_EQ(UnallowedSkips(skipped, allowed, /*as_root=*/true),
            (std::vector<std::string>{"A.B: cannot mount", "X.Y: no faketime"}));
  EXPECT_TRUE(UnallowedSkips({}, {}, true).empty());
}

// Runs only when asked (disabled, and skips only with SITECHAIN_SKIP_PROBE set): the skip of the
// test below.
TEST(DISABLED_SkipReviewProbe, Skips) {
  if (std::getenv("SITECHAIN_SKIP_PROBE") != nullptr) GTEST_SKIP() << "the probe skips";
}

TEST(SkipReviewTest, ATestProgramWithAnUnallowedSkipFailsNamingTheTest) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const testing::CommandResult r = testing::RunCommand(
      {"/usr/bin/env", "SITECHAIN_SKIP_PROBE=1", self, "--gtest_also_run_disabled_tests",
       "--gtest_filter=DISABLED_SkipReviewProbe.Skips"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("[  SKIPPED ] DISABLED_SkipReviewProbe.Skips"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("skipped without a line of"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("DISABLED_SkipReviewProbe.Skips: the probe skips"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace sitechain::testutil
