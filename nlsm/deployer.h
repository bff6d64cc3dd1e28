#pragma once
// Getting a service ready to run on this node: fetch its package from the slsm into the node's
// package store (<dir>/packages, by digest), get a Cert_site for a fresh instance key, verify
// rules 1–8 (ARCHITECTURE.md §3) against the node's own store root, the site root and its node
// identity, and, before every start, verify again from the very descriptor that will be exec'd
// and build the LaunchSpec (the service's environment names its files in its instance
// directory). It also times the retries of a deploy that failed for a reason a fresh one may cure.
// Starting and stopping processes is the node manager's (through its ProcessRunner).
//
// Ownership and threads: the node manager owns the deployer and calls it from its loop thread
// only. It borrows the node's files, the site client, the clock and the Random, which must
// outlive it. Not thread-safe. Errors: transport and slsm refusals, and I/O, are statuses; a
// chain that does not verify is a verification failure (CheckedInstance, LaunchCheck) with its
// coded reason.

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "nlsm/child_exec.h"
#include "nlsm/instance.h"
#include "nlsm/instance_check.h"
#include "nlsm/node_state.h"
#include "nlsm/release_counters.h"
#include "nlsm/site_client.h"
#include "pki/verifier.h"
#include "storage/blob_store.h"

namespace sitechain::nlsm {

// What Deployer::CheckLaunch found: the instance may start (kReady: exec `spec`, whose
// executable_fd is `executable`), or why not.
struct LaunchCheck {
  enum class Outcome {
    kReady,
    kNoPackage,       // the kept package cannot be opened (error: the status's text)
    kExpired,         // the Cert_site expired: a renewal may cure it
    kDigestMismatch,  // the kept package no longer matches its digest: fetch it again
    kRefused,         // another rule failed, the key is not the Cert_site's, or the sitePolicy
                      // cannot be honoured here
  };
  Outcome outcome = Outcome::kRefused;
  Status status;      // what the launch returns when not ready
  std::string error;  // the instance's last_error when not ready
  UniqueFd executable;
  LaunchSpec spec;
  std::vector<int> rules_checked;  // kReady
  // kReady: the release as the verified certificates say (name, version, counter).
  std::optional<pki::ServiceRelease> release;
};

class Deployer final {
 public:
  // `dir`: the node's state directory (absolute); the package store is <dir>/packages.
  // `retry_initial`, `retry_max`: the deploy retry backoff (the renewal policy's). `counters`:
  // the highest release counter per name (rule 7), read at every verification; the node manager
  // records into it.
  Deployer(const std::string& dir, const NodeFiles& node, SiteClient& site,
           const ReleaseCounters& counters, const Clock& clock, Random& rng,
           const pki::VerifyOptions& verify, Seconds retry_initial, Seconds retry_max);
  Deployer(const Deployer&) = delete;
  Deployer& operator=(const Deployer&) = delete;

  // Fetches, certifies and verifies `service` (FetchAndVerify, instance_check.h), rule 7 against
  // the counters.
  Result<CheckedInstance> Fetch(const std::string& service);
  // Moves what Fetch got into the instance (package, certificates, key, policy, window). Name,
  // version and counter are the verified certificates' where they verified (the header's, a
  // claim, only for the status of a refused one).
  static void Adopt(CheckedInstance checked, Instance& instance);

  // Rules 1–8 for the instance's files now (rule 7 against the counters); FAILED_PRECONDITION
  // with the failure's text, or OK.
  Status Verify(const Instance& instance) const;
  // Verifies from the descriptor that will be exec'd (no window between check and use) and
  // builds the launch, or says why the instance may not start.
  LaunchCheck CheckLaunch(const Instance& instance) const;

  // When to try again a deploy that failed `attempts` times in a row for a reason a fresh one
  // may cure: [d/2, d] after now, d = min(retry_max, retry_initial * 2^(attempts-1)).
  TimePoint RedeployAt(int attempts, TimePoint now);
  // The kept package no longer verifies: deploy the instance again (fetching a fresh copy) at
  // retry_initial from now.
  void RefetchLater(Instance& instance, TimePoint now) const;

 private:
  Result<UniqueFd> OpenPackage(const Instance& instance) const;
  // What the verifier checks for the instance (rules 1–8; 7 against the highest counter of the
  // name its Cert_dev carries), with the package's descriptor.
  pki::ChainInput ChainFor(const Instance& instance, int executable_fd) const;

  const NodeFiles& node_;
  SiteClient& site_;
  const ReleaseCounters& counters_;
  Random& rng_;
  const Seconds retry_initial_, retry_max_;
  const pki::Verifier verifier_;
  storage::BlobStore packages_;
};

}  // namespace sitechain::nlsm
