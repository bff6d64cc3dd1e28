// The node manager's subcommands (nlsm/cli.h).

#include "nlsm/cli.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "common/files.h"
#include "common/log.h"
#include "common/terminal_text.h"
#include "common/time_format.h"
#include "nlsm/config.h"
#include "nlsm/daemon.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/instance_check.h"
#include "server/admin_client.h"
#include "server/serve_loop.h"
#include "server/state_dir.h"
#include "sitechain/v1/node.grpc.pb.h"

namespace sitechain::nlsm {

Commands::Commands(CLI::App& app) {
  enroll_cmd_ = app.add_subcommand(
      "enroll", "Make the node key and enroll with the site manager using a join token.");
  enroll_cmd_->add_option("--slsm", enroll_.slsm, "host:port of the site manager")->required();
  AddTokenOptions(enroll_cmd_, enroll_token_,
                  "join token from the site admin (slsm tokens create NODE --out FILE)");
  enroll_cmd_
      ->add_option("--store-root", enroll_.store_root_path,
                   "the store root this node trusts (its own; never taken from the slsm)")
      ->required()
      ->check(CLI::ExistingFile);
  enroll_cmd_->add_option("--dir,-d", enroll_.dir, "state directory (created, mode 0700)")
      ->required();
  enroll_cmd_->add_option("--node", enroll_.node, "this node's name (the token is bound to it)")
      ->required();
  enroll_cmd_
      ->add_option("--key-type", enroll_.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();

  check_cmd_ = app.add_subcommand(
      "check",
      "Fetch a deployed service's package and a fresh Cert_site from the site manager "
      "and verify rules 1-8 offline, without running it.");
  check_cmd_->add_option("service", service_, "service name")->required();
  check_cmd_->add_option("--dir,-d", dir_, "the node's state directory")->required();
  check_cmd_->add_flag("--json", json_, "print JSON");

  serve_cmd_ = app.add_subcommand(
      "serve",
      "Run the node manager: verify, run, supervise and renew the services the site "
      "deploys here. Stops its services and exits on SIGINT/SIGTERM.");
  serve_cmd_->add_option("--dir,-d", dir_, "the node's state directory (nlsm enroll)")->required();
  serve_cmd_->add_option("--config", config_path_, "JSON file of settings (docs/operations.md)")
      ->check(CLI::ExistingFile);

  status_cmd_ = app.add_subcommand(
      "status",
      "Every instance on this node: state, pid, release, certificate expiry, next "
      "renewal, last error.");
  status_cmd_->add_option("--dir,-d", dir_, "the node's state directory: use its admin.sock");
  status_cmd_->add_option("--admin-socket", socket_, "the admin socket (instead of --dir)");
  status_cmd_->add_flag("--json", json_, "print JSON");
}

int Commands::Run() {
  if (serve_cmd_->parsed()) return Serve();
  if (status_cmd_->parsed()) return ShowStatus();
  if (enroll_cmd_->parsed()) return Enroll();
  return Check();
}

int Commands::Enroll() {
  SystemClock clock;
  SystemRandom rng;
  auto token = GetToken(enroll_token_);
  if (!token.ok()) return ReportStatus("nlsm", token.status());
  enroll_.token = *token;
  auto identity = EnrollNode(enroll_, clock, rng);
  if (!identity.ok()) return ReportStatus("nlsm", identity.status());
  std::cout << "enrolled node '" << ForTerminal(enroll_.node) << "' with site '"
            << ForTerminal(identity->site_root.Subject().common_name) << "' at " << enroll_.slsm
            << "\nsite root sha256 " << identity->site_root.Sha256Fingerprint()
            << " (matches the token)\nnode certificate " << identity->certificate.SerialHex()
            << " valid until " << FormatTime(identity->certificate.NotAfter()) << "\n";
  return kExitOk;
}

int Commands::Check() {
  const std::string& dir = dir_;
  const std::string& service = service_;
  const bool json = json_;
  auto node = LoadNode(dir);
  if (!node.ok()) return ReportStatus("nlsm", node.status());
  SystemClock clock;
  SystemRandom rng;
  auto packages = storage::BlobStore::Open(dir + "/packages", 0555);
  if (!packages.ok()) return ReportStatus("nlsm", packages.status());
  GrpcSiteClient site(node->slsm, node->identity, rng);
  const pki::Verifier verifier(clock);
  auto checked = FetchAndVerify(site, *packages, *node, service, std::nullopt, verifier, rng);
  if (!checked.ok()) return ReportStatus("nlsm", checked.status());
  const auto& v = checked->verification;
  // Keep what was checked, for inspection (openssl x509 -text, devkit inspect).
  const std::string out = dir + "/check/" + service;
  for (const auto& [name, cert] : {std::pair{"cert-dev.pem", &checked->cert_dev},
                                   {"cert-store.pem", &checked->cert_store},
                                   {"developer.pem", &checked->developer_identity},
                                   {"cert-site.pem", &checked->cert_site}}) {
    if (Status s = MakeDirectories(out, 0700); !s.ok()) return ReportStatus("nlsm", s);
    if (Status s = cert->Save(out + "/" + name); !s.ok()) return ReportStatus("nlsm", s);
  }
  if (json) {
    nlohmann::json j = {{"service", service},
                        {"release", checked->package.name + " " + checked->package.version},
                        {"ok", v.ok()},
                        {"rules_checked", v.rules_checked},
                        {"cert_site_not_after", FormatTime(checked->cert_site.NotAfter())},
                        {"renew_after", FormatTime(checked->renew_after)},
                        {"renew_before", FormatTime(checked->renew_before)},
                        {"failure", v.ok() ? "" : v.failure->ToString()},
                        {"certificates", out}};
    // ensure_ascii: DEL, C1 and everything else beyond ASCII as \uXXXX; bytes that are not UTF-8
    // (the site chose the names) as U+FFFD instead of an exception.
    std::cout << j.dump(2, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    // The package's name and version came from the site: escaped, like every peer's string.
    std::cout << ForTerminal(service) << ": " << ForTerminal(checked->package.name) << " "
              << ForTerminal(checked->package.version) << " (release "
              << checked->package.release_counter << ", " << checked->package.size
              << " bytes)\nCert_site " << checked->cert_site.SerialHex() << " valid until "
              << FormatTime(checked->cert_site.NotAfter()) << "; renew between "
              << FormatTime(checked->renew_after) << " and " << FormatTime(checked->renew_before)
              << "\ncertificates in " << out << "\n";
    if (v.ok()) {
      std::cout << "verified offline: rules";
      for (int r : v.rules_checked) std::cout << " " << r;
      std::cout << " -> may run\n";
    }
  }
  if (!v.ok()) {
    std::cerr << "nlsm: refused: " << ForTerminalLines(v.failure->ToString()) << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

int Commands::Serve() {
  auto config = LoadNlsmConfig(config_path_);
  if (!config.ok()) return ReportStatus("nlsm", config.status());
  if (Status s = InitLogging("nlsm", config->log_level); !s.ok()) return ReportStatus("nlsm", s);
  SystemClock clock;
  SystemRandom rng;
  std::unique_ptr<NodeDaemon> daemon;
  return ReportStatus("nlsm",
                      server::ServeUntilSignal(
                          [&]() -> Status {
                            SITECHAIN_ASSIGN_OR_RETURN(
                                daemon, NodeDaemon::Start(dir_, *config, clock, rng));
                            return Status::Ok();
                          },
                          [&] { daemon->Shutdown(true); }, "stopping services and shutting down"));
}

int Commands::ShowStatus() {
  if (dir_.empty() && socket_.empty()) {
    std::cerr << "nlsm: say which node: --dir DIR or --admin-socket PATH\n";
    return kExitUsage;
  }
  const server::AdminClient admin(server::AdminSocketPath(dir_, socket_),
                                  {.name = "the node manager",
                                   .serve_command = "nlsm serve",
                                   .deadline = std::chrono::seconds(10),
                                   .with_transport_error = false});
  return ReportStatus(
      "nlsm",
      server::PrintAdminResponse(
          admin.Call(&v1::NodeAdmin::Stub::GetNodeStatus, {}), json_, std::cout,
          [](const v1::NodeStatus& status) {
            // Service and release names came from the site, last errors quote the site's and
            // the services' words: every string is escaped (common/terminal_text.h).
            const auto or_dash = [](const std::string& s) {
              return s.empty() ? "-" : ForTerminal(s);
            };
            std::cout << "node " << ForTerminal(status.node()) << " of site "
                      << ForTerminal(status.site()) << ", site manager "
                      << ForTerminal(status.slsm())
                      << (status.connected() ? " (connected)" : " (NOT connected)")
                      << "\nnode certificate until "
                      << ForTerminal(status.node_certificate_not_after()) << "\nisolation "
                      << ForTerminal(status.isolation()) << "\n";
            for (const auto& i : status.instances()) {
              std::cout << ForTerminal(i.service()) << "\t" << ForTerminal(i.state()) << "\tpid "
                        << i.pid() << (i.uid() != 0 ? "\tuid " + std::to_string(i.uid()) : "")
                        << "\t" << ForTerminal(i.release()) << "\tcert until "
                        << or_dash(i.certificate_not_after()) << "\tnext renewal "
                        << or_dash(i.next_renewal())
                        << (i.last_error().empty() ? "" : "\t" + ForTerminal(i.last_error()))
                        << "\n";
            }
          }));
}

}  // namespace sitechain::nlsm
