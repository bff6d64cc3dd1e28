#pragma once
// Each node's share of the site's issuance rate: a token bucket per node, sized from the number
// of instances deployed to it, taken BEFORE the site's bucket (rate_limiter.h). A node that asks
// for more than it could need (a flood of Renew calls, on many connections) is refused by its
// own bucket and never drains the site's, so while the sum of the shares is within the site's
// limit no node can push another into RESOURCE_EXHAUSTED (docs/resilience.md).
//
// A node with k instances deployed holds at most
//   burst(k) = max(node_issuance_min_burst, node_issuance_factor * k)
// tokens and gains
//   rate(k)  = node_issuance_factor * k / (renew_window_start * cert_site_lifetime)
// per second: an honest node renews each instance about once per renewal window (never earlier
// than renew_window_start into a lifetime), and the factor leaves room for a policy push, a
// deploy, a restart and the retries of answers it lost. k is read at each take (a deploy or an
// undeploy changes the share at once; a bucket above the new burst is cut to it).
//
// Thread-safe: mu_ guards the buckets (a few arithmetic operations under it, never I/O). The map
// holds one small entry per node that renewed (enrolled nodes only: the caller authenticated
// them); entries that have refilled to full are dropped when the map doubles.

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "slsm/site_options.h"

namespace sitechain::slsm {

// A node's share: tokens per second and the bucket's size.
struct NodeShare {
  double rate = 0;
  double burst = 0;
};
// The share of a node with `instances` deployed instances under `options` (formula above).
NodeShare NodeIssuanceShare(const SiteOptions& options, uint64_t instances);

class NodeIssuanceLimiter final {
 public:
  // Keeps a reference to options; it must outlive the limiter.
  explicit NodeIssuanceLimiter(const SiteOptions& options) : options_(options) {}
  NodeIssuanceLimiter(const NodeIssuanceLimiter&) = delete;
  NodeIssuanceLimiter& operator=(const NodeIssuanceLimiter&) = delete;

  // Takes one token of `node`'s bucket at `now`, the node having `instances` deployed (a new
  // node's bucket starts full): nullopt when taken; otherwise how long until one is there
  // (rounded up to whole seconds, plus one). A `now` earlier than the last take refills nothing.
  std::optional<Seconds> TryTake(const std::string& node, uint64_t instances, TimePoint now);
  // Returns the token just taken (the site's bucket refused the certificate: the node got
  // nothing for it).
  void GiveBack(const std::string& node, uint64_t instances);

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated;
    NodeShare share;  // at the last take: what PruneFull refills with
  };
  // Drops the buckets that are full at `now` (a new one starts full).  requires mu_
  void PruneFull(TimePoint now);

  const SiteOptions& options_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // guarded by mu_
  size_t prune_at_ = 1024;                 // guarded by mu_: the size that prunes next
};

}  // namespace sitechain::slsm
