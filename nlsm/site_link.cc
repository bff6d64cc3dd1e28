#include "nlsm/site_link.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "common/log.h"

namespace sitechain::nlsm {

std::chrono::milliseconds ReconnectDelay(Seconds backoff, Random& rng) {
  return std::chrono::milliseconds(
      500 * backoff.count() +
      static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(500 * backoff.count()) + 1)));
}

SiteLink::SiteLink(std::string slsm, SiteClient& site, const Clock& clock, Random& rng,
                   SiteLinkOptions options, Callbacks callbacks)
    : slsm_(std::move(slsm)),
      site_(site),
      clock_(clock),
      rng_(rng),
      options_(options),
      callbacks_(std::move(callbacks)) {}

SiteLink::~SiteLink() { Stop(); }

void SiteLink::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SiteLink::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (stream_) stream_->Cancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool SiteLink::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

void SiteLink::Report(const std::vector<InstanceReport>& reports) {
  std::lock_guard lock(mu_);
  if (stream_ == nullptr || !connected_) return;
  for (const auto& report : reports) stream_->SendInstance(report);
}

void SiteLink::Run() {
  Seconds backoff = options_.reconnect_initial;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto stream = site_.Connect(callbacks_.hello());
    if (stream.ok()) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stream_ = stream->get();
        connected_ = true;
      }
      spdlog::info("connected to the site manager at {}", slsm_);
      callbacks_.on_event(Event::kConnected);
      Serve(**stream, backoff);
      const Status ended = (*stream)->Close();
      {
        std::lock_guard lock(mu_);
        stream_ = nullptr;
        connected_ = false;
      }
      callbacks_.on_event(Event::kDisconnected);
      spdlog::warn("the command stream to {} ended: {}", slsm_, ended.ToString());
    } else {
      const std::string hint = callbacks_.clock_hint(clock_.Now());
      spdlog::warn("cannot connect to the site manager: {}{}", stream.status().ToString(),
                   hint.empty() ? "" : "; " + hint);
    }
    // Jittered, capped exponential backoff before the next attempt.
    const auto wait = ReconnectDelay(backoff, rng_);
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    backoff = std::min(options_.reconnect_max, backoff * 2);
  }
}

void SiteLink::Serve(CommandStream& stream, Seconds& backoff) {
  // Heartbeats beside the reader; a missing acknowledgement ends the stream.
  std::atomic<bool> done{false};
  std::atomic<int64_t> last_ack{ToUnixSeconds(clock_.Now())};
  std::thread beat([&] {
    uint64_t counter = 0;
    std::unique_lock lock(mu_);
    while (!stopping_ && !done) {
      cv_.wait_for(lock, options_.heartbeat_interval, [&] { return stopping_ || done.load(); });
      if (stopping_ || done) break;
      lock.unlock();
      const bool sent = stream.SendHeartbeat(++counter);
      const bool stale =
          ToUnixSeconds(clock_.Now()) - last_ack > 3 * options_.heartbeat_interval.count();
      if (!sent || stale) {
        stream.Cancel();
        lock.lock();
        break;
      }
      lock.lock();
    }
  });
  while (auto command = stream.Next()) {
    // The slsm answered: the stream is really up (a refused one ends before anything comes).
    backoff = options_.reconnect_initial;
    if (command->kind == Command::Kind::kHeartbeatAck) {
      last_ack = ToUnixSeconds(clock_.Now());
      continue;
    }
    callbacks_.on_command(*command);
  }
  done = true;
  {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  beat.join();
}

}  // namespace sitechain::nlsm
