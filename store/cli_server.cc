// `store init` and `store serve` (store/cli.h).

#include <iostream>

#include "common/cli.h"
#include "common/log.h"
#include "common/time_format.h"
#include "pki/builders.h"
#include "server/serve_loop.h"
#include "store/cli.h"

namespace sitechain::store {

ServerCommands::ServerCommands(CLI::App& app) {
  init_cmd_ = app.add_subcommand(
      "init", "Create the store CA (root key and certificate) in a state directory.");
  init_cmd_->add_option("--dir,-d", init_.dir, "state directory (created, mode 0700)")->required();
  init_cmd_->add_option("--name", init_.name, "the store's name (root CN)")->capture_default_str();
  init_cmd_->add_option("--key-type", init_.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();
  init_cmd_->add_option("--lifetime", init_lifetime_, "root validity, e.g. 10y")
      ->capture_default_str();
  init_cmd_
      ->add_option("--passphrase-file", passphrase_file_, "encrypt root.key with this passphrase")
      ->check(CLI::ExistingFile);

  serve_cmd_ = app.add_subcommand("serve",
                                  "Run the store: the public TLS service and the "
                                  "admin socket. Stops on SIGINT/SIGTERM.");
  serve_cmd_->add_option("--dir,-d", serve_.dir, "state directory (store init)")->required();
  serve_cmd_->add_option("--listen", serve_.listen, "host:port of the TLS service (port 0: any)")
      ->capture_default_str();
  serve_cmd_->add_option("--admin-socket", serve_.admin_socket,
                         "admin UNIX socket (default <dir>/admin.sock)");
  serve_cmd_->add_option("--tls-name", tls_names_,
                         "DNS name or IPv4 address clients dial (repeatable; default localhost "
                         "and 127.0.0.1)");
  serve_cmd_
      ->add_option("--tls-lifetime", tls_lifetime_,
                   "validity of the TLS server certificate, e.g. 90d; renewed (new key) two thirds "
                   "into it while serving; at least 6s")
      ->capture_default_str();
  serve_cmd_
      ->add_option("--max-executable-size", serve_.limits.max_executable_bytes,
                   "largest executable accepted, e.g. 512MiB")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  serve_cmd_
      ->add_option("--max-message-size", serve_.max_message_bytes,
                   "largest gRPC message, e.g. 4MiB (uploads send 1 MiB chunks)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  serve_cmd_
      ->add_option("--max-revocation-watchers", serve_.limits.max_revocation_watchers,
                   "WatchRevocations streams served at once (each holds a thread)")
      ->capture_default_str();
  serve_cmd_
      ->add_option("--max-revocation-watchers-per-address",
                   serve_.limits.max_revocation_watchers_per_address,
                   "WatchRevocations streams served at once to one client address (IPv6: per /64)")
      ->capture_default_str();
  serve_cmd_->add_option("--passphrase-file", passphrase_file_, "passphrase of root.key")
      ->check(CLI::ExistingFile);
  serve_cmd_->add_option(
      "--ready-file", serve_.ready_file,
      "write {address, port, admin_socket, store_root} here as JSON once serving");
  serve_cmd_->add_option("--log-level", log_level_, "trace|debug|info|warn|error|off")
      ->capture_default_str();
}

std::optional<int> ServerCommands::Run() {
  if (!init_cmd_->parsed() && !serve_cmd_->parsed()) return std::nullopt;
  auto passphrase = ReadPassphraseFile(passphrase_file_);
  if (!passphrase.ok()) return ReportStatus("store", passphrase.status());
  return init_cmd_->parsed() ? Init(*passphrase) : Serve(*passphrase);
}

int ServerCommands::Init(const std::optional<std::string>& passphrase) {
  auto lifetime = ParseDuration(init_lifetime_);
  if (!lifetime.ok()) return ReportStatus("store", lifetime.status());
  init_.lifetime = *lifetime;
  init_.passphrase = passphrase;
  SystemClock clock;
  SystemRandom rng;
  auto ca = StoreCa::Init(init_, clock, rng);
  if (!ca.ok()) return ReportStatus("store", ca.status());
  std::cout << "created store '" << init_.name << "' in " << init_.dir
            << "\nstore root: " << ca->root_path() << " (sha256 " << ca->root().Sha256Fingerprint()
            << ")\ngive the store root to developers and sites; keep root.key secret\n"
            << "next: store serve --dir " << init_.dir << "\n";
  return kExitOk;
}

int ServerCommands::Serve(const std::optional<std::string>& passphrase) {
  if (Status s = InitLogging("store", log_level_); !s.ok()) return ReportStatus("store", s);
  serve_.passphrase = passphrase;
  auto tls_lifetime = ParseDuration(tls_lifetime_);
  if (!tls_lifetime.ok()) {
    return ReportStatus("store", Status(tls_lifetime.status().code(),
                                        "--tls-lifetime: " + tls_lifetime.status().message()));
  }
  serve_.tls_lifetime = *tls_lifetime;
  if (!tls_names_.empty()) {
    const pki::TlsServerNames names = pki::SplitTlsNames(tls_names_);
    serve_.tls_dns_names = names.dns;
    serve_.tls_ip_addresses = names.ips;
  }
  SystemClock clock;
  SystemRandom rng;
  std::unique_ptr<StoreServer> running;
  return ReportStatus("store", server::ServeUntilSignal(
                                   [&]() -> Status {
                                     SITECHAIN_ASSIGN_OR_RETURN(
                                         running, StoreServer::Start(serve_, clock, rng));
                                     return Status::Ok();
                                   },
                                   [&] {
                                     running->Shutdown();
                                     running->Wait();
                                   }));
}

}  // namespace sitechain::store
