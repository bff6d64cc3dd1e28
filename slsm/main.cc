// slsm: the sitechain site manager with its site CA. Parses the command line and hands over:
// `init` to InitSite, `serve` to SlsmServer, the admin commands to admin_commands.h.

#include <iostream>

#include "common/cli.h"
#include "common/log.h"
#include "common/time_format.h"
#include "slsm/admin_commands.h"
#include "slsm/config.h"
#include "slsm/server.h"

using namespace sitechain;

namespace {

// Serves until SIGINT or SIGTERM.
int Serve(const std::string& dir, const std::string& config_path,
          const std::optional<std::string>& passphrase) {
  auto config = slsm::LoadConfig(dir, config_path);
  if (!config.ok()) return ReportStatus("slsm", config.status());
  if (Status s = InitLogging("slsm", config->log_level); !s.ok()) return ReportStatus("slsm", s);
  // Blocked before any thread starts, so that only the wait below sees them.
  const sigset_t signals = BlockTerminationSignals();
  SystemClock clock;
  SystemRandom rng;
  auto server = slsm::SlsmServer::Start(dir, *config, passphrase, clock, rng);
  if (!server.ok()) return ReportStatus("slsm", server.status());
  const int signal = WaitForTerminationSignal(signals);
  spdlog::info("received signal {}; shutting down", signal);
  (*server)->Shutdown();
  (*server)->Wait();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "slsm - the sitechain site manager: the site CA, installed services, node enrollment, "
      "deployments and short-lived site certificates.",
      "slsm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain slsm 0.1.0");
  std::string passphrase_file, dir, socket, config_path;
  bool json = false;

