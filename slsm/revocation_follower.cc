#include "slsm/revocation_follower.h"

#include <algorithm>

#include "common/log.h"
#include "common/time_format.h"

namespace sitechain::slsm {

using std::chrono::milliseconds;

milliseconds ConfirmIntervalFor(Seconds staleness_limit) {
  return std::clamp(std::chrono::duration_cast<milliseconds>(staleness_limit) / 10,
                    milliseconds(1000), milliseconds(60000));
}

void RevocationFollower::Start() {
  started_ = clock_.Now();
  thread_ = std::thread([this] { Run(); });
  confirm_thread_ = std::thread([this] { ConfirmLoop(); });
}

void RevocationFollower::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (current_) current_->TryCancel();
    if (confirming_) confirming_->TryCancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (confirm_thread_.joinable()) confirm_thread_.join();
}

void RevocationFollower::Run() {
  auto backoff = options_.initial_backoff;
  while (true) {
    if (FollowOnce()) backoff = options_.initial_backoff;
    // Full jitter: a random wait in [backoff/2, backoff], so sites do not reconnect in step.
    const auto half = backoff.count() / 2;
    const auto wait =
        milliseconds(half + static_cast<int64_t>(rng_.Uniform(static_cast<uint64_t>(half) + 1)));
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool RevocationFollower::Apply(const v1::Revocation& r) {
  SiteService::StoreRevocation revocation{r.sequence(),  r.kind() == v1::Revocation::DEVELOPER,
                                          r.developer(), r.name(),
                                          r.version(),   r.reason()};
  if (Status s = service_.ApplyRevocation(revocation); !s.ok()) {
    spdlog::error("revocation feed: cannot apply entry {}: {}", r.sequence(), s.ToString());
    return false;
  }
  spdlog::info("revocation feed: entry {} applied ({} {} {}: {})", r.sequence(),
               revocation.developer ? "developer" : "release", r.name(), r.version(), r.reason());
  return true;
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
    if (!Apply(r)) {
      context.TryCancel();
      break;
    }
    delivered = true;
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

void RevocationFollower::ConfirmLoop() {
  while (true) {
    const Status s = ConfirmOnce();
    WarnIfStale(s);
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, options_.confirm_interval, [this] { return stopping_; })) return;
  }
}

Status RevocationFollower::ConfirmOnce() {
  SITECHAIN_ASSIGN_OR_RETURN(uint64_t after, service_.LastFeedSequence());
  const TimePoint sent = clock_.Now();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.confirm_interval);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Unavailable("stopping");
    confirming_ = &context;
  }
  v1::ListRevocationsRequest request;
  request.set_after_sequence(after);
  v1::ListRevocationsResponse response;
  const grpc::Status status = store_.stub().ListRevocations(&context, request, &response);
  {
    std::lock_guard lock(mu_);
    confirming_ = nullptr;
  }
  if (!status.ok()) {
    return Unavailable("cannot read the revocation feed of the store at " + store_.address() +
                       ": " + status.error_message());
  }
  // What the stream has not applied yet (it may be stuck on a dead link): applied here, in order.
  uint64_t last = after;
  for (const auto& r : response.revocations()) {
    if (r.sequence() <= last) continue;
    if (!Apply(r)) return Internal("cannot apply revocation " + std::to_string(r.sequence()));
    last = r.sequence();
  }
  if (last < response.last_sequence()) {  // a page: the rest on the next round
    return Unavailable("the revocation feed has more entries than one page");
  }
  return service_.ConfirmRevocationFeed(sent);
}

void RevocationFollower::WarnIfStale(const Status& why) {
  const Seconds limit = service_.options().revocation_staleness_limit;
  auto confirmed = service_.RevocationFeedConfirmedAt();
  const TimePoint now = clock_.Now();
  // Releases count from their install, so nothing is unconfirmed sooner than a limit after start.
  const bool stale = !confirmed.ok() || now - std::max(*confirmed, started_) > limit;
  if (!stale) {
    if (stale_) {
      spdlog::warn("revocation feed confirmed again at {}: the site issues Cert_site again",
                   FormatTime(*confirmed));
    }
    stale_ = false;
    return;
  }
  if (stale_ && now - stale_logged_at_ < Seconds(60)) return;
  stale_ = true;
  stale_logged_at_ = now;
  const std::string last = !confirmed.ok()             ? confirmed.status().ToString()
                           : *confirmed == TimePoint{} ? std::string("never")
                                                       : FormatTime(*confirmed);
  spdlog::error(
      "REVOCATIONS UNCONFIRMED: the store's revocation feed was last read to its end at {}, "
      "longer ago than revocation_staleness_limit {} s ({}); the site issues no Cert_site for "
      "releases installed before {} until it reaches the store",
      last, limit.count(), why.ok() ? std::string("no error") : why.message(),
      FormatTime(now - limit));
}

}  // namespace sitechain::slsm
