#pragma once
// Follows the store's revocation feed (Store.WatchRevocations) from the last sequence the site
// has applied, hands every entry to SiteService::ApplyRevocation, and reconnects with capped,
// jittered exponential backoff when the stream ends or the store is unreachable.
//
// A stream that delivers nothing cannot tell a quiet store from a dead link, so a second loop
// confirms the feed (revocation_staleness.h): every confirm_interval it reads the feed to its end
// with ListRevocations (deadline: the interval), applies what the stream has not, and records
// the time the call was sent as confirmed (SiteService::ConfirmRevocationFeed). When the last
// confirmation is older than the site's revocation_staleness_limit it logs an error, on the
// change and then every minute, until a confirmation succeeds again.
//
// Owns two threads between Start and Stop. Thread-safe.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/random.h"
#include "slsm/site_service.h"
#include "slsm/store_client.h"

namespace sitechain::slsm {

struct FollowerOptions {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds confirm_interval{30000};
};

// The confirm interval for a staleness limit: a tenth of it, between 1 s and 60 s.
std::chrono::milliseconds ConfirmIntervalFor(Seconds staleness_limit);

class RevocationFollower final {
 public:
  RevocationFollower(StoreClient& store, SiteService& service, const Clock& clock, Random& rng,
                     FollowerOptions options = {})
      : store_(store), service_(service), clock_(clock), rng_(rng), options_(options) {}
  ~RevocationFollower() { Stop(); }
  RevocationFollower(const RevocationFollower&) = delete;
  RevocationFollower& operator=(const RevocationFollower&) = delete;

  void Start();
  // Cancels the stream and joins the thread. Idempotent.
  void Stop();

 private:
  void Run();
  // One stream, until it ends. Returns true if it delivered at least one entry.
  bool FollowOnce();
  // Applies one entry of the feed; false (logged) if the site could not.
  bool Apply(const v1::Revocation& r);
  void ConfirmLoop();
  // Reads the feed to its end once; the status of the call or of an entry it could not apply.
  Status ConfirmOnce();
  // Logs, loudly, when the last confirmation is older than the staleness limit.
  void WarnIfStale(const Status& why);

  StoreClient& store_;
  SiteService& service_;
  const Clock& clock_;
  Random& rng_;
  const FollowerOptions options_;
  std::thread thread_;
  std::thread confirm_thread_;
  // Confirm thread only: whether the last check found the feed stale, and when it last said so.
  TimePoint started_{};  // set by Start
  bool stale_ = false;
  TimePoint stale_logged_at_{};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                      // guarded by mu_
  grpc::ClientContext* current_ = nullptr;     // guarded by mu_: the stream to cancel on Stop
  grpc::ClientContext* confirming_ = nullptr;  // guarded by mu_: the confirm call, likewise
};

}  // namespace sitechain::slsm