  slsm::InitOptions init;
  std::string init_lifetime = "10y";
  auto* init_cmd = app.add_subcommand(
      "init", "Create a site: its CA (root key and certificate), config and state database.");
  init_cmd->add_option("--dir,-d", init.dir, "state directory (created, mode 0700)")->required();
  init_cmd->add_option("--site", init.site, "the site's name (root CN, SPIFFE trust domain)")
      ->required();
  init_cmd->add_option("--store", init.store, "host:port of the app store")->required();
  init_cmd->add_option("--store-root", init.store_root_path, "the store's root certificate (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  init_cmd->add_option("--key-type", init.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();
  init_cmd->add_option("--lifetime", init_lifetime, "site root validity, e.g. 10y")
      ->capture_default_str();
  init_cmd
      ->add_option("--passphrase-file", passphrase_file, "encrypt root.key with this passphrase")
      ->check(CLI::ExistingFile);

  auto* serve_cmd = app.add_subcommand(
      "serve",
      "Run the site manager: the node-facing TLS service, the admin socket and the "
      "store's revocation feed. Stops on SIGINT/SIGTERM.");
  serve_cmd->add_option("--dir,-d", dir, "state directory (slsm init)")->required();
  serve_cmd
      ->add_option("--config", config_path,
                   "JSON file whose keys override <dir>/slsm.json (docs/operations.md)")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--passphrase-file", passphrase_file, "passphrase of root.key")
      ->check(CLI::ExistingFile);

  // Admin commands: they talk to a running server through its admin socket.
  auto add_target = [&](CLI::App* cmd, bool data = true) {
    cmd->add_option("--dir,-d", dir, "state directory: use its admin.sock");
    cmd->add_option("--admin-socket", socket, "the admin socket (instead of --dir)");
    if (data) cmd->add_flag("--json", json, "print JSON");
  };
  std::string name, version, service, node, policy_file, ttl = "1h";
  std::vector<std::string> nodes;
  uint32_t limit = 100;

  auto* install = app.add_subcommand(
      "install", "Download a release from the store, verify it (rules 1 2 4 6 7 8) and keep it.");
  add_target(install);
  install->add_option("name", name, "release name")->required();
  install->add_option("version", version, "release version (default: the newest)");

  auto* services = app.add_subcommand("services", "Installed services, releases and policies.");
  add_target(services);

  auto* policy = app.add_subcommand("policy", "Site policies of services.");
  policy->require_subcommand(1);
  auto* policy_set = policy->add_subcommand(
      "set", "Set a service's sitePolicy (a JSON object); its instances renew at once.");
  add_target(policy_set);
  policy_set->add_option("service", service, "service name")->required();
  policy_set->add_option("file", policy_file, "the policy, a JSON object (at most 4096 bytes)")
      ->required()
      ->check(CLI::ExistingFile);

  auto* tokens = app.add_subcommand("tokens", "One-time join tokens for nodes.");
  tokens->require_subcommand(1);
  auto* token_create = tokens->add_subcommand(
      "create",
      "Create a join token for one node (printed once; carries the site root's "
      "fingerprint so the node can authenticate this slsm).");
  add_target(token_create);
  token_create->add_option("node", node, "the node's name")->required();
  token_create->add_option("--ttl", ttl, "how long it may be used, e.g. 1h (at most 7d)")
      ->capture_default_str();

  auto* nodes_cmd = app.add_subcommand("nodes", "Enrolled nodes: up/down, last seen, expiry.");
  add_target(nodes_cmd);
  auto* evict = nodes_cmd->add_subcommand(
      "evict", "Evict a node: no more certificates, its services are told to stop.");
  add_target(evict);
  evict->add_option("node", node, "the node's name")->required();

  auto* deploy = app.add_subcommand("deploy", "Run a service on nodes.");
  add_target(deploy);
  deploy->add_option("service", service, "service name")->required();
  deploy->add_option("--nodes", nodes, "node names, comma-separated")->required()->delimiter(',');
  auto* undeploy = app.add_subcommand("undeploy", "Stop running a service on nodes.");
  add_target(undeploy);
  undeploy->add_option("service", service, "service name")->required();
  undeploy->add_option("--nodes", nodes, "node names, comma-separated")->required()->delimiter(',');

  auto* instances = app.add_subcommand("instances", "Deployed instances and their certificates.");
  add_target(instances);
  instances->add_option("--service", service, "only this service");
  instances->add_option("--node", node, "only this node");

  auto* issued = app.add_subcommand("issued", "The issuance log, newest first.");
  add_target(issued);
  issued->add_option("--limit", limit, "how many entries")->capture_default_str();

  auto* stats = app.add_subcommand("stats", "Counts of services, nodes, instances, issuance.");
  add_target(stats);

  if (auto code = ParseCli(app, argc, argv)) return *code;
  auto passphrase = ReadPassphraseFile(passphrase_file);
  if (!passphrase.ok()) return ReportStatus("slsm", passphrase.status());

  if (init_cmd->parsed()) {
    auto lifetime = ParseDuration(init_lifetime);
    if (!lifetime.ok()) return ReportStatus("slsm", lifetime.status());
    init.lifetime = *lifetime;
    init.passphrase = *passphrase;
    SystemClock clock;
    SystemRandom rng;
    auto root = slsm::InitSite(init, clock, rng);
    if (!root.ok()) return ReportStatus("slsm", root.status());
    std::cout << "created site '" << init.site << "' in " << init.dir << "\nsite root: " << init.dir
              << "/root.pem (sha256 " << root->Sha256Fingerprint() << ")\nstore: " << init.store
              << "\nnext: slsm serve --dir " << init.dir << "\n";
    return kExitOk;
  }
  if (serve_cmd->parsed()) return Serve(dir, config_path, *passphrase);

  if (dir.empty() && socket.empty()) {
    std::cerr << "slsm: say which site manager: --dir DIR or --admin-socket PATH\n"
              << "Run 'slsm --help' for usage.\n";
    return kExitUsage;
  }
  const slsm::AdminTarget target{socket.empty() ? dir + "/admin.sock" : socket, json};
  Status s;
  if (install->parsed()) {
    s = slsm::InstallCommand(target, name, version, std::cout);
  } else if (services->parsed()) {
    s = slsm::ServicesCommand(target, std::cout);
  } else if (policy_set->parsed()) {
    s = slsm::SetPolicyCommand(target, service, policy_file, std::cout);
  } else if (token_create->parsed()) {
    auto seconds = ParseDuration(ttl);
    s = seconds.ok() ? slsm::CreateJoinTokenCommand(target, node, *seconds, std::cout)
                     : seconds.status();
  } else if (evict->parsed()) {
    s = slsm::EvictCommand(target, node, std::cout);
  } else if (nodes_cmd->parsed()) {
    s = slsm::NodesCommand(target, std::cout);
  } else if (deploy->parsed() || undeploy->parsed()) {
    s = slsm::DeployCommand(target, service, nodes, undeploy->parsed(), std::cout);
  } else if (instances->parsed()) {
    s = slsm::InstancesCommand(target, service, node, std::cout);
  } else if (issued->parsed()) {
    s = slsm::IssuedCommand(target, limit, std::cout);
  } else {
    s = slsm::SiteStatsCommand(target, std::cout);
  }
  return ReportStatus("slsm", s);
}
