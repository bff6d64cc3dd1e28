#include "server/serve_loop.h"

#include <gtest/gtest.h>
#include <pthread.h>

namespace sitechain::server {
namespace {

TEST(ServeLoopTest, FailedStartIsReturnedWithoutWaiting) {
  bool stopped = false;
  const Status s =
      ServeUntilSignal([] { return Unavailable("cannot listen"); }, [&] { stopped = true; });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(stopped);
}

TEST(ServeLoopTest, ServesUntilATerminationSignalThenStops) {
  bool started = false, stopped = false;
  const Status s = ServeUntilSignal(
      [&] {
        started = true;
        // Directed at this thread, which has SIGTERM blocked now: it stays pending until the
        // loop's sigwait takes it (a process-wide kill could reach another test's thread).
        pthread_kill(pthread_self(), SIGTERM);
        return Status::Ok();
      },
      [&] { stopped = true; });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(started);
  EXPECT_TRUE(stopped);
}

TEST(ServeLoopTest, WaitReturnsTheSignalNumber) {
  const sigset_t signals = BlockTerminationSignals();
  pthread_kill(pthread_self(), SIGINT);
  EXPECT_EQ(WaitForTerminationSignal(signals), SIGINT);
}

}  // namespace
}  // namespace sitechain::server
