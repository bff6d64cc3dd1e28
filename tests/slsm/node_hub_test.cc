// Tests of NodeHub (slsm/node_hub.h): the command streams of connected nodes. Time comes from a
// ManualClock; tests that involve a blocked Next() wait for its thread with a deadline instead of
// sleeping.

#include "slsm/node_hub.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm {
namespace {

using std::chrono::milliseconds;
using Kind = NodeCommand::Kind;

constexpr Seconds kTimeout{30};
// Long enough never to expire in a passing test; a broken wake-up fails the deadline below first.
constexpr milliseconds kBlock{60'000};
constexpr milliseconds kDeadline{20'000};
// Next() on an empty queue that should time out at once.
constexpr milliseconds kNoWait{0};

class NodeHubTest : public ::testing::Test {
 protected:
  ManualClock clock_{sitechain::testing::kTestEpoch};
  NodeHub hub_{clock_, kTimeout};
};

TEST_F(NodeHubTest, AScheduledRenewNowWaitsForItsTime) {
  auto a = hub_.Attach("node-a");
  hub_.RenewNow("node-a", {"hello"}, Seconds(5), clock_.Now() + Seconds(30));
  hub_.Deploy("node-a", "world", "sha256:abc");  // not held back behind it
  std::optional<NodeCommand> c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kDeploy);
  EXPECT_FALSE(hub_.Next(*a, kNoWait));  // the renew-now is not due yet
  clock_.Advance(Seconds(29));
  EXPECT_FALSE(hub_.Next(*a, kNoWait));
  clock_.Advance(Seconds(1));
  c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kRenewNow);
  EXPECT_EQ(c->services, std::vector<std::string>{"hello"});
  EXPECT_EQ(c->window, Seconds(5));
  // A node that leaves loses what was still held back (Reconcile sends it again).
  hub_.RenewNow("node-a", {"hello"}, Seconds(5), clock_.Now() + Seconds(30));
  hub_.Detach(a);
  auto again = hub_.Attach("node-a");
  clock_.Advance(Seconds(60));
  EXPECT_FALSE(hub_.Next(*again, kNoWait));
}

TEST_F(NodeHubTest, CommandsQueueInOrderPerNode) {
  auto a = hub_.Attach("node-a");
  auto b = hub_.Attach("node-b");
  hub_.Deploy("node-a", "hello", "sha256:abc");
  hub_.RenewNow("node-b", {"hello", "world"}, Seconds(12), TimePoint{});
  hub_.Stop("node-a", "hello", "undeployed");

  std::optional<NodeCommand> c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kDeploy);
  EXPECT_EQ(c->services, std::vector<std::string>{"hello"});
  EXPECT_EQ(c->digest, "sha256:abc");
  c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kStop);
  EXPECT_EQ(c->services, std::vector<std::string>{"hello"});
  EXPECT_EQ(c->reason, "undeployed");
  EXPECT_FALSE(hub_.Next(*a, kNoWait));  // nothing else for node-a
  EXPECT_FALSE(hub_.closed(*a));

  c = hub_.Next(*b, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kRenewNow);
  EXPECT_EQ(c->services, (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(c->window, Seconds(12));
  EXPECT_FALSE(hub_.Next(*b, kNoWait));
  EXPECT_EQ(hub_.dropped(), 0u);
}

TEST_F(NodeHubTest, CommandsForNodesThatAreNotConnectedAreDroppedAndCounted) {
  hub_.Deploy("node-x", "hello", "d");
  hub_.Stop("node-x", "hello", "r");
  EXPECT_EQ(hub_.dropped(), 2u);

  // Nothing waits for the node: a later connection does not receive old commands.
  auto x = hub_.Attach("node-x");
  EXPECT_FALSE(hub_.Next(*x, kNoWait));

  // A detached node's commands are dropped again.
  hub_.Detach(x);
  hub_.RenewNow("node-x", {"hello"}, Seconds(1), TimePoint{});
  EXPECT_EQ(hub_.dropped(), 3u);
}

TEST_F(NodeHubTest, AReconnectClosesTheOldSession) {
  auto old_session = hub_.Attach("node-a");
  hub_.Deploy("node-a", "hello", "d1");
  auto fresh = hub_.Attach("node-a");
  EXPECT_TRUE(hub_.closed(*old_session));
  EXPECT_FALSE(hub_.closed(*fresh));
  // The old stream hands out nothing more, even what was queued on it.
  EXPECT_FALSE(hub_.Next(*old_session, kBlock));

  hub_.Deploy("node-a", "hello", "d2");
  std::optional<NodeCommand> c = hub_.Next(*fresh, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->digest, "d2");

  // The old stream's handler detaching late must not unplug the new one.
  hub_.Detach(old_session);
  EXPECT_TRUE(hub_.IsUp("node-a"));
  hub_.Stop("node-a", "hello", "r");
  EXPECT_TRUE(hub_.Next(*fresh, kNoWait));
  EXPECT_EQ(hub_.dropped(), 0u);
}

TEST_F(NodeHubTest, ANodeIsUpWhileItsHeartbeatsAreRecent) {
  EXPECT_FALSE(hub_.IsUp("node-a"));
  auto a = hub_.Attach("node-a");
  auto b = hub_.Attach("node-b");
  EXPECT_TRUE(hub_.IsUp("node-a"));
  EXPECT_EQ(hub_.UpCount(), 2u);

  clock_.Advance(kTimeout);
  EXPECT_TRUE(hub_.IsUp("node-a"));  // exactly the timeout: still up
  hub_.Heartbeat(*b, 1);
  clock_.Advance(Seconds(1));
  EXPECT_FALSE(hub_.IsUp("node-a"));  // silent for longer than the timeout
  EXPECT_TRUE(hub_.IsUp("node-b"));
  EXPECT_EQ(hub_.UpCount(), 1u);

  hub_.Heartbeat(*a, 1);
  EXPECT_TRUE(hub_.IsUp("node-a"));
  hub_.Detach(a);
  EXPECT_FALSE(hub_.IsUp("node-a"));
  EXPECT_EQ(hub_.UpCount(), 1u);
}

TEST_F(NodeHubTest, AHeartbeatIsAcknowledgedInOrderWithTheCommands) {
  auto a = hub_.Attach("node-a");
  hub_.Deploy("node-a", "hello", "d");
  hub_.Heartbeat(*a, 41);
  hub_.Heartbeat(*a, 42);
  std::optional<NodeCommand> c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kDeploy);
  for (uint64_t expected : {41u, 42u}) {
    c = hub_.Next(*a, kNoWait);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->kind, Kind::kHeartbeatAck);
    EXPECT_EQ(c->heartbeat, expected);
  }
  EXPECT_FALSE(hub_.Next(*a, kNoWait));
  EXPECT_EQ(hub_.dropped(), 0u);
}

