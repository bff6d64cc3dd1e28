// The site manager's admin commands (slsm/cli.h): they talk to a running server through its
// admin socket.

#include <iostream>

#include "common/cli.h"
#include "common/time_format.h"
#include "server/state_dir.h"
#include "slsm/admin_commands.h"
#include "slsm/cli.h"

namespace sitechain::slsm {

AdminCommands::AdminCommands(CLI::App& app) {
  auto add_target = [&](CLI::App* cmd) {
    cmd->add_option("--dir,-d", dir_, "state directory: use its admin.sock");
    cmd->add_option("--admin-socket", socket_, "the admin socket (instead of --dir)");
    cmd->add_flag("--json", json_, "print JSON");
  };
  install_ = app.add_subcommand(
      "install", "Download a release from the store, verify it (rules 1 2 4 6 7 8) and keep it.");
  add_target(install_);
  install_->add_option("name", name_, "release name")->required();
  install_->add_option("version", version_, "release version (default: the newest)");

  services_ = app.add_subcommand("services", "Installed services, releases and policies.");
  add_target(services_);

  auto* policy = app.add_subcommand("policy", "Site policies of services.");
  policy->require_subcommand(1);
  policy_set_ = policy->add_subcommand(
      "set", "Set a service's sitePolicy (a JSON object); its instances renew at once.");
  add_target(policy_set_);
  policy_set_->add_option("service", service_, "service name")->required();
  policy_set_->add_option("file", policy_file_, "the policy, a JSON object (at most 4096 bytes)")
      ->required()
      ->check(CLI::ExistingFile);

  auto* tokens = app.add_subcommand("tokens", "One-time join tokens for nodes.");
  tokens->require_subcommand(1);
  token_create_ = tokens->add_subcommand(
      "create",
      "Create a join token for one node (printed once, or written to --out; carries the "
      "site root's fingerprint so the node can authenticate this slsm).");
  add_target(token_create_);
  token_create_->add_option("node", node_, "the node's name")->required();
  token_create_->add_option("--ttl", ttl_, "how long it may be used, e.g. 1h (at most 7d)")
      ->capture_default_str();
  token_create_->add_option("--out,-o", token_file_,
                            "write the token to this new file (mode 0600) instead of printing it, "
                            "for 'nlsm enroll --token-file'");

  nodes_cmd_ = app.add_subcommand("nodes", "Enrolled nodes: up/down, last seen, expiry.");
  add_target(nodes_cmd_);
  evict_ = nodes_cmd_->add_subcommand(
      "evict", "Evict a node: no more certificates, its services are told to stop.");
  add_target(evict_);
  evict_->add_option("node", node_, "the node's name")->required();

  deploy_ = app.add_subcommand("deploy", "Run a service on nodes.");
  add_target(deploy_);
  deploy_->add_option("service", service_, "service name")->required();
  deploy_->add_option("--nodes", nodes_, "node names, comma-separated")->required()->delimiter(',');
  undeploy_ = app.add_subcommand("undeploy", "Stop running a service on nodes.");
  add_target(undeploy_);
  undeploy_->add_option("service", service_, "service name")->required();
  undeploy_->add_option("--nodes", nodes_, "node names, comma-separated")
      ->required()
      ->delimiter(',');

  instances_ = app.add_subcommand("instances", "Deployed instances and their certificates.");
  add_target(instances_);
  instances_->add_option("--service", service_, "only this service");
  instances_->add_option("--node", node_, "only this node");

  issued_ = app.add_subcommand("issued", "The issuance log, newest first.");
  add_target(issued_);
  issued_->add_option("--limit", limit_, "how many entries")->capture_default_str();

  add_target(app.add_subcommand("stats", "Counts of services, nodes, instances, issuance."));
}

int AdminCommands::Run() {
  if (dir_.empty() && socket_.empty()) {
    std::cerr << "slsm: say which site manager: --dir DIR or --admin-socket PATH\n"
              << "Run 'slsm --help' for usage.\n";
    return kExitUsage;
  }
  const AdminTarget target{server::AdminSocketPath(dir_, socket_), json_};
  Status s;
  if (install_->parsed()) {
    s = InstallCommand(target, name_, version_, std::cout);
  } else if (services_->parsed()) {
    s = ServicesCommand(target, std::cout);
  } else if (policy_set_->parsed()) {
    s = SetPolicyCommand(target, service_, policy_file_, std::cout);
  } else if (token_create_->parsed()) {
    auto seconds = ParseDuration(ttl_);
    s = seconds.ok() ? CreateJoinTokenCommand(target, node_, *seconds, token_file_, std::cout)
                     : seconds.status();
  } else if (evict_->parsed()) {
    s = EvictCommand(target, node_, std::cout);
  } else if (nodes_cmd_->parsed()) {
    s = NodesCommand(target, std::cout);
  } else if (deploy_->parsed() || undeploy_->parsed()) {
    s = DeployCommand(target, service_, nodes_, undeploy_->parsed(), std::cout);
  } else if (instances_->parsed()) {
    s = InstancesCommand(target, service_, node_, std::cout);
  } else if (issued_->parsed()) {
    s = IssuedCommand(target, limit_, std::cout);
  } else {
    s = SiteStatsCommand(target, std::cout);
  }
  return ReportStatus("slsm", s);
}

}  // namespace sitechain::slsm
