#pragma once
// Follows the store's revocation feed (Store.WatchRevocations) from the last sequence the site
// has applied, hands every entry to SiteService::ApplyRevocation, and reconnects with capped,
// jittered exponential backoff when the stream ends or the store is unreachable.
//
// Owns one thread between Start and Stop. Thread-safe.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/random.h"
#include "slsm/site_service.h"
#include "slsm/store_client.h"

namespace sitechain::slsm {

struct FollowerOptions {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

class RevocationFollower final {
 public:
  RevocationFollower(StoreClient& store, SiteService& service, Random& rng,
                     FollowerOptions options = {})
      : store_(store), service_(service), rng_(rng), options_(options) {}
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

  StoreClient& store_;
  SiteService& service_;
  Random& rng_;
  const FollowerOptions options_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                   // guarded by mu_
  grpc::ClientContext* current_ = nullptr;  // guarded by mu_: the stream to cancel on Stop
};

}  // namespace sitechain::slsm
