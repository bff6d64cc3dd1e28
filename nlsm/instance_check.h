#pragma once
// The node's side of getting a service ready to run, without running it: fetch its package from
// the slsm into the node's package store (by digest), get a Cert_site for a fresh instance key,
// and verify rules 1–8 (ARCHITECTURE.md §3) locally against the node's OWN store root, the site
// root and the node's identity. `nlsm check` runs it; the node manager's launcher builds on it.

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "nlsm/node_state.h"
#include "nlsm/site_client.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "pki/verifier.h"
#include "storage/blob_store.h"

namespace sitechain::nlsm {

struct CheckedInstance {
  PackageHeader package;
  std::string blob;  // name in the package store
  pki::Certificate cert_dev, cert_store, developer_identity, cert_site;
  pki::PrivateKey instance_key;
  TimePoint renew_after, renew_before;
  pki::Verification verification;  // ok() when the instance may run
  std::string federation_pem;      // the federated site roots the slsm sent with the Cert_site
};

// Fetches, certifies and verifies `service`. Transport and slsm refusals are statuses; a chain
// that does not verify is returned with verification.failure set (the reason to report).
// highest_release_counter: what this node already ran for the name (rule 7), if anything.
Result<CheckedInstance> FetchAndVerify(SiteClient& site, const storage::BlobStore& packages,
                                       const NodeFiles& node, const std::string& service,
                                       std::optional<uint64_t> highest_release_counter,
                                       const pki::Verifier& verifier, Random& rng);

}  // namespace sitechain::nlsm
