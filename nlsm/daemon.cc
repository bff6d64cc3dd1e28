#include "nlsm/daemon.h"

#include "common/log.h"
#include "nlsm/admin_service.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/isolation.h"
#include "nlsm/node_state.h"
#include "nlsm/supervisor.h"
#include "server/listeners.h"
#include "server/ready_file.h"
#include "server/state_dir.h"

namespace sitechain::nlsm {
namespace {

// The supervisor as the node manager's ProcessRunner.
class SupervisorRunner final : public ProcessRunner {
 public:
  SupervisorRunner(Supervisor& supervisor, std::chrono::milliseconds grace)
      : supervisor_(supervisor), grace_(grace) {}
  Status Start(const LaunchSpec& spec) override { return supervisor_.Start(spec); }
  Status Stop(const std::string& service) override {
    Status s = supervisor_.Stop(service, grace_);
    if (s.code() == StatusCode::kNotFound) return Status::Ok();
    SITECHAIN_RETURN_IF_ERROR(s);
    return supervisor_.Forget(service);  // drops its copy of the package's descriptor too
  }
  std::optional<ProcessInfo> Info(const std::string& service) const override {
    return supervisor_.Info(service);
  }
  Status Signal(const std::string& service, int signal) override {
    return supervisor_.Signal(service, signal);
  }

 private:
  Supervisor& supervisor_;
  const std::chrono::milliseconds grace_;
};

// An exit the node manager did not ask for goes to the log: the status of a service that is
// running again keeps only its restart count.
void LogUnaskedExit(const ProcessInfo& info) {
  switch (info.state) {
    case ProcessState::kBackoff:
    case ProcessState::kExited:
      spdlog::warn("service {}: {}", info.service, info.detail);
      break;
    case ProcessState::kCrashLoop:
      spdlog::error("service {}: {}", info.service, info.detail);
      break;
    default:
      break;
  }
}

}  // namespace

struct NodeDaemon::Parts {
  std::optional<CgroupHost> cgroups;
  std::unique_ptr<Supervisor> supervisor;
  std::unique_ptr<SupervisorRunner> runner;
  std::unique_ptr<GrpcSiteClient> site;
  std::unique_ptr<NodeManager> manager;
  std::unique_ptr<NodeAdminService> admin_service;
  std::unique_ptr<server::Listeners> listeners;
};

Result<std::unique_ptr<NodeDaemon>> NodeDaemon::Start(const std::string& dir,
                                                      const NlsmConfig& config, const Clock& clock,
                                                      Random& rng) {
  std::unique_ptr<NodeDaemon> daemon(new NodeDaemon());
  SITECHAIN_ASSIGN_OR_RETURN(NodeFiles node, LoadNode(dir));
  SITECHAIN_ASSIGN_OR_RETURN(daemon->lock_, server::LockStateDirectory(dir, "nlsm serve"));
  daemon->parts_ = std::make_unique<Parts>();
  Parts& p = *daemon->parts_;

  SITECHAIN_ASSIGN_OR_RETURN(Isolation isolation, SetUpIsolation(dir, node.node, config));
  if (isolation.on) {
    spdlog::info("isolation {}", isolation.summary);
  } else {
    spdlog::warn("SERVICES ARE NOT ISOLATED: isolation {}", isolation.summary);
  }
  // A previous run that was killed may have left services running: never run one twice.
  const std::string pid_dir = dir + "/run";
  SITECHAIN_ASSIGN_OR_RETURN(auto orphans, Supervisor::KillOrphans(pid_dir, config.stop_grace));
  for (const auto& o : orphans) {
    spdlog::warn("left over from a previous run: {} pid {}: {}", o.service, o.pid, o.outcome);
  }
  if (isolation.cgroups) {
    for (const auto& name : isolation.cgroups->RemoveLeftovers(config.stop_grace)) {
      spdlog::warn("left over from a previous run: the cgroup of {}, killed and removed", name);
    }
  }
  SupervisorOptions sup;
  sup.pid_dir = pid_dir;
  sup.stop_grace = config.stop_grace;
  sup.cgroups = isolation.cgroups;
  sup.on_state_change = LogUnaskedExit;
  p.cgroups = isolation.cgroups;
  NodeOptions options = config.node;
  if (isolation.on) options.service_uids = config.service_uid_range;
  options.isolation = isolation.summary;
  SITECHAIN_ASSIGN_OR_RETURN(p.supervisor, Supervisor::Create(sup, clock, rng));
  p.runner = std::make_unique<SupervisorRunner>(*p.supervisor, config.stop_grace);
  SiteClientOptions site = config.site;
  // Between connection attempts no longer than the manager's own reconnect backoff.
  site.max_reconnect_backoff = config.node.reconnect_max;
  p.site = std::make_unique<GrpcSiteClient>(node.slsm, node.identity, rng, site);
  const std::string name = node.node, slsm = node.slsm;
  p.manager =
      std::make_unique<NodeManager>(dir, std::move(node), *p.site, *p.runner, clock, rng, options);
  SITECHAIN_RETURN_IF_ERROR(p.manager->Start());

  p.admin_service = std::make_unique<NodeAdminService>(*p.manager);
  SITECHAIN_ASSIGN_OR_RETURN(
      p.listeners, server::Listeners::Start(
                       {.admin = {.socket = server::AdminSocketPath(dir, config.admin_socket),
                                  .services = {p.admin_service.get()}}}));
  const std::string& socket = p.listeners->admin_socket();
  spdlog::info("node '{}' serving; site manager {}, admin socket {}", name, slsm, socket);
  SITECHAIN_RETURN_IF_ERROR(
      server::WriteReadyFile(config.ready_file, {{"admin_socket", socket}, {"node", name}}));
  return daemon;
}

NodeDaemon::~NodeDaemon() { Shutdown(true); }

void NodeDaemon::Shutdown(bool stop_services) {
  if (!parts_) return;
  if (parts_->listeners) parts_->listeners->Shutdown(std::nullopt);
  if (parts_->manager) parts_->manager->Shutdown(stop_services);
  const std::optional<CgroupHost> cgroups = parts_->cgroups;
  parts_.reset();  // the supervisor removes the services' cgroups
  if (cgroups) cgroups->RemoveScope();
}

}  // namespace sitechain::nlsm
