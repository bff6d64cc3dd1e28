#pragma once
// The node manager's core: the instances this node runs, their certificates and renewal, and the
// commands of the site manager. It decides on its own, offline, whether a service may run: every
// start follows a local verification of rules 1–8 (ARCHITECTURE.md §3) against the node's own
// store root, the site root and its node identity, and the process is started from the very
// descriptor that was hashed.
//
// NodeManager is the event loop over parts that each own one concept:
//   instance_store.h  the instances kept in <dir>/instances (save, recover after a restart)
//   release_counters.h  the highest release counter accepted per name (rule 7), kept apart
//                     from the instances: it outlives failed deploys, undeploys and restarts
//   deployer.h        fetch a package into <dir>/packages, verify, build the launch spec
//   renewer.h         which renewals are due, batches, the node certificate, expiry
//   site_link.h       the command stream to the slsm (connect, reconnect, heartbeats)
// Every instance (instance.h) belongs to the loop; the parts are lent them for each call.
//
// It reaches the outside through two interfaces: SiteClient (site_client.h) and ProcessRunner
// (below, implemented by the supervisor). Time and randomness are injected.
//
// Threading: Start() runs the loop thread and the link's thread: the loop thread owns every
// instance and every part but the link, and does all the work (commands, renewals, expiries) in
// order; the link thread keeps the command stream to the slsm open (reconnecting with backoff)
// and hands commands to the loop. mu_ guards the event queue, the published status snapshot and
// the node certificate's notBefore (for ClockHint).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "nlsm/deployer.h"
#include "nlsm/instance.h"
#include "nlsm/instance_store.h"
#include "nlsm/node_state.h"
#include "nlsm/release_counters.h"
#include "nlsm/renewal_policy.h"
#include "nlsm/renewer.h"
#include "nlsm/service_users.h"
#include "nlsm/site_client.h"
#include "nlsm/site_link.h"
#include "nlsm/supervisor.h"
#include "pki/certificate.h"
#include "pki/verifier.h"

namespace sitechain::nlsm {

// Runs service processes: the supervisor, through a thin adapter in daemon.cc; tests may hand in
// their own. The types are the supervisor's own (supervisor.h).
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual Status Start(const LaunchSpec& spec) = 0;
  // Stops (SIGTERM, then SIGKILL after the runner's grace) and forgets the process. OK if there
  // is no such process.
  virtual Status Stop(const std::string& service) = 0;
  virtual std::optional<ProcessInfo> Info(const std::string& service) const = 0;
  // Sends a signal to the service's running process (the sitePolicy's "renewal_signal").
  virtual Status Signal(const std::string& service, int signal) = 0;
};

struct NodeOptions {
  RenewalPolicyConfig renewal;  // the default window policy
  // Instances whose renewal is due within this much of each other renew in one call.
  Seconds batch_interval{5};
  Seconds heartbeat_interval{5};
  Seconds reconnect_initial{1};
  Seconds reconnect_max{60};
  // After a reconnect, overdue renewals are spread this far apart, most urgent first.
  std::chrono::milliseconds reconnect_spacing{200};
  pki::VerifyOptions verify;
  // Where services run as their own users (the daemon sets it when it can isolate services):
  // the range their uids come from (service_users.h). Unset: they run as the nlsm's user.
  std::optional<UidRange> service_uids;
  // What `nlsm status` says of isolation: "on: ..." or "off: why".
  std::string isolation = "off";
};

// What `nlsm status` shows of one instance.
struct InstanceStatusView {
  std::string service, state, release, digest, last_error, policy_json;
  int pid = 0;
  uint32_t restarts = 0;
  uint32_t uid = 0;    // its service user, 0 if none
  std::string cgroup;  // its cgroup, "" if none
  std::optional<TimePoint> not_after, next_renewal;
};

struct NodeStatusView {
  std::string node, site, slsm, isolation;
  bool connected = false;
  TimePoint node_certificate_not_after;
  std::vector<InstanceStatusView> instances;
};

class NodeManager final {
 public:
  NodeManager(std::string dir, NodeFiles node, SiteClient& site, ProcessRunner& runner,
              const Clock& clock, Random& rng, NodeOptions options);
  ~NodeManager();
  NodeManager(const NodeManager&) = delete;
  NodeManager& operator=(const NodeManager&) = delete;

  // Reads the release counters (their status if they cannot be read: the node does not start
  // without them), re-verifies every instance kept on disk and relaunches what still verifies,
  // then starts the loop and link threads.
  Status Start();
  // Stops the threads; running services keep running unless stop_services.
  void Shutdown(bool stop_services);

  // A consistent view of every instance, as of the loop's last pass.
  NodeStatusView Snapshot() const;
  // Makes the loop look at the clock now (tests that move a ManualClock call it).
  void Poke() { Post({Event::Kind::kWake, {}}); }

 private:
  struct Event {
    enum class Kind { kCommand, kConnected, kDisconnected, kWake } kind = Kind::kWake;
    Command command;
  };

  // loop thread
  void Loop();
  void Handle(const Command& command);
  void Deploy(const std::string& service, const std::string& digest);
  void StopInstance(const std::string& service, const std::string& reason, bool forget);
  void ExpireDue(TimePoint now);
  void RenewDue(TimePoint now);
  // Verifies and keeps a Cert_site the slsm issued for the instance's new key (identity.pem is
  // replaced as a whole), and launches with it or tells the running service (NotifyRenewed).
  void Install(Instance& instance, pki::Certificate cert_site, pki::PrivateKey key,
               const RenewalOutcome& outcome, TimePoint now);
  // Sends the running service its sitePolicy's "renewal_signal", if it asks for one.
  void NotifyRenewed(const Instance& instance);
  void RenewNodeCertificateIfDue(TimePoint now);
  Status Launch(Instance& instance);
  // Keeps the release counter of a release that verified (rule 7); logs and returns the write's
  // status if it cannot be kept.
  Status RecordRelease(const Instance& instance, const pki::ServiceRelease& release);
  Status Recover(const std::string& service);
  // Gives the instance its service user, where services run as their own users.
  Status AssignUser(Instance& instance);
  // The kept package no longer verifies: deploy the instance again (fetching a fresh copy) at
  // retry_initial from now.
  void RefetchLater(Instance& instance);
  std::optional<TimePoint> NextWake() const;
  void Publish();

  // Why the node's own clock may be the trouble ("" if it looks fine): before its node
  // certificate's notBefore by more than the clock-skew allowance. Any thread.
  std::string ClockHint(TimePoint now) const;
  // Any thread.
  void Post(Event event);

  const std::string dir_;
  NodeFiles node_;  // the node certificate changes on renewal (loop thread)
  ProcessRunner& runner_;
  const Clock& clock_;
  const NodeOptions options_;
  InstanceStore store_;       // loop thread
  ReleaseCounters counters_;  // loop thread (loaded in Start, before the loop runs)
  Deployer deployer_;         // loop thread
  Renewer renewer_;           // loop thread

  Instances instances_;                // owned by the loop thread
  std::optional<ServiceUsers> users_;  // loop thread (set in Start, before the loop runs)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;   // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  TimePoint node_not_before_;  // guarded by mu_: the node certificate's, for ClockHint
  NodeStatusView snapshot_;    // guarded by mu_
  std::thread loop_;
  SiteLink link_;  // last: its thread calls back into the members above
};

}  // namespace sitechain::nlsm
