// nlsm: the sitechain node manager. Parses the command line and hands over: `enroll` to
// EnrollNode, `check` to FetchAndVerify, `serve` to NodeDaemon, `status` to the admin socket.

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "common/grpc_status.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/proto_json.h"
#include "common/time_format.h"
#include "nlsm/config.h"
#include "nlsm/daemon.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/instance_check.h"
#include "nlsm/node_state.h"
#include "sitechain/v1/node.grpc.pb.h"

using namespace sitechain;

namespace {

int Check(const std::string& dir, const std::string& service, bool json) {
  auto node = nlsm::LoadNode(dir);
  if (!node.ok()) return ReportStatus("nlsm", node.status());
  SystemClock clock;
  SystemRandom rng;
  auto packages = storage::BlobStore::Open(dir + "/packages", 0555);
  if (!packages.ok()) return ReportStatus("nlsm", packages.status());
  nlsm::GrpcSiteClient site(node->slsm, node->identity, rng);
  const pki::Verifier verifier(clock);
  auto checked = nlsm::FetchAndVerify(site, *packages, *node, service, std::nullopt, verifier, rng);
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
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << service << ": " << checked->package.name << " " << checked->package.version
              << " (release " << checked->package.release_counter << ", " << checked->package.size
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
    std::cerr << "nlsm: refused: " << v.failure->ToString() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

// Serves until SIGINT or SIGTERM.
int Serve(const std::string& dir, const std::string& config_path) {
  auto config = nlsm::LoadNlsmConfig(config_path);
  if (!config.ok()) return ReportStatus("nlsm", config.status());
  if (Status s = InitLogging("nlsm", config->log_level); !s.ok()) return ReportStatus("nlsm", s);
  // Blocked before any thread starts, so that only the wait below sees them.
  const sigset_t signals = BlockTerminationSignals();
  SystemClock clock;
  SystemRandom rng;
  auto daemon = nlsm::NodeDaemon::Start(dir, *config, clock, rng);
  if (!daemon.ok()) return ReportStatus("nlsm", daemon.status());
  const int signal = WaitForTerminationSignal(signals);
  spdlog::info("received signal {}; stopping services and shutting down", signal);
  (*daemon)->Shutdown(true);
  return kExitOk;
}

int PrintStatus(const std::string& socket, bool json) {
  auto stub = v1::NodeAdmin::NewStub(DialUnix(socket));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::NodeStatus status;
  const grpc::Status rpc = stub->GetNodeStatus(&context, {}, &status);
  if (rpc.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return ReportStatus("nlsm", Unavailable("cannot reach the node manager's admin socket " +
                                            socket + " (is 'nlsm serve' running?)"));
  }
  if (!rpc.ok()) return ReportStatus("nlsm", FromGrpcStatus(rpc));
  if (json) {
    std::cout << ProtoToJson(status);
    return kExitOk;
  }
  std::cout << "node " << status.node() << " of site " << status.site() << ", site manager "
            << status.slsm() << (status.connected() ? " (connected)" : " (NOT connected)")
            << "\nnode certificate until " << status.node_certificate_not_after() << "\n";
  for (const auto& i : status.instances()) {
    std::cout << i.service() << "\t" << i.state() << "\tpid " << i.pid() << "\t" << i.release()
              << "\tcert until "
              << (i.certificate_not_after().empty() ? "-" : i.certificate_not_after())
              << "\tnext renewal " << (i.next_renewal().empty() ? "-" : i.next_renewal())
              << (i.last_error().empty() ? "" : "\t" + i.last_error()) << "\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "nlsm - the sitechain node manager: enrolls the node with its site, verifies every "
      "service's certificate chain offline before it runs, and renews certificates.",
      "nlsm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain nlsm 0.1.0");

  nlsm::EnrollOptions enroll;
  auto* enroll_cmd = app.add_subcommand(
      "enroll", "Make the node key and enroll with the site manager using a join token.");
  enroll_cmd->add_option("--slsm", enroll.slsm, "host:port of the site manager")->required();
  enroll_cmd->add_option("--token", enroll.token, "join token from 'slsm tokens create NODE'")
      ->required();
  enroll_cmd
      ->add_option("--store-root", enroll.store_root_path,
                   "the store root this node trusts (its own; never taken from the slsm)")
      ->required()
      ->check(CLI::ExistingFile);
  enroll_cmd->add_option("--dir,-d", enroll.dir, "state directory (created, mode 0700)")
      ->required();
  enroll_cmd->add_option("--node", enroll.node, "this node's name (the token is bound to it)")
      ->required();
  enroll_cmd
      ->add_option("--key-type", enroll.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();

  std::string dir, service;
  bool json = false;
  auto* check_cmd = app.add_subcommand(
      "check",
      "Fetch a deployed service's package and a fresh Cert_site from the site manager "
      "and verify rules 1-8 offline, without running it.");
  check_cmd->add_option("service", service, "service name")->required();
  check_cmd->add_option("--dir,-d", dir, "the node's state directory")->required();
  check_cmd->add_flag("--json", json, "print JSON");

  std::string config_path;
  auto* serve_cmd = app.add_subcommand(
      "serve",
      "Run the node manager: verify, run, supervise and renew the services the site "
      "deploys here. Stops its services and exits on SIGINT/SIGTERM.");
  serve_cmd->add_option("--dir,-d", dir, "the node's state directory (nlsm enroll)")->required();
  serve_cmd->add_option("--config", config_path, "JSON file of settings (docs/operations.md)")
      ->check(CLI::ExistingFile);

  std::string socket;
  auto* status_cmd = app.add_subcommand(
      "status",
      "Every instance on this node: state, pid, release, certificate expiry, next "
      "renewal, last error.");
  status_cmd->add_option("--dir,-d", dir, "the node's state directory: use its admin.sock");
  status_cmd->add_option("--admin-socket", socket, "the admin socket (instead of --dir)");
  status_cmd->add_flag("--json", json, "print JSON");

  if (auto code = ParseCli(app, argc, argv)) return *code;
  if (serve_cmd->parsed()) return Serve(dir, config_path);
  if (status_cmd->parsed()) {
    if (dir.empty() && socket.empty()) {
      std::cerr << "nlsm: say which node: --dir DIR or --admin-socket PATH\n";
      return kExitUsage;
    }
    return PrintStatus(socket.empty() ? dir + "/admin.sock" : socket, json);
  }
  if (enroll_cmd->parsed()) {
    SystemClock clock;
    SystemRandom rng;
    auto identity = nlsm::EnrollNode(enroll, clock, rng);
    if (!identity.ok()) return ReportStatus("nlsm", identity.status());
    std::cout << "enrolled node '" << enroll.node << "' with site '"
              << identity->site_root.Subject().common_name << "' at " << enroll.slsm
              << "\nsite root sha256 " << identity->site_root.Sha256Fingerprint()
              << " (matches the token)\nnode certificate " << identity->certificate.SerialHex()
              << " valid until " << FormatTime(identity->certificate.NotAfter()) << "\n";
    return kExitOk;
  }
  return Check(dir, service, json);
}
