#pragma once
// The site manager's behaviour, independent of gRPC: installing releases from the store, join
// tokens and node enrollment, deployments, Cert_site issuance and renewal, policy changes,
// evictions and revocations learnt from the store's feed. The gRPC adapters translate messages
// and call these methods; every refusal is a Status whose message says what was wrong.
//
// It reaches the outside through two small interfaces it owns: ReleaseSource (the store) and
// NodeNotifier (the command streams of connected nodes).
//
// Thread-safe: mu_ guards the database, the CA, the random source and the rate limiter. Package
// downloads from the store stream without it and take it only to commit.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "storage/blob_store.h"
#include "pki/certificate.h"
#include "pki/verifier.h"
#include "slca/site_ca.h"
#include "slsm/records.h"
#include "slsm/site_db.h"

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

// How the slsm reaches nodes (node_hub.h implements it). Calls never block on the network: a
// command for a node that is not connected is dropped (the node catches up when it reconnects,
// and an unreachable node stops by itself when its certificate expires).
class NodeNotifier {
 public:
  virtual ~NodeNotifier() = default;
  virtual void Deploy(const std::string& node, const std::string& service,
                      const std::string& digest) = 0;
  virtual void Stop(const std::string& node, const std::string& service,
                    const std::string& reason) = 0;
  // Renew-now for the node's services, each at a uniform point in [t, t + window], where t is
  // the moment the command is sent: not before `not_before` (it waits in the node's queue until
  // then; TimePoint{} sends it at once). A node that disconnects meanwhile loses it (Reconcile
  // sends it again).
  virtual void RenewNow(const std::string& node, const std::vector<std::string>& services,
                        Seconds window, TimePoint not_before) = 0;
  // Ends the node's stream with `reason` once the commands already queued have been sent.
  virtual void Disconnect(const std::string& node, const Status& reason) = 0;
};

// Every tunable of the site manager, with its default. Validate() is the one place they are
// checked.
struct SiteOptions {
  Seconds cert_site_lifetime{5000};  // Cert_site, the paper's default
  Seconds node_lifetime{24 * 3600};  // node certificates, renewed by the node itself
  // A node whose certificate expired (it was offline) may still renew it this long after expiry,
  // proving it holds its registered key; later it needs a new join token. 0: never.
  Seconds node_recovery_grace{7 * 86400};
  Seconds default_token_ttl{3600};  // join tokens
  Seconds max_token_ttl{7 * 86400};
  // The suggested renewal window, as fractions of a Cert_site's lifetime after issuance.
  double renew_window_start = 0.5;
  double renew_window_end = 0.75;
  // Issuance rate limit (token bucket): sustained certificates per second, and the burst.
  double max_issuance_per_second = 100;
  double issuance_burst = 200;
  // Renew-now after a policy change: spread over at least this window, longer when the affected
  // instances would otherwise exceed the rate limit. Pushes of several policy changes (and the
  // catch-up of nodes that were away) queue behind each other at the rate the limit leaves
  // beside the regular renewals, so that they never add up to a stampede.
  Seconds policy_push_window{10};
  uint64_t max_executable_bytes = 1ull << 30;
  size_t max_policy_bytes = 4096;
  uint32_t max_renewals_per_call = 1000;
  pki::VerifyOptions verify;

  Status Validate() const;
};

struct CreatedJoinToken {
  std::string token;  // <id>.<secret>.<site root SHA-256>; give it to the node, shown once
  JoinTokenRecord record;
};

struct Enrolled {
  pki::Certificate node_certificate;
  pki::Certificate site_root;
};

// What a node needs to fetch a package.
struct Package {
  ReleaseRecord release;
  UniqueFd fd;
};

// One entry of a Renew call and its outcome.
struct RenewalRequest {
  std::string service;
  std::vector<uint8_t> csr_der;
};
struct RenewalResult {
  std::string service;
  Status status;  // OK: certificate is set
  std::optional<pki::Certificate> certificate;
  TimePoint renew_after, renew_before;  // suggested window
};

struct ServiceView {
  ServiceRecord service;
  ReleaseRecord release;
  uint32_t instances = 0;
};

class SiteService final {
 public:
  // Wires the parts together and removes package blobs no release refers to (what a crash
  // between keeping a blob and recording its release leaves behind). store_root is the trust
  // anchor of installed releases.
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
  // Downloads, verifies rules 1, 2, 4, 6, 7 and 8 and keeps the release; its service now runs it
  // if its counter is the highest installed. ALREADY_EXISTS if installed; INVALID_ARGUMENT with
  // the verifier's coded reason for a release that does not verify (nothing is kept);
  // FAILED_PRECONDITION for a release the store says is revoked.
  Result<ReleaseRecord> Install(const std::string& name, const std::string& version);
  Result<std::vector<ServiceView>> ListServices();
  // INVALID_ARGUMENT for a policy that is not a compact-able JSON object or is too large.
  // Pushes renew-now to every instance of the service, spread to honour the rate limit.
  Result<ServiceView> SetPolicy(const std::string& service, const std::string& policy_json);
  Result<CreatedJoinToken> CreateJoinToken(const std::string& node, Seconds ttl);
  Result<std::vector<NodeRecord>> ListNodes();
  // FAILED_PRECONDITION if already evicted; the node's instances are removed and it is told to
  // stop them.
  Result<NodeRecord> EvictNode(const std::string& node);
  // Adds the instances and tells the nodes. NOT_FOUND for an unknown service or node,
  // FAILED_PRECONDITION for an evicted node or a revoked release. Nodes that already run the
  // service are skipped. Returns the instances added.
  Result<std::vector<InstanceRecord>> Deploy(const std::string& service,
                                             const std::vector<std::string>& nodes);
  Result<std::vector<InstanceRecord>> Undeploy(const std::string& service,
                                               const std::vector<std::string>& nodes);
  Result<std::vector<InstanceRecord>> ListInstances(const std::string& service,
                                                    const std::string& node);
  Result<std::vector<IssuedRecord>> ListIssued(uint32_t limit);
  Result<SiteCounts> Counts();

