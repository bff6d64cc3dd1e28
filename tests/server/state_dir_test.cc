#include "server/state_dir.h"

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace sitechain::server {
namespace {

TEST(StateDirTest, OneLockHolderPerDirectory) {
  testutil::TempDir dir;
  auto first = LockStateDirectory(dir.path(), "store serve");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(testutil::ModeOf(dir.path() + "/serve.lock"), 0600);

  auto second = LockStateDirectory(dir.path(), "store serve");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("another 'store serve' is running on " + dir.path()),
            std::string::npos)
      << second.status().message();

  *first = UniqueFd();  // closing the descriptor releases the lock
  EXPECT_TRUE(LockStateDirectory(dir.path(), "store serve").ok());
}

TEST(StateDirTest, MissingDirectoryIsNotFound) {
  testutil::TempDir dir;
  auto lock = LockStateDirectory(dir.path() + "/missing", "slsm serve");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), StatusCode::kNotFound);
}

TEST(StateDirTest, AdminSocketPathDefaultsToTheDirectory) {
  EXPECT_EQ(AdminSocketPath("/var/lib/store"), "/var/lib/store/admin.sock");
  EXPECT_EQ(AdminSocketPath("/var/lib/store", ""), "/var/lib/store/admin.sock");
  EXPECT_EQ(AdminSocketPath("/var/lib/store", "/run/store.sock"), "/run/store.sock");
}

}  // namespace
}  // namespace sitechain::server
