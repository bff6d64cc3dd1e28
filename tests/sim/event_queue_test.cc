#include "sim/event_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/random.h"
#include "sim/sim_clock.h"

namespace sitechain::sim {
namespace {

TEST(EventQueue, PopsInTimeOrder) {
  EventQueue q;
  q.Push(30, EventKind::kAttempt, 3, 0);
  q.Push(10, EventKind::kDrop, 1, 0);
  q.Push(20, EventKind::kReconnect, 2, 0);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q.TopTime(), 10);
  EXPECT_EQ(q.Pop().target, 1u);
  EXPECT_EQ(q.Pop().target, 2u);
  q.Push(40, EventKind::kPolicyChange, 7, 123456);
  Event last = q.Pop();
  EXPECT_EQ(last.target, 3u);
  EXPECT_EQ(last.kind, EventKind::kAttempt);
  Event change = q.Pop();  // kind and generation survive the packing
  EXPECT_EQ(change.kind, EventKind::kPolicyChange);
  EXPECT_EQ(change.generation, 123456u);
  EXPECT_EQ(change.time, 40);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pushed(), 4u);
}

TEST(EventQueue, EqualTimesPopInInsertionOrder) {
  EventQueue q;
  for (uint32_t i = 0; i < 100; ++i) q.Push(5, EventKind::kAttempt, i, 0);
  q.Push(4, EventKind::kAttempt, 1000, 0);
  EXPECT_EQ(q.Pop().target, 1000u);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(q.Pop().target, i);
}

TEST(EventQueue, RandomInterleavedPushAndPopStaysOrdered) {
  SeededRandom rng(1);
  EventQueue q;
  std::vector<SimTime> popped;
  SimTime now = 0;
  uint32_t id = 0;
  for (int step = 0; step < 20000; ++step) {
    if (q.empty() || rng.Uniform(3) != 0) {
      q.Push(now + static_cast<SimTime>(rng.Uniform(1000)), EventKind::kAttempt, id++, 0);
    } else {
      Event e = q.Pop();
      ASSERT_GE(e.time, now);  // a discrete-event run never goes back in time
      now = e.time;
      popped.push_back(e.time);
    }
  }
  EXPECT_TRUE(std::is_sorted(popped.begin(), popped.end()));
}

TEST(SimClock, StartsAtTheEpochAndMovesOnlyForward) {
  SimClock clock;
  EXPECT_EQ(clock.Now(), kDefaultEpoch);
  clock.AdvanceTo(1500);
  EXPECT_EQ(clock.NowSim(), 1500);
  EXPECT_EQ(clock.Now(), kDefaultEpoch + std::chrono::milliseconds(1500));
  clock.AdvanceTo(1500);
  EXPECT_EQ(clock.NowSim(), 1500);
  const Clock& as_clock = clock;  // usable wherever sitechain takes a Clock&
  EXPECT_EQ(as_clock.Now(), kDefaultEpoch + Seconds(1) + std::chrono::milliseconds(500));
}

TEST(SimClock, ConvertsBetweenSimTimeAndTimePoints) {
  const SimClock clock(TimePoint(Seconds(1000)));
  EXPECT_EQ(clock.ToTimePoint(2500), TimePoint(Seconds(1000)) + std::chrono::milliseconds(2500));
  EXPECT_EQ(clock.FromTimePoint(clock.ToTimePoint(123456)), 123456);
  // Sub-millisecond parts round down, also before the epoch.
  EXPECT_EQ(clock.FromTimePoint(TimePoint(Seconds(1000)) + std::chrono::microseconds(1999)), 1);
  EXPECT_EQ(clock.FromTimePoint(TimePoint(Seconds(1000)) - std::chrono::microseconds(1)), -1);
}

}  // namespace
}  // namespace sitechain::sim