  // --- nodes
  // UNAUTHENTICATED for an unknown, used or expired token (it stays usable if the CSR is
  // refused for another reason); PERMISSION_DENIED for a token made for another node and the
  // CSR refusals of pki::CheckRequest.
  Result<Enrolled> Enroll(const std::string& token, const std::string& node,
                          std::span<const uint8_t> csr_der);
  // The enrolled, unevicted node whose certificate the client presented in the TLS handshake
  // (which proved it holds the key): UNAUTHENTICATED without one, for one that does not verify
  // under the site root now (another site's, expired) or whose key is not the node's registered
  // key; PERMISSION_DENIED for an evicted node.
  Result<NodeRecord> AuthenticateNode(const std::optional<std::string>& peer_pem);
  // The same for RenewNode, which also accepts a node certificate that expired less than
  // options().node_recovery_grace ago.
  Result<NodeRecord> AuthenticateNodeForRenewal(const std::optional<std::string>& peer_pem);
  // A fresh node certificate for the same key. INVALID_ARGUMENT for a CSR of another key.
  Result<pki::Certificate> RenewNode(const NodeRecord& node, std::span<const uint8_t> csr_der);
  // The package of a service deployed to the node (PERMISSION_DENIED otherwise).
  Result<Package> PackageFor(const NodeRecord& node, const std::string& service);
  // Cert_site for each entry, each with its own status: PERMISSION_DENIED for a service not
  // deployed to the node, FAILED_PRECONDITION for a revoked release, RESOURCE_EXHAUSTED when the
  // rate limit is reached (renew_after says when to come back). INVALID_ARGUMENT for the whole
  // call when it has no entries or too many.
  Result<std::vector<RenewalResult>> Renew(const NodeRecord& node,
                                           const std::vector<RenewalRequest>& requests);
  // What a node reports of its instances (hello and changes).
  void ReportInstance(const std::string& node, const std::string& service, const std::string& state,
                      const std::string& detail);
  // The same for every instance of a hello, in one transaction (one fsync, not one each).
  void ReportInstances(const std::string& node, std::vector<SiteDatabase::InstanceState> states);
  void NodeSeen(const std::string& node);
  // A node (re)connected and said what it runs: push Deploy for each instance it should run
  // (it may have missed commands while away), renew-now (in the push queue) for each instance
  // whose last Cert_site is older than its service's policy (it missed the push), and Stop for
  // each service it reports that is not deployed to it any more or whose release was revoked.
  Status Reconcile(const std::string& node, const std::vector<std::string>& reported_services);

  // --- store feed
  struct StoreRevocation {
    uint64_t sequence = 0;
    bool developer = false;  // the whole developer; otherwise one release
    std::string developer_name, name, version, reason;
  };
  // Marks what the revocation names revoked and tells every node running it to stop. Records
  // the sequence so the feed resumes after it.
  Status ApplyRevocation(const StoreRevocation& revocation);
  Result<uint64_t> LastFeedSequence();

 private:
  SiteService(slca::SiteCa ca, pki::Certificate store_root, SiteDatabase db,
              storage::BlobStore packages, ReleaseSource& source, NodeNotifier& nodes,
              const Clock& clock, Random& rng, SiteOptions options);
  Result<ReleaseRecord> CommitInstall(const ReleaseHeader& header, storage::BlobStore::Writer& writer);
  Result<NodeRecord> Authenticate(const std::optional<std::string>& peer_pem,
                                  Seconds expired_grace);
  Result<ReleaseRecord> ReleaseOfService(const std::string& service);  // requires mu_
  // Issues (or refuses) one entry; what it issued is appended to `issued`, for the caller to
  // log in one transaction.
  Result<RenewalResult> IssueOne(const NodeRecord& node, const RenewalRequest& request,
                                 TimePoint now, std::vector<IssuedRecord>& issued);  // requires mu_
  bool TakeIssuanceToken(TimePoint now);                                             // requires mu_
  // Queues a renew-now push of `count` re-issuances: returns when its commands are sent and
  // over which window the nodes spread them.                                        requires mu_
  Result<std::pair<TimePoint, Seconds>> SchedulePush(size_t count, TimePoint now);
  Status StopEverywhere(const std::string& service, const std::string& reason);  // requires mu_

  const Clock& clock_;
  const SiteOptions options_;
  const storage::BlobStore packages_;
  const pki::Verifier verifier_;
  const pki::Certificate store_root_;
  ReleaseSource& source_;
  NodeNotifier& nodes_;

  std::mutex mu_;
  slca::SiteCa ca_;             // guarded by mu_ (issuing)
  SiteDatabase db_;             // guarded by mu_
  Random& rng_;                 // guarded by mu_
  double bucket_ = 0;           // issuance tokens available; guarded by mu_
  TimePoint bucket_updated_{};  // guarded by mu_
  TimePoint push_free_at_{};    // guarded by mu_: when the pushes queued so far are sent
};

}  // namespace sitechain::slsm
