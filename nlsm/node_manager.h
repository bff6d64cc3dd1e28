#pragma once
// The node manager's core: the instances this node runs, their certificates and renewal, and the
// commands of the site manager. It decides on its own, offline, whether a service may run: every
// start follows a local verification of rules 1–8 (ARCHITECTURE.md §3) against the node's own
// store root, the site root and its node identity, and the process is started from the very
// descriptor that was hashed.
//
// State directory (beside the node files of node_state.h):
//   <dir>/packages/                   packages by digest (storage::BlobStore)
//   <dir>/instances/<service>/        one per deployed service, mode 0700; the service's runtime
//       instance.key (0600)           directory, named by SITECHAIN_* environment variables:
//       cert-site.pem, bundle.pem     its Cert_site and the trust bundle (site root, store root)
//       policy.json                   the sitePolicy of the current Cert_site
//       cert-dev.pem, cert-store.pem, developer.pem, instance.json (digest, counter)
//       stdout.log, stderr.log
//
// It reaches the outside through two interfaces: SiteClient (site_client.h) and ProcessRunner
// (below, implemented by the supervisor). Time and randomness are injected.
//
// Threading: Start() runs two threads: the loop thread owns every instance and does all the
// work (commands, renewals, expiries) in order; the link thread keeps the command stream to the
// slsm open (reconnecting with backoff) and hands commands to the loop. mu_ guards the command
// queue and the published status snapshot.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
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
#include "nlsm/node_state.h"
#include "nlsm/renewal_policy.h"
#include "nlsm/site_client.h"
#include "nlsm/supervisor.h"
#include "storage/blob_store.h"
#include "pki/certificate.h"
#include "pki/key.h"
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
};

// What `nlsm status` shows of one instance.
struct InstanceStatusView {
  std::string service, state, release, digest, last_error, policy_json;
  int pid = 0;
  uint32_t restarts = 0;
  std::optional<TimePoint> not_after, next_renewal;
};

struct NodeStatusView {
  std::string node, site, slsm;
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

  // Re-verifies every instance kept on disk and relaunches what still verifies, then starts the
  // loop and link threads.
  Status Start();
  // Stops the threads; running services keep running unless stop_services.
  void Shutdown(bool stop_services);

  // A consistent view of every instance, as of the loop's last pass.
  NodeStatusView Snapshot() const;
  // Makes the loop look at the clock now (tests that move a ManualClock call it).
  void Poke() { Post({Event::Kind::kWake, {}}); }

 private:
  struct Instance;
  struct Event {
    enum class Kind { kCommand, kConnected, kDisconnected, kWake } kind = Kind::kWake;
    Command command;
  };

  // loop thread
  void Loop();
  void Handle(const Command& command);
  void Deploy(const std::string& service, const std::string& digest);
  void StopInstance(const std::string& service, const std::string& reason, bool forget);
  void RenewDue(TimePoint now);
  void RenewBatch(const std::vector<std::string>& services);
  void ExpireDue(TimePoint now);
  void RenewNodeCertificateIfDue(TimePoint now);
  void OnReconnect(TimePoint now);
  Status Launch(Instance& instance);
  Status Recover(const std::string& service);
  Result<UniqueFd> OpenPackage(const Instance& instance) const;
  // What the verifier checks for the instance (rules 1–8 but 7), with the package's descriptor.
  pki::ChainInput ChainFor(const Instance& instance, int executable_fd) const;
  // Rules 1–8 for the instance's files now; the failure's text, or OK.
  Status VerifyInstance(const Instance& instance);
  Status SaveInstance(const Instance& instance);
  void Schedule(Instance& instance);
  // The kept package no longer verifies: deploy the instance again (fetching a fresh copy) at
  // retry_initial from now.
  void RefetchLater(Instance& instance);
  // When to try again a deploy that failed `attempts` times in a row for a reason a fresh one
  // may cure: [d/2, d] with d = min(retry_max, retry_initial * 2^(attempts-1)).
  TimePoint RedeployAt(int attempts);
  std::optional<TimePoint> NextWake() const;
  void Publish();

  // Why the node's own clock may be the trouble ("" if it looks fine): before its node
  // certificate's notBefore by more than the clock-skew allowance. Any thread.
  std::string ClockHint(TimePoint now) const;

  // link thread
  void Link();
  void Post(Event event);

  const std::string dir_;
  NodeFiles node_;
  SiteClient& site_;
  ProcessRunner& runner_;
  const Clock& clock_;
  Random& rng_;
  const NodeOptions options_;
  const RenewalPolicy policy_;
  const pki::Verifier verifier_;
  storage::BlobStore packages_;

  std::map<std::string, std::unique_ptr<Instance>> instances_;  // owned by the loop thread
  std::optional<TimePoint> node_renewal_;                       // owned by the loop thread
  int node_failures_ = 0;                                       // owned by the loop thread

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;         // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  bool connected_ = false;           // guarded by mu_
  CommandStream* stream_ = nullptr;  // guarded by mu_: to close on shutdown
  TimePoint node_not_before_;        // guarded by mu_: the node certificate's, for ClockHint
  NodeStatusView snapshot_;          // guarded by mu_
  std::thread loop_, link_;
};

}  // namespace sitechain::nlsm
