// ReleaseCounters on a real directory: what it records survives a reload (a restart), it only
// grows, 0 is a recorded counter, and a damaged file stops the node instead of being forgotten.
#include "nlsm/release_counters.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/files.h"
#include "tests/support/test_chain.h"

namespace sitechain::nlsm {
namespace {

using testing::TempDir;

TEST(ReleaseCountersTest, NoFileIsAnEmptyRecord) {
  TempDir dir;
  ReleaseCounters counters(dir.path());
  ASSERT_TRUE(counters.Load().ok());
  EXPECT_FALSE(counters.Highest("hello"));
  EXPECT_FALSE(PathExists(counters.path()));
}

TEST(ReleaseCountersTest, RecordsOnlyGrowAndSurviveAReload) {
  TempDir dir;
  {
    ReleaseCounters counters(dir.path());
    ASSERT_TRUE(counters.Load().ok());
    ASSERT_TRUE(counters.Record("hello", 0).ok());
    EXPECT_EQ(counters.Highest("hello"), 0u);  // 0 is a counter, not "none"
    ASSERT_TRUE(counters.Record("hello", 5).ok());
    ASSERT_TRUE(counters.Record("hello", 3).ok());  // lower: ignored
    ASSERT_TRUE(counters.Record("other", (uint64_t{1} << 63) - 1).ok());
    EXPECT_EQ(counters.Highest("hello"), 5u);
    EXPECT_EQ(FileMode(counters.path()).value(), 0600u);
  }
  ReleaseCounters again(dir.path());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Highest("hello"), 5u);
  EXPECT_EQ(again.Highest("other"), (uint64_t{1} << 63) - 1);
  EXPECT_FALSE(again.Highest("third"));
}

TEST(ReleaseCountersTest, ADamagedFileIsDataLossNotAnEmptyRecord) {
  for (const std::string bad :
       {"{", "[]", R"({"format":2,"highest":{}})", R"({"format":1})",
        R"({"format":1,"highest":{"hello":-1}})", R"({"format":1,"highest":{"hello":"7"}})"}) {
    TempDir dir;
    ReleaseCounters counters(dir.path());
    ASSERT_TRUE(WriteFileAtomic(counters.path(), bad, 0600).ok());
    const Status s = counters.Load();
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << bad << ": " << s.ToString();
    EXPECT_NE(s.message().find("rule 7"), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace sitechain::nlsm
