#pragma once
// The site manager's behaviour, independent of gRPC: the wiring of its concepts, each in its own
// file with its own state, lock and SQL, behind the one facade the gRPC adapters, the server, the
// revocation follower, the tests and the benches call:
//   catalog.h           installing releases from the store, services, policies, revocations
//   enrollment.h        join tokens, enrollment, node authentication, node certificates
//   deployments.h       deploy, undeploy, instances, reconcile, pushes, node commands
//   cert_site_issuer.h  Cert_site issuance and renewal, with its rate limiter (rate_limiter.h)
// Every method below is a one-line delegation; the contracts are in the concepts' headers. Every
// refusal is a Status whose message says what was wrong.
//
// SiteService owns what the concepts share: the options, the database file (site_db.h), the site
// CA and the package store. It reaches the outside through two small interfaces the concepts
// own: ReleaseSource (catalog.h; the store) and NodeNotifier (deployments.h; connected nodes).
//
// Thread-safe, with no lock around the whole: each concept guards its own state (see their
// headers); the database's lock is held for SQL only; the CA's issuing methods are const and
// hold no lock, so issuance for different nodes runs in parallel. Lock order, where locks nest:
// Catalog -> Deployments -> the database.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "slca/site_ca.h"
#include "slsm/catalog.h"
#include "slsm/cert_site_issuer.h"
#include "slsm/deployments.h"
#include "slsm/enrollment.h"
#include "slsm/issued_log.h"
#include "slsm/records.h"
#include "slsm/site_db.h"
#include "slsm/site_options.h"
#include "storage/blob_store.h"

namespace sitechain::slsm {

class SiteService final {
 public:
  using StoreRevocation = slsm::StoreRevocation;

  // Wires the parts together and removes package blobs no release refers to (what a crash
  // between keeping a blob and recording its release leaves behind). store_root is the trust
  // anchor of installed releases. INVALID_ARGUMENT for options that do not validate.
  static Result<std::unique_ptr<SiteService>> Create(slca::SiteCa ca, pki::Certificate store_root,
                                                     SiteDatabase db, storage::BlobStore packages,
                                                     ReleaseSource& source, NodeNotifier& nodes,
                                                     const Clock& clock, Random& rng,
                                                     SiteOptions options);
  SiteService(const SiteService&) = delete;
  SiteService& operator=(const SiteService&) = delete;

  const pki::Certificate& site_root() const { return ca_.root(); }
  std::string site() const { return ca_.site(); }
  const SiteOptions& options() const { return options_; }

  // --- admin
  Result<ReleaseRecord> Install(const std::string& name, const std::string& version);
  Result<std::vector<ServiceView>> ListServices();
  Result<ServiceView> SetPolicy(const std::string& service, const std::string& policy_json);
  Result<CreatedJoinToken> CreateJoinToken(const std::string& node, Seconds ttl);
  Result<std::vector<NodeRecord>> ListNodes();
  Result<NodeRecord> EvictNode(const std::string& node);
  Result<std::vector<InstanceRecord>> Deploy(const std::string& service,
                                             const std::vector<std::string>& nodes);
  Result<std::vector<InstanceRecord>> Undeploy(const std::string& service,
                                               const std::vector<std::string>& nodes);
  Result<std::vector<InstanceRecord>> ListInstances(const std::string& service,
                                                    const std::string& node);
  // The newest entries of the issuance log: `limit` of them (0: 100; at most 10000).
  Result<std::vector<IssuedRecord>> ListIssued(uint32_t limit);
  Result<SiteCounts> Counts();

  // --- nodes
  Result<Enrolled> Enroll(const std::string& token, const std::string& node,
                          std::span<const uint8_t> csr_der);
  Result<NodeRecord> AuthenticateNode(const std::optional<std::string>& peer_pem);
  Result<NodeRecord> AuthenticateNodeForRenewal(const std::optional<std::string>& peer_pem);
  Result<pki::Certificate> RenewNode(const NodeRecord& node, std::span<const uint8_t> csr_der);
  Result<Package> PackageFor(const NodeRecord& node, const std::string& service);
  Result<std::vector<RenewalResult>> Renew(const NodeRecord& node,
                                           const std::vector<RenewalRequest>& requests);
  void ReportInstance(const std::string& node, const std::string& service, const std::string& state,
                      const std::string& detail);
  void ReportInstances(const std::string& node, std::vector<InstanceState> states);
  void NodeSeen(const std::string& node);
  Status Reconcile(const std::string& node, const std::vector<std::string>& reported_services);

  // --- store feed
  Status ApplyRevocation(const StoreRevocation& revocation);
  Result<uint64_t> LastFeedSequence();
  Status ConfirmRevocationFeed(TimePoint as_of);
  Result<TimePoint> RevocationFeedConfirmedAt();

 private:
  SiteService(slca::SiteCa ca, pki::Certificate store_root, SiteDatabase db,
              storage::BlobStore packages, ReleaseSource& source, NodeNotifier& nodes,
              const Clock& clock, Random& rng, SiteOptions options);

  // Shared by the concepts, immutable or thread-safe; declared (so built) before them.
  const SiteOptions options_;
  SiteDatabase db_;                    // thread-safe (its own lock, held for SQL only)
  const slca::SiteCa ca_;              // issuing methods are const and thread-safe
  const storage::BlobStore packages_;  // thread-safe
  IssuedLog issued_;                   // thread-safe (the database's lock)
  // The concepts, each guarding its own state.
  Enrollment enrollment_;
  Deployments deployments_;
  Catalog catalog_;
  CertSiteIssuer issuer_;
};

}  // namespace sitechain::slsm
