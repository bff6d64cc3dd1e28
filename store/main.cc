// store: the sitechain app store. Parses the command line and hands over: `init` to StoreCa,
// `serve` to StoreServer, the admin commands to admin_commands.h.

#include <iostream>

#include "common/cli.h"
#include "common/log.h"
#include "common/time_format.h"
#include "pki/builders.h"
#include "store/admin_commands.h"
#include "store/server.h"
#include "store/store_ca.h"

using namespace sitechain;

namespace {

// Serves until SIGINT or SIGTERM.
int Serve(const store::ServeOptions& opts) {
  // Blocked before any thread starts, so that only the wait below sees them.
  const sigset_t signals = BlockTerminationSignals();
  SystemClock clock;
  SystemRandom rng;
  auto server = store::StoreServer::Start(opts, clock, rng);
  if (!server.ok()) return ReportStatus("store", server.status());
  const int signal = WaitForTerminationSignal(signals);
  spdlog::info("received signal {}; shutting down", signal);
  (*server)->Shutdown();
  (*server)->Wait();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "store - the sitechain app store: its CA, developer registry, catalog and "
      "revocation feed.",
      "store"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain store 0.1.0");
  std::string passphrase_file, dir, socket;
  bool json = false;

  store::StoreCa::InitOptions init;
  std::string init_lifetime = "10y";
  auto* init_cmd = app.add_subcommand(
      "init", "Create the store CA (root key and certificate) in a state directory.");
  init_cmd->add_option("--dir,-d", init.dir, "state directory (created, mode 0700)")->required();
  init_cmd->add_option("--name", init.name, "the store's name (root CN)")->capture_default_str();
  init_cmd->add_option("--key-type", init.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();
  init_cmd->add_option("--lifetime", init_lifetime, "root validity, e.g. 10y")
      ->capture_default_str();
  init_cmd
      ->add_option("--passphrase-file", passphrase_file, "encrypt root.key with this passphrase")
      ->check(CLI::ExistingFile);

  store::ServeOptions serve;
  std::vector<std::string> tls_names;
  std::string log_level = "info";
  auto* serve_cmd = app.add_subcommand("serve",
                                       "Run the store: the public TLS service and the "
                                       "admin socket. Stops on SIGINT/SIGTERM.");
  serve_cmd->add_option("--dir,-d", serve.dir, "state directory (store init)")->required();
  serve_cmd->add_option("--listen", serve.listen, "host:port of the TLS service (port 0: any)")
      ->capture_default_str();
  serve_cmd->add_option("--admin-socket", serve.admin_socket,
                        "admin UNIX socket (default <dir>/admin.sock)");
  serve_cmd->add_option("--tls-name", tls_names,
                        "DNS name or IPv4 address clients dial (repeatable; default localhost "
                        "and 127.0.0.1)");
  serve_cmd
      ->add_option("--max-executable-size", serve.limits.max_executable_bytes,
                   "largest executable accepted, e.g. 512MiB")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-message-size", serve.max_message_bytes,
                   "largest gRPC message, e.g. 4MiB (uploads send 1 MiB chunks)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  serve_cmd->add_option("--passphrase-file", passphrase_file, "passphrase of root.key")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option(
      "--ready-file", serve.ready_file,
      "write {address, port, admin_socket, store_root} here as JSON once serving");
  serve_cmd->add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();

  // Admin commands: they talk to a running server through its admin socket.
  auto add_target = [&](CLI::App* cmd) {
    cmd->add_option("--dir,-d", dir, "state directory: use its admin.sock");
    cmd->add_option("--admin-socket", socket, "the admin socket (instead of --dir)");
    cmd->add_flag("--json", json, "print JSON");
  };
  auto* tokens = app.add_subcommand("tokens", "One-time developer registration tokens.");
  tokens->require_subcommand(1);
  std::string ttl = "24h", note;
  auto* token_create = tokens->add_subcommand(
      "create", "Create a registration token (printed once; give it to one developer).");
  add_target(token_create);
  token_create->add_option("--ttl", ttl, "how long it may be used, e.g. 24h (at most 30d)")
      ->capture_default_str();
  token_create->add_option("--note", note, "who it is for");
  auto* token_list = tokens->add_subcommand("list", "List tokens (never the secrets).");
  add_target(token_list);

  auto* devs = app.add_subcommand("developers", "Registered developers.");
  devs->require_subcommand(1);
  auto* devs_list = devs->add_subcommand("list", "List registered developers.");
  add_target(devs_list);

  auto* revoke = app.add_subcommand("revoke", "Revoke a release or a developer.");
  revoke->require_subcommand(1);
  std::string name, version, reason;
  auto* revoke_release = revoke->add_subcommand("release", "Revoke one release.");
  add_target(revoke_release);
  revoke_release->add_option("name", name, "release name")->required();
  revoke_release->add_option("version", version, "release version")->required();
  revoke_release->add_option("--reason", reason, "why (shown on the feed)")->required();
  auto* revoke_dev = revoke->add_subcommand(
      "developer", "Revoke a developer: its identity and every release it published.");
  add_target(revoke_dev);
  revoke_dev->add_option("name", name, "developer name")->required();
  revoke_dev->add_option("--reason", reason, "why (shown on the feed)")->required();

  auto* stats = app.add_subcommand("stats", "Counts of developers, releases, revocations.");
  add_target(stats);

  if (auto code = ParseCli(app, argc, argv)) return *code;
  auto passphrase = ReadPassphraseFile(passphrase_file);
  if (!passphrase.ok()) return ReportStatus("store", passphrase.status());

  if (init_cmd->parsed()) {
    auto lifetime = ParseDuration(init_lifetime);
    if (!lifetime.ok()) return ReportStatus("store", lifetime.status());
    init.lifetime = *lifetime;
    init.passphrase = *passphrase;
    SystemClock clock;
    SystemRandom rng;
    auto ca = store::StoreCa::Init(init, clock, rng);
    if (!ca.ok()) return ReportStatus("store", ca.status());
    std::cout << "created store '" << init.name << "' in " << init.dir
              << "\nstore root: " << ca->root_path() << " (sha256 "
              << ca->root().Sha256Fingerprint()
              << ")\ngive the store root to developers and sites; keep root.key secret\n"
              << "next: store serve --dir " << init.dir << "\n";
    return kExitOk;
  }
  if (serve_cmd->parsed()) {
    if (Status s = InitLogging("store", log_level); !s.ok()) return ReportStatus("store", s);
    serve.passphrase = *passphrase;
    if (!tls_names.empty()) {
      const pki::TlsServerNames names = pki::SplitTlsNames(tls_names);
      serve.tls_dns_names = names.dns;
      serve.tls_ip_addresses = names.ips;
    }
    return Serve(serve);
  }

  if (dir.empty() && socket.empty()) {
    std::cerr << "store: say which store: --dir DIR or --admin-socket PATH\n"
              << "Run 'store --help' for usage.\n";
    return kExitUsage;
  }
  const store::AdminTarget target{socket.empty() ? dir + "/admin.sock" : socket, json};
  Status s;
  if (token_create->parsed()) {
    auto seconds = ParseDuration(ttl);
    s = seconds.ok() ? store::CreateTokenCommand(target, *seconds, note, std::cout)
                     : seconds.status();
  } else if (token_list->parsed()) {
    s = store::ListTokensCommand(target, std::cout);
  } else if (devs_list->parsed()) {
    s = store::ListDevelopersCommand(target, std::cout);
  } else if (revoke_release->parsed()) {
    s = store::RevokeReleaseCommand(target, name, version, reason, std::cout);
  } else if (revoke_dev->parsed()) {
    s = store::RevokeDeveloperCommand(target, name, reason, std::cout);
  } else {
    s = store::StatsCommand(target, std::cout);
  }
  return ReportStatus("store", s);
}
