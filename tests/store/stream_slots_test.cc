// Tests of StreamSlots (store/stream_slots.h): the limits on concurrent revocation watches, in
// total and per peer address, and how a gRPC peer string is turned into the address counted.

#include "store/stream_slots.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace sitechain::store {
namespace {

TEST(StreamSlotsTest, OneAddressGetsAtMostItsShareAndTheOthersAreStillServed) {
  StreamSlots slots("revocation watches", 10, 2, "--max-revocation-watchers",
                    "--max-revocation-watchers-per-address");
  std::vector<StreamSlots::Slot> held;
  for (int i = 0; i < 2; ++i) {
    auto s = slots.Acquire("10.0.0.1");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    held.push_back(std::move(*s));
  }
  auto refused = slots.Acquire("10.0.0.1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "too many revocation watches from 10.0.0.1: at most 2 at once per address "
            "(--max-revocation-watchers-per-address); close one, or retry later");
  EXPECT_TRUE(slots.Acquire("10.0.0.2").ok());  // released at once (a temporary)
  EXPECT_EQ(slots.open(), 2u);
  EXPECT_EQ(slots.open_from("10.0.0.1"), 2u);
  held.pop_back();  // one stream ends: its place is free again
  EXPECT_EQ(slots.open_from("10.0.0.1"), 1u);
  EXPECT_TRUE(slots.Acquire("10.0.0.1").ok());
}

TEST(StreamSlotsTest, TheTotalIsBoundedWhateverTheAddresses) {
  StreamSlots slots("revocation watches", 3, 2, "--max-revocation-watchers",
                    "--max-revocation-watchers-per-address");
  std::vector<StreamSlots::Slot> held;
  for (const char* peer : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
    auto s = slots.Acquire(peer);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    held.push_back(std::move(*s));
  }
  auto refused = slots.Acquire("10.0.0.4");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "this store serves at most 3 revocation watches at once (--max-revocation-watchers); "
            "retry later");
  EXPECT_EQ(slots.open_from("10.0.0.4"), 0u);
  held.clear();
  EXPECT_EQ(slots.open(), 0u);
  EXPECT_TRUE(slots.Acquire("10.0.0.4").ok());
}

TEST(StreamSlotsTest, SlotsMoveWithoutCountingTwice) {
  StreamSlots slots("revocation watches", 5, 5, "total", "per address");
  {
    auto s = slots.Acquire("a");
    ASSERT_TRUE(s.ok());
    StreamSlots::Slot moved(std::move(*s));
    EXPECT_EQ(slots.open(), 1u);
  }
  EXPECT_EQ(slots.open(), 0u);
}

TEST(PeerAddressTest, CountsHostsNotConnections) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:54321"), "127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv4:10.1.2.3:1"), "10.1.2.3");
  EXPECT_EQ(PeerAddress("ipv6:[::ffff:192.0.2.7]:443"), "192.0.2.7");
  EXPECT_EQ(PeerAddress("ipv6:[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443"), "2001:db8:1:2::/64");
  EXPECT_EQ(PeerAddress("ipv6:[2001:db8:1:2::9]:8443"), PeerAddress("ipv6:[2001:db8:1:2::1]:1"));
  EXPECT_EQ(PeerAddress("ipv6:[::1]:443"), "::/64");
  EXPECT_EQ(PeerAddress("unix:/run/store.sock"), "unix:/run/store.sock");
}

}  // namespace
}  // namespace sitechain::store
