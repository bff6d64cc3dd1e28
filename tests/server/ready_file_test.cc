#include "server/ready_file.h"

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace sitechain::server {
namespace {

TEST(ReadyFileTest, WritesOneJsonLine) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/ready.json";
  ASSERT_TRUE(WriteReadyFile(path, {{"port", 7443}, {"address", "127.0.0.1:7443"}}).ok());
  EXPECT_EQ(testutil::ReadWholeFile(path), "{\"address\":\"127.0.0.1:7443\",\"port\":7443}\n");
  EXPECT_EQ(testutil::ModeOf(path), 0644);
  // A restart replaces the old file; no temporary file is left behind.
  ASSERT_TRUE(WriteReadyFile(path, {{"port", 1}}).ok());
  EXPECT_EQ(testutil::ReadWholeFile(path), "{\"port\":1}\n");
  EXPECT_EQ(dir.Entries(), std::set<std::string>{"ready.json"});
}

TEST(ReadyFileTest, EmptyPathWritesNothing) { EXPECT_TRUE(WriteReadyFile("", {{"port", 1}}).ok()); }

TEST(ReadyFileTest, UnwritableDirectoryIsAnError) {
  testutil::TempDir dir;
  EXPECT_FALSE(WriteReadyFile(dir.path() + "/missing/ready.json", {{"port", 1}}).ok());
}

}  // namespace
}  // namespace sitechain::server