TEST_F(NodeHubTest, NextWakesForACommandFromAnotherThread) {
  auto a = hub_.Attach("node-a");
  auto waiter = std::async(std::launch::async, [&] { return hub_.Next(*a, kBlock); });
  hub_.Deploy("node-a", "hello", "d");
  ASSERT_EQ(waiter.wait_for(kDeadline), std::future_status::ready);
  std::optional<NodeCommand> c = waiter.get();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kDeploy);
}

TEST_F(NodeHubTest, NextReturnsWhenTheSessionIsClosed) {
  auto a = hub_.Attach("node-a");
  auto waiter = std::async(std::launch::async, [&] { return hub_.Next(*a, kBlock); });
  hub_.Detach(a);
  ASSERT_EQ(waiter.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(waiter.get());
  EXPECT_TRUE(hub_.closed(*a));

  // And when a reconnect closes it.
  auto b = hub_.Attach("node-b");
  auto waiter_b = std::async(std::launch::async, [&] { return hub_.Next(*b, kBlock); });
  auto b2 = hub_.Attach("node-b");
  ASSERT_EQ(waiter_b.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(waiter_b.get());
  EXPECT_FALSE(hub_.closed(*b2));
}

TEST_F(NodeHubTest, ShutdownClosesEverySessionAndRefusesNewOnes) {
  auto a = hub_.Attach("node-a");
  auto b = hub_.Attach("node-b");
  auto waiter = std::async(std::launch::async, [&] { return hub_.Next(*a, kBlock); });
  hub_.Shutdown();
  ASSERT_EQ(waiter.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(waiter.get());
  EXPECT_TRUE(hub_.closed(*a));
  EXPECT_TRUE(hub_.closed(*b));
  EXPECT_EQ(hub_.UpCount(), 0u);

  auto late = hub_.Attach("node-c");
  EXPECT_TRUE(hub_.closed(*late));
  EXPECT_FALSE(hub_.IsUp("node-c"));
  EXPECT_FALSE(hub_.Next(*late, kBlock));  // returns at once: closed
  hub_.Deploy("node-c", "hello", "d");
  EXPECT_EQ(hub_.dropped(), 1u);
}

}  // namespace
}  // namespace sitechain::slsm
