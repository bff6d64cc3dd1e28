#include "slsm/revocation_follower.h"

#include <algorithm>

#include "common/log.h"

namespace sitechain::slsm {

void RevocationFollower::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RevocationFollower::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (current_) current_->TryCancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void RevocationFollower::Run() {
  auto backoff = options_.initial_backoff;
  while (true) {
    if (FollowOnce()) backoff = options_.initial_backoff;
    // Full jitter: a random wait in [backoff/2, backoff], so sites do not reconnect in step.
    const auto half = backoff.count() / 2;
    const auto wait = std::chrono::milliseconds(
        half + static_cast<int64_t>(rng_.Uniform(static_cast<uint64_t>(half) + 1)));
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool RevocationFollower::FollowOnce() {
  auto after = service_.LastFeedSequence();
  if (!after.ok()) {
    spdlog::error("revocation feed: cannot read the feed position: {}", after.status().ToString());
    return false;
  }
  grpc::ClientContext context;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    current_ = &context;
  }
  v1::WatchRevocationsRequest request;
  request.set_after_sequence(*after);
  auto reader = store_.stub().WatchRevocations(&context, request);
  v1::Revocation r;
  bool delivered = false;
  while (reader->Read(&r)) {
    SiteService::StoreRevocation revocation{r.sequence(),  r.kind() == v1::Revocation::DEVELOPER,
                                            r.developer(), r.name(),
                                            r.version(),   r.reason()};
    if (Status s = service_.ApplyRevocation(revocation); !s.ok()) {
      spdlog::error("revocation feed: cannot apply entry {}: {}", r.sequence(), s.ToString());
      context.TryCancel();
      break;
    }
    delivered = true;
    spdlog::info("revocation feed: entry {} applied ({} {} {}: {})", r.sequence(),
                 revocation.developer ? "developer" : "release", r.name(), r.version(), r.reason());
  }
  const grpc::Status status = reader->Finish();
  {
    std::lock_guard lock(mu_);
    current_ = nullptr;
    if (stopping_) return delivered;
  }
  spdlog::warn("revocation feed from {} ended ({}: {}); reconnecting", store_.address(),
               static_cast<int>(status.error_code()), status.error_message());
  return delivered;
}

}  // namespace sitechain::slsm
