#pragma once
// The site's catalog: the releases installed from the store (download, verify rules 1, 2, 4, 6,
// 7 and 8, keep the package, commit), the services that run them and their policies, and the
// revocations learnt from the store's feed with the feed's position. Its SQL is catalog_db.h.
//
// It reaches the outside through two small interfaces it owns: ReleaseSource (the store;
// store_client.h implements it) and ServiceInstances (the instances of its services;
// deployments.h implements it), through which an install, a policy change or a revocation
// reaches the nodes.
//
// Thread-safe: mu_ serialises install commits and revocations (the highest-counter check, the
// verification and the record of a release happen as one step, and a revocation's marks and
// stops are not interleaved with an install). Downloads stream without it; reads take only the
// database's lock. Lock order: mu_ before the Deployments lock (ServiceInstances calls) before
// the database's.
// Errors: every refusal is a Status whose message says what was wrong.

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/verifier.h"
#include "slsm/catalog_db.h"
#include "slsm/records.h"
#include "slsm/site_db.h"
#include "slsm/site_options.h"
#include "storage/blob_store.h"

namespace sitechain::slsm {

// A release as the store sends it, before anything about it is believed.
struct ReleaseHeader {
  std::string name, version;
  uint64_t release_counter = 0;
  std::string developer;
  std::string digest_algorithm, digest;
  uint64_t size = 0;
  std::string cert_dev_pem, cert_store_pem, developer_certificate_pem;
};

// Where releases come from (the store; store_client.h implements it over gRPC).
class ReleaseSource {
 public:
  virtual ~ReleaseSource() = default;
  // Streams the release (version empty: the newest): on_header once, then on_chunk for each
  // piece of the executable. Stops at, and returns, the first error of a callback.
  virtual Status Download(const std::string& name, const std::string& version,
                          const std::function<Status(const ReleaseHeader&)>& on_header,
                          const std::function<Status(std::span<const uint8_t>)>& on_chunk) = 0;
};

// The instances of the catalog's services, as the catalog needs them (deployments.h).
class ServiceInstances {
 public:
  virtual ~ServiceInstances() = default;
  // The service now runs `release`: tells every node that runs the service to fetch it.
  virtual Status RollOut(const std::string& service, const ReleaseRecord& release) = 0;
  // The service's policy changed: renew-now to every instance, spread by the push queue to
  // honour the rate limit. Returns how many instances were told.
  virtual Result<uint32_t> PushPolicy(const std::string& service) = 0;
  // Tells every node that runs the service to stop it.
  virtual Status StopEverywhere(const std::string& service, const std::string& reason) = 0;
  virtual Result<uint32_t> CountOf(const std::string& service) = 0;
};

struct ServiceView {
  ServiceRecord service;
  ReleaseRecord release;
  uint32_t instances = 0;
};

// One entry of the store's revocation feed.
struct StoreRevocation {
  uint64_t sequence = 0;
  bool developer = false;  // the whole developer; otherwise one release
  std::string developer_name, name, version, reason;
};

class Catalog final {
 public:
  // store_root is the trust anchor of installed releases. Keeps references to everything; they
  // must outlive it.
  Catalog(SiteDatabase& db, const storage::BlobStore& packages, pki::Certificate store_root,
          ReleaseSource& source, ServiceInstances& instances, const Clock& clock,
          const SiteOptions& options);
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Removes package blobs no release refers to (what a crash between keeping a blob and
  // recording its release leaves behind). For start-up, before any install runs.
  static Status RemoveUnreferencedBlobs(SiteDatabase& db, const storage::BlobStore& packages);

  // Downloads, verifies rules 1, 2, 4, 6, 7 and 8 and keeps the release; its service now runs it
  // if its counter is the highest installed. ALREADY_EXISTS if installed; INVALID_ARGUMENT with
  // the verifier's coded reason for a release that does not verify (nothing is kept);
  // FAILED_PRECONDITION for a release the store says is revoked.
  Result<ReleaseRecord> Install(const std::string& name, const std::string& version);
  Result<std::vector<ServiceView>> ListServices();
  // INVALID_ARGUMENT for a policy that is not a compact-able JSON object or is too large.
  // Pushes renew-now to every instance of the service, spread to honour the rate limit.
  Result<ServiceView> SetPolicy(const std::string& service, const std::string& policy_json);
  // Marks what the revocation names revoked and tells every node running it to stop. Records
  // the sequence so the feed resumes after it.
  Status ApplyRevocation(const StoreRevocation& revocation);
  Result<uint64_t> LastFeedSequence();
  // The revocation follower read the feed to its end at `as_of` (revocation_staleness.h); an
  // earlier time than the one kept changes nothing. Kept in the database: a restart keeps it.
  Status ConfirmFeed(TimePoint as_of);
  Result<TimePoint> FeedConfirmedAt();

 private:
  Result<ReleaseRecord> CommitInstall(const ReleaseHeader& header,
                                      storage::BlobStore::Writer& writer);  // takes mu_

  const Clock& clock_;
  const SiteOptions& options_;
  const storage::BlobStore& packages_;
  const pki::Verifier verifier_;
  const pki::Certificate store_root_;
  ReleaseSource& source_;
  ServiceInstances& instances_;
  CatalogDb db_;  // thread-safe (the database's lock)

  std::mutex mu_;  // serialises CommitInstall and ApplyRevocation; guards no member
};

}  // namespace sitechain::slsm
