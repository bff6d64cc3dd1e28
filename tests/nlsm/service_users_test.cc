#include "nlsm/service_users.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/common/temp_dir.h"

namespace sitechain::nlsm {
namespace {

TEST(UidRange, ParsesARangeAndRefusesOnesTheNodeMustNotUse) {
  auto r = ParseUidRange("1900000000-1900099999");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first, 1900000000u);
  EXPECT_EQ(r->last, 1900099999u);
  EXPECT_EQ(r->ToString(), "1900000000-1900099999");
  for (const char* bad :
       {"", "1900000000", "a-b", "5-3", "0-10", "60000-62000", "61184-61184", "65519-70000",
        "65534-65534", "65535-65540", "2000000000-2147483648", "10-20x", "-5-10"}) {
    auto refused = ParseUidRange(bad);
    EXPECT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(refused.status().message().find("service_uid_range"), std::string::npos);
  }
  EXPECT_NE(ParseUidRange("60000-62000").status().message().find("DynamicUser"), std::string::npos);
}

TEST(ServiceUsers, EachServiceGetsItsOwnUidKeptAcrossRestarts) {
  testutil::TempDir dir;
  const UidRange range{200000, 200009};
  {
    auto users = ServiceUsers::Open(dir.path(), range);
    ASSERT_TRUE(users.ok()) << users.status().ToString();
    auto a = users->For("thermo");
    auto b = users->For("collector");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, (ServiceUser{200000, 200000}));
    EXPECT_EQ(*b, (ServiceUser{200001, 200001}));
    EXPECT_EQ(*users->For("thermo"), *a);  // the same service, the same user
  }
  auto again = ServiceUsers::Open(dir.path(), range);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->For("collector")->uid, 200001u);
  EXPECT_EQ(again->For("new")->uid, 200002u);  // never one handed out before
}

TEST(ServiceUsers, AUidIsNeverHandedOutTwiceAndAUsedUpRangeIsRefused) {
  testutil::TempDir dir;
  auto users = ServiceUsers::Open(dir.path(), UidRange{300000, 300001});
  ASSERT_TRUE(users.ok());
  ASSERT_TRUE(users->For("a").ok());
  ASSERT_TRUE(users->For("b").ok());
  auto c = users->For("c");
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted) << c.status().ToString();
  // A wider range later: new services continue above what was handed out.
  auto wider = ServiceUsers::Open(dir.path(), UidRange{300000, 300009});
  ASSERT_TRUE(wider.ok());
  EXPECT_EQ(wider->For("c")->uid, 300002u);
  EXPECT_EQ(wider->For("a")->uid, 300000u);
}

TEST(ServiceUsers, AUidTheHostAlreadyHasIsSkipped) {
  testutil::TempDir dir;
  // 400000 and 400002 belong to users (or groups) of the host.
  auto users = ServiceUsers::Open(dir.path(), UidRange{400000, 400003},
                                  [](uid_t id) { return id == 400000 || id == 400002; });
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->For("a")->uid, 400001u);
  EXPECT_EQ(users->For("b")->uid, 400003u);
  EXPECT_EQ(users->For("c").status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(ServiceUsers::KnownToTheHost(0));  // root, on every host
}

TEST(ServiceUsers, ACorruptTableIsDataLossNotAFreshStart) {
  testutil::TempDir dir;
  ASSERT_TRUE(testutil::WriteWholeFile(dir.Path("users.json"), "{\"services\": {\"a\": -1}}"));
  auto users = ServiceUsers::Open(dir.path(), UidRange{});
  EXPECT_EQ(users.status().code(), StatusCode::kDataLoss) << users.status().ToString();
  ASSERT_TRUE(testutil::WriteWholeFile(dir.Path("users.json"), "not json"));
  EXPECT_EQ(ServiceUsers::Open(dir.path(), UidRange{}).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace sitechain::nlsm
