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
  hub_.Heartbeat(*a, 42);  // one acknowledgement pending at most: it takes the latest counter
  std::optional<NodeCommand> c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kDeploy);
  c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kHeartbeatAck);
  EXPECT_EQ(c->heartbeat, 42u);
  EXPECT_FALSE(hub_.Next(*a, kNoWait));
  // Once handed out, the next beat gets an acknowledgement of its own.
  hub_.Heartbeat(*a, 43);
  c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->heartbeat, 43u);
  EXPECT_EQ(hub_.dropped(), 0u);
}

// --- bounded backlogs (issue 17) ---------------------------------------------------------------

constexpr size_t kBound = 16;

class BoundedNodeHubTest : public ::testing::Test {
 protected:
  ManualClock clock_{sitechain::testing::kTestEpoch};
  NodeHub hub_{clock_, kTimeout, kBound};
  int cancels_ = 0;
  std::shared_ptr<NodeHub::Session> Attach(const std::string& node) {
    return hub_.Attach(node, [this] { ++cancels_; });
  }
  // The session was ended for its backlog, with a reason that says so.
  ::testing::AssertionResult EndedForItsBacklog(const NodeHub::Session& s) {
    if (!hub_.closed(s)) return ::testing::AssertionFailure() << "still open";
    std::optional<Status> why = hub_.CloseReason(s);
    if (!why) return ::testing::AssertionFailure() << "closed without a reason";
    if (why->code() != StatusCode::kResourceExhausted ||
        why->message().find("node " + s.node() + " does not read its command stream") ==
            std::string::npos ||
        why->message().find("disconnected") == std::string::npos) {
      return ::testing::AssertionFailure() << why->ToString();
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(BoundedNodeHubTest, ANodeThatSendsHeartbeatsButNeverReadsIsDisconnected) {
  auto a = Attach("node-a");
  // Its one pending acknowledgement answers each beat; the beats it answers are the backlog.
  for (uint64_t beat = 1; beat <= kBound; ++beat) {
    hub_.Heartbeat(*a, beat);
    ASSERT_FALSE(hub_.closed(*a)) << beat;
  }
  hub_.Heartbeat(*a, kBound + 1);
  EXPECT_TRUE(EndedForItsBacklog(*a));
  EXPECT_EQ(cancels_, 1);  // the call is cancelled: its writer may be stuck on the node's window
  EXPECT_FALSE(hub_.Next(*a, kNoWait));
  EXPECT_FALSE(hub_.IsUp("node-a"));
  hub_.Heartbeat(*a, kBound + 2);  // the reader may still deliver one: nothing happens
  EXPECT_EQ(cancels_, 1);
  // Commands for it are dropped until it reconnects; a new session starts empty.
  hub_.Deploy("node-a", "hello", "d");
  EXPECT_EQ(hub_.dropped(), 1u);
  auto again = Attach("node-a");
  EXPECT_FALSE(hub_.closed(*again));
  EXPECT_FALSE(hub_.Next(*again, kNoWait));
}

TEST_F(BoundedNodeHubTest, ANodeThatReadsIsNeverDisconnected) {
  auto a = Attach("node-a");
  for (uint64_t beat = 1; beat <= 100 * kBound; ++beat) {
    hub_.Heartbeat(*a, beat);
    if (beat % 4 == 0) hub_.Stop("node-a", "svc-" + std::to_string(beat), "not deployed");
    while (hub_.Next(*a, kNoWait)) {
    }
  }
  EXPECT_FALSE(hub_.closed(*a));
  EXPECT_EQ(cancels_, 0);
}

TEST_F(BoundedNodeHubTest, RepeatedCommandsCoalesce) {
  auto a = Attach("node-a");
  // A replayed hello: the same Stop and Deploy, again and again, wait once each.
  for (int i = 0; i < 10 * static_cast<int>(kBound); ++i) {
    hub_.Stop("node-a", "unknown", "not deployed to this node (any more)");
    hub_.Deploy("node-a", "hello", "d1");
    hub_.RenewNow("node-a", {"hello"}, Seconds(10), clock_.Now() + Seconds(60));
  }
  EXPECT_FALSE(hub_.closed(*a));
  std::optional<NodeCommand> c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kStop);
  c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kDeploy);
  EXPECT_FALSE(hub_.Next(*a, kNoWait));
  clock_.Advance(Seconds(60));
  c = hub_.Next(*a, kNoWait);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Kind::kRenewNow);
  EXPECT_FALSE(hub_.Next(*a, kNoWait));  // one renew-now, not 160

  // Only identical commands in a row coalesce: the order of different ones is kept.
  hub_.Deploy("node-a", "hello", "d1");
  hub_.Stop("node-a", "hello", "undeployed");
  hub_.Deploy("node-a", "hello", "d1");
  hub_.Deploy("node-a", "hello", "d2");
  std::vector<std::string> seen;
  while (auto next = hub_.Next(*a, kNoWait)) {
    seen.push_back(next->kind == Kind::kDeploy ? "deploy " + next->digest : "stop");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"deploy d1", "stop", "deploy d1", "deploy d2"}));
  // A command already handed out does not hold back the same one again.
  hub_.Deploy("node-a", "hello", "d2");
  EXPECT_TRUE(hub_.Next(*a, kNoWait));
}

TEST_F(BoundedNodeHubTest, DistinctCommandsPastTheBoundDisconnect) {
  auto a = Attach("node-a");
  // Hellos naming ever new unknown services: a Stop each, until the bound.
  for (size_t i = 0; i < kBound; ++i) hub_.Stop("node-a", "unknown-" + std::to_string(i), "r");
  EXPECT_FALSE(hub_.closed(*a));
  hub_.Stop("node-a", "unknown-x", "r");
  EXPECT_TRUE(EndedForItsBacklog(*a));
  EXPECT_EQ(cancels_, 1);
  // Scheduled commands count too.
  auto b = Attach("node-b");
  for (size_t i = 0; i <= kBound; ++i) {
    hub_.RenewNow("node-b", {"svc-" + std::to_string(i)}, Seconds(1), clock_.Now() + Seconds(60));
  }
  EXPECT_TRUE(EndedForItsBacklog(*b));
}

TEST_F(BoundedNodeHubTest, ADetachedSessionIsNeverCancelled) {
  auto a = Attach("node-a");
  hub_.Detach(a);
  for (uint64_t beat = 1; beat <= 2 * kBound; ++beat) hub_.Heartbeat(*a, beat);
  EXPECT_EQ(cancels_, 0);
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
