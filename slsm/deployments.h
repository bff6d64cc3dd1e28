#pragma once
// Deployments: which services run on which nodes (deploy, undeploy, the instances and what their
// nodes report of them), and every command that follows from it: Deploy when an instance is
// added or its service moves to a new release, Stop when it is removed, revoked or its node
// evicted, renew-now pushes after a policy change, and the catch-up of a node that reconnects.
// Its SQL is deployment_db.h; it implements the catalog's ServiceInstances.
//
// It reaches nodes through NodeNotifier, a small interface it owns (node_hub.h implements it).
//
// Thread-safe: mu_ guards push_free_at_ (moved only by the site admin's policy changes, never by
// a node's reconnect) and serialises the changes of the instance set with the
// commands they send (a Deploy and a concurrent Stop, install or eviction reach a node in the
// order of the changes). Node commands only queue (never the network), so mu_ is never held
// across a peer's I/O, and never across a signature. Reads and reported states take only the
// database's lock. Lock order: Catalog's lock, then mu_, then the database's.
// Errors: every refusal is a Status whose message says what was wrong.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "slsm/catalog.h"
#include "slsm/catalog_db.h"
#include "slsm/deployment_db.h"
#include "slsm/enrollment.h"
#include "slsm/records.h"
#include "slsm/site_db.h"
#include "slsm/site_options.h"
#include "storage/blob_store.h"

namespace sitechain::slsm {

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

// What a node reports of an instance is kept cut to at most these many bytes (its state and its
// detail), at the start of a UTF-8 sequence (so up to 3 bytes shorter).
inline constexpr size_t kMaxReportedStateBytes = 64;
inline constexpr size_t kMaxReportedDetailBytes = 1024;

// What a node needs to fetch a package.
struct Package {
  ReleaseRecord release;
  UniqueFd fd;
};

class Deployments final : public ServiceInstances {
 public:
  // Keeps references to everything; they must outlive it.
  Deployments(SiteDatabase& db, Enrollment& enrollment, const storage::BlobStore& packages,
              NodeNotifier& nodes, const Clock& clock, const SiteOptions& options);
  Deployments(const Deployments&) = delete;
  Deployments& operator=(const Deployments&) = delete;

  // Adds the instances and tells the nodes. NOT_FOUND for an unknown service or node,
  // FAILED_PRECONDITION for an evicted node or a revoked release. Nodes that already run the
  // service are skipped. Returns the instances added.
  Result<std::vector<InstanceRecord>> Deploy(const std::string& service,
                                             const std::vector<std::string>& nodes);
  // Removes the instances (all or nothing: NOT_FOUND if one is not deployed) and tells the
  // nodes to stop them. Returns the instances removed.
  Result<std::vector<InstanceRecord>> Undeploy(const std::string& service,
                                               const std::vector<std::string>& nodes);
  // Empty filters match any.
  Result<std::vector<InstanceRecord>> ListInstances(const std::string& service,
                                                    const std::string& node);
  // FAILED_PRECONDITION if already evicted; the node's instances are removed and it is told to
  // stop them, then disconnected.
  Result<NodeRecord> EvictNode(const std::string& node);
  // The package of a service deployed to the node (PERMISSION_DENIED otherwise).
  Result<Package> PackageFor(const NodeRecord& node, const std::string& service);
  // What a node reports of its instances (hello and changes), kept cut to
  // kMaxReportedStateBytes and kMaxReportedDetailBytes; reports of instances the node does not
  // run are ignored. Best effort.
  void ReportInstance(const std::string& node, const std::string& service, const std::string& state,
                      const std::string& detail);
  // The same for every instance of a hello, in one transaction (one fsync, not one each).
  void ReportInstances(const std::string& node, std::vector<InstanceState> states);
  // A node (re)connected and said what it runs: push Deploy for each instance it should run
  // (it may have missed commands while away), renew-now (in the push queue) for each instance
  // whose last Cert_site is older than its service's policy (it missed the push; CatchUpPush:
  // it never moves the push schedule), and Stop for each service it reports that is not
  // deployed to it any more or whose release was revoked.
  Status Reconcile(const std::string& node, const std::vector<std::string>& reported_services);

  // ServiceInstances (the catalog's view of the instances)
  Status RollOut(const std::string& service, const ReleaseRecord& release) override;
  Result<uint32_t> PushPolicy(const std::string& service) override;
  Status StopEverywhere(const std::string& service, const std::string& reason) override;
  Result<uint32_t> CountOf(const std::string& service) override;

 private:
  // The re-issuances per second that pushes may use (what regular renewals leave).
  Result<double> PushRate();
  // Queues a renew-now push of `count` re-issuances (a policy change by the site admin): returns
  // when its commands are sent and over which window the nodes spread them.    requires mu_
  Result<std::pair<TimePoint, Seconds>> SchedulePush(size_t count, TimePoint now);
  // The same for a reconnecting node's catch-up, without moving the schedule (issue 17: one
  // node's hellos must not delay the others' pushes): behind the pushes queued so far, spread
  // over the time every instance of the site would take at the push rate.      requires mu_
  Result<std::pair<TimePoint, Seconds>> CatchUpPush(TimePoint now);

  const Clock& clock_;
  const SiteOptions& options_;
  const storage::BlobStore& packages_;
  NodeNotifier& nodes_;     // thread-safe
  Enrollment& enrollment_;  // thread-safe
  DeploymentDb db_;         // thread-safe (the database's lock)
  CatalogDb catalog_;       // thread-safe; reads only

  std::mutex mu_;
  TimePoint push_free_at_{};  // guarded by mu_: when the admin's pushes queued so far are sent
};

}  // namespace sitechain::slsm
