#pragma once
// Which peers a service talks to, by SPIFFE ID: exact IDs, or patterns in which "*" stands for
// exactly one whole path segment (spiffe://site-a/node/*/svc/collector). The trust domain (the
// site) is never a wildcard: a pattern names the site it trusts.
//
// A service's sitePolicy lists them under "peers" (docs/service-identity.md):
//   {"peers": ["spiffe://site-a/node/*/svc/collector"]}
// An absent or empty list allows no peer: a service authorises nobody by default.
//
// Value type; thread-safe for concurrent reads.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sitechain::service_identity {

class PeerPolicy final {
 public:
  PeerPolicy() = default;  // allows no peer

  // INVALID_ARGUMENT naming the pattern unless each is spiffe://<site>/<segments> with a site
  // that is not a wildcard, no empty segment, and "*" only as a whole segment.
  static Result<PeerPolicy> FromPatterns(const std::vector<std::string>& patterns);

  // The "peers" key of a sitePolicy (JSON object text); absent: allows no peer. INVALID_ARGUMENT
  // for text that is not a JSON object or a "peers" that is not an array of valid patterns.
  static Result<PeerPolicy> FromSitePolicy(std::string_view policy_json);

  bool Allows(std::string_view spiffe_id) const;

  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  std::vector<std::string> patterns_;
};

}  // namespace sitechain::service_identity
