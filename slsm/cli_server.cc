// `slsm init` and `slsm serve` (slsm/cli.h).

#include <iostream>

#include "common/cli.h"
#include "common/log.h"
#include "common/time_format.h"
#include "server/serve_loop.h"
#include "slsm/cli.h"
#include "slsm/config.h"

namespace sitechain::slsm {

ServerCommands::ServerCommands(CLI::App& app) {
  init_cmd_ = app.add_subcommand(
      "init", "Create a site: its CA (root key and certificate), config and state database.");
  init_cmd_->add_option("--dir,-d", init_.dir, "state directory (created, mode 0700)")->required();
  init_cmd_->add_option("--site", init_.site, "the site's name (root CN, SPIFFE trust domain)")
      ->required();
  init_cmd_->add_option("--store", init_.store, "host:port of the app store")->required();
  init_cmd_->add_option("--store-root", init_.store_root_path, "the store's root certificate (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  init_cmd_->add_option("--key-type", init_.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();
  init_cmd_->add_option("--lifetime", init_lifetime_, "site root validity, e.g. 10y")
      ->capture_default_str();
  init_cmd_
      ->add_option("--passphrase-file", passphrase_file_, "encrypt root.key with this passphrase")
      ->check(CLI::ExistingFile);

  serve_cmd_ = app.add_subcommand(
      "serve",
      "Run the site manager: the node-facing TLS service, the admin socket and the "
      "store's revocation feed. Stops on SIGINT/SIGTERM.");
  serve_cmd_->add_option("--dir,-d", dir_, "state directory (slsm init)")->required();
  serve_cmd_
      ->add_option("--config", config_path_,
                   "JSON file whose keys override <dir>/slsm.json (docs/operations.md)")
      ->check(CLI::ExistingFile);
  serve_cmd_->add_option("--passphrase-file", passphrase_file_, "passphrase of root.key")
      ->check(CLI::ExistingFile);
}

std::optional<int> ServerCommands::Run() {
  if (!init_cmd_->parsed() && !serve_cmd_->parsed()) return std::nullopt;
  auto passphrase = ReadPassphraseFile(passphrase_file_);
  if (!passphrase.ok()) return ReportStatus("slsm", passphrase.status());
  return init_cmd_->parsed() ? Init(*passphrase) : Serve(*passphrase);
}

int ServerCommands::Init(const std::optional<std::string>& passphrase) {
  auto lifetime = ParseDuration(init_lifetime_);
  if (!lifetime.ok()) return ReportStatus("slsm", lifetime.status());
  init_.lifetime = *lifetime;
  init_.passphrase = passphrase;
  SystemClock clock;
  SystemRandom rng;
  auto root = InitSite(init_, clock, rng);
  if (!root.ok()) return ReportStatus("slsm", root.status());
  std::cout << "created site '" << init_.site << "' in " << init_.dir
            << "\nsite root: " << init_.dir << "/root.pem (sha256 " << root->Sha256Fingerprint()
            << ")\nstore: " << init_.store << "\nnext: slsm serve --dir " << init_.dir << "\n";
  return kExitOk;
}

int ServerCommands::Serve(const std::optional<std::string>& passphrase) {
  auto config = LoadConfig(dir_, config_path_);
  if (!config.ok()) return ReportStatus("slsm", config.status());
  if (Status s = InitLogging("slsm", config->log_level); !s.ok()) return ReportStatus("slsm", s);
  SystemClock clock;
  SystemRandom rng;
  std::unique_ptr<SlsmServer> running;
  return ReportStatus("slsm", server::ServeUntilSignal(
                                  [&]() -> Status {
                                    SITECHAIN_ASSIGN_OR_RETURN(
                                        running,
                                        SlsmServer::Start(dir_, *config, passphrase, clock, rng));
                                    return Status::Ok();
                                  },
                                  [&] {
                                    running->Shutdown();
                                    running->Wait();
                                  }));
}

}  // namespace sitechain::slsm
