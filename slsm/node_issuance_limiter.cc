#include "slsm/node_issuance_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace sitechain::slsm {
namespace {

double Refilled(const NodeShare& share, double tokens, TimePoint from, TimePoint to) {
  const double elapsed = std::chrono::duration<double>(to - from).count();
  if (elapsed > 0) tokens += elapsed * share.rate;
  return std::min(share.burst, tokens);
}

}  // namespace

NodeShare NodeIssuanceShare(const SiteOptions& options, uint64_t instances) {
  const double k = static_cast<double>(instances);
  const double period = options.renew_window_start * static_cast<double>(std::max<int64_t>(
                                                         1, options.cert_site_lifetime.count()));
  NodeShare share;
  share.rate = options.node_issuance_factor * k / period;
  share.burst = std::max(options.node_issuance_min_burst, options.node_issuance_factor * k);
  return share;
}

std::optional<Seconds> NodeIssuanceLimiter::TryTake(const std::string& node, uint64_t instances,
                                                    TimePoint now) {
  const NodeShare share = NodeIssuanceShare(options_, instances);
  std::lock_guard lock(mu_);
  auto [it, added] = buckets_.try_emplace(node, Bucket{share.burst, now, share});
  Bucket& b = it->second;
  b.tokens = Refilled(share, b.tokens, b.updated, now);
  b.share = share;
  if (now > b.updated) b.updated = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    if (added && buckets_.size() >= prune_at_) PruneFull(now);
    return std::nullopt;
  }
  if (share.rate <= 0) return Seconds(static_cast<int64_t>(options_.cert_site_lifetime.count()));
  return Seconds(static_cast<int64_t>(std::ceil((1 - b.tokens) / share.rate)) + 1);
}

void NodeIssuanceLimiter::GiveBack(const std::string& node, uint64_t instances) {
  const NodeShare share = NodeIssuanceShare(options_, instances);
  std::lock_guard lock(mu_);
  auto it = buckets_.find(node);
  if (it != buckets_.end()) it->second.tokens = std::min(share.burst, it->second.tokens + 1);
}

void NodeIssuanceLimiter::PruneFull(TimePoint now) {
  // A full bucket is what a new one would be: dropping it changes nothing.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const Bucket& b = it->second;
    if (Refilled(b.share, b.tokens, b.updated, now) >= b.share.burst) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  prune_at_ = std::max<size_t>(1024, buckets_.size() * 2);
}

}  // namespace sitechain::slsm
