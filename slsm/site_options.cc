#include "slsm/site_options.h"

#include <string>

#include "pki/extensions.h"

namespace sitechain::slsm {

Status SiteOptions::Validate() const {
  if (cert_site_lifetime < Seconds(10)) {
    return InvalidArgument("the Cert_site lifetime must be at least 10 s");
  }
  if (node_lifetime < Seconds(60))
    return InvalidArgument("the node lifetime must be at least 60 s");
  if (node_recovery_grace < Seconds(0)) return InvalidArgument("the recovery grace must be >= 0");
  if (default_token_ttl <= Seconds(0) || max_token_ttl < default_token_ttl) {
    return InvalidArgument("the join token TTLs must be positive, the default within the maximum");
  }
  if (!(renew_window_start > 0 && renew_window_start < renew_window_end && renew_window_end < 1)) {
    return InvalidArgument("the renewal window must satisfy 0 < start < end < 1");
  }
  if (!(max_issuance_per_second > 0) || issuance_burst < 1) {
    return InvalidArgument("the issuance rate must be positive and the burst at least 1");
  }
  if (policy_push_window < Seconds(0)) return InvalidArgument("the push window must be >= 0");
  if (max_executable_bytes == 0 || max_policy_bytes == 0 || max_renewals_per_call == 0) {
    return InvalidArgument("the size limits must be positive");
  }
  if (revocation_staleness_limit <= Seconds(0)) {
    return InvalidArgument("revocation_staleness_limit must be positive");
  }
  // A larger limit would accept policies that no Cert_site can carry.
  if (max_policy_bytes > pki::kMaxSitePolicyBytes) {
    return InvalidArgument("the policy limit is at most " +
                           std::to_string(pki::kMaxSitePolicyBytes) +
                           " bytes (what a certificate's sitePolicy holds)");
  }
  if (!(node_issuance_factor >= 1) || !(node_issuance_min_burst >= 1)) {
    return InvalidArgument(
        "node_issuance_factor and node_issuance_min_burst must be at least 1 (an honest node "
        "renews each instance once per renewal window)");
  }
  if (max_node_commands < 16) {
    return InvalidArgument("max_node_commands must be at least 16");
  }
  if (node_renewal_burst < 1 || node_renewal_burst > 100 || NodeRenewalRefill() < Seconds(1)) {
    return InvalidArgument(
        "node_renewal_burst must be 1 to 100 renewals per node lifetime, and at most one per "
        "second of it");
  }
  return Status::Ok();
}

}  // namespace sitechain::slsm
