#pragma once
// The node's side of getting a service ready to run, without running it: fetch its package from
// the slsm into the node's package store (by digest), get a Cert_site for a fresh instance key,
// and verify rules 1–8 (ARCHITECTURE.md §3) locally against the node's OWN store root, the site
// root and the node's identity. `nlsm check` runs it; the node manager's launcher builds on it.

#include <functional>
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

// The highest release counter this node accepted for a release name (rule 7), if any.
using HighestReleaseCounter = std::function<std::optional<uint64_t>(const std::string& name)>;

// The release name a Cert_dev claims (its serviceRelease), nullopt if it carries none that
// decodes. Not verified by itself: it only chooses which counter rule 7 checks, and the verifier
// then checks that very certificate (a Cert_dev that lies about its name does not verify).
std::optional<std::string> ReleaseNameOf(const pki::Certificate& cert_dev);

// Fetches, certifies and verifies `service`. Transport and slsm refusals are statuses; a chain
// that does not verify is returned with verification.failure set (the reason to report).
// highest_release_counter: what this node accepted for the release's name (rule 7), looked up
// by the name the Cert_dev carries, never by the package header's word.
Result<CheckedInstance> FetchAndVerify(SiteClient& site, const storage::BlobStore& packages,
                                       const NodeFiles& node, const std::string& service,
                                       const HighestReleaseCounter& highest_release_counter,
                                       const pki::Verifier& verifier, Random& rng);
// The same with one counter for whatever name the release has (`nlsm check`: none).
Result<CheckedInstance> FetchAndVerify(SiteClient& site, const storage::BlobStore& packages,
                                       const NodeFiles& node, const std::string& service,
                                       std::optional<uint64_t> highest_release_counter,
                                       const pki::Verifier& verifier, Random& rng);

}  // namespace sitechain::nlsm
