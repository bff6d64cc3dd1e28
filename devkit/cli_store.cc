// The devkit's subcommands that talk to a store (devkit/cli.h).

#include <iostream>

#include "common/cli.h"
#include "common/time_format.h"
#include "devkit/cli.h"

namespace sitechain::devkit {

StoreCommands::StoreCommands(CLI::App& app) {
  auto add_passphrase = [&](CLI::App* cmd, const char* what) {
    cmd->add_option("--passphrase-file", passphrase_file_,
                    std::string("file whose first line is the passphrase ") + what)
        ->check(CLI::ExistingFile);
  };

  auto add_store = [&](CLI::App* cmd, bool as_developer) {
    cmd->add_option("--store,-s", conn_.address, "the store, HOST:PORT")->required();
    cmd->add_option("--store-root", conn_.store_root,
                    "the store root certificate: the store's TLS certificate must chain to it")
        ->required()
        ->check(CLI::ExistingFile);
    if (as_developer) {
      cmd->add_option("--cert,-c", conn_.cert, "your developer certificate (mutual TLS)")
          ->required()
          ->check(CLI::ExistingFile);
      cmd->add_option("--key,-k", conn_.key, "your developer key")
          ->required()
          ->check(CLI::ExistingFile);
      add_passphrase(cmd, "of the key");
    }
  };

  register_cmd_ = app.add_subcommand(
      "register", "Register at a store with a one-time token; writes your developer certificate.");
  add_store(register_cmd_, false);
  AddTokenOptions(register_cmd_, register_token_,
                  "registration token from the store admin (store tokens create --out FILE)",
                  "--token,-t");
  register_cmd_->add_option("--csr", register_.csr, "your CSR (devkit csr)")
      ->required()
      ->check(CLI::ExistingFile);
  register_cmd_->add_option("--out,-o", register_.out, "developer certificate to write")
      ->required();

  publish_cmd_ = app.add_subcommand(
      "publish", "Upload a signed executable with its Cert_dev; writes the Cert_store issued.");
  add_store(publish_cmd_, true);
  publish_cmd_->add_option("executable", publish_.executable, "the executable you signed")
      ->required()
      ->check(CLI::ExistingFile);
  publish_cmd_->add_option("cert_dev", publish_.cert_dev, "its Cert_dev (devkit sign)")
      ->required()
      ->check(CLI::ExistingFile);
  publish_cmd_->add_option("--out,-o", publish_.out,
                           "Cert_store file (default: <executable>.cert-store.pem)");
  publish_cmd_->add_flag("--json", publish_.json, "print the release as JSON");

  releases_cmd_ = app.add_subcommand("releases", "List or search the store's catalog.");
  add_store(releases_cmd_, false);
  releases_cmd_->add_option("--name", releases_.name, "exact release name");
  releases_cmd_->add_option("--search", releases_.query, "part of the name");
  releases_cmd_->add_option("--developer", releases_.developer, "exact developer name");
  releases_cmd_->add_flag("--include-revoked", releases_.include_revoked, "list revoked ones too");
  releases_cmd_->add_flag("--json", releases_.json, "print as JSON");

  download_cmd_ = app.add_subcommand(
      "download", "Download a release and its certificates and verify them offline.");
  add_store(download_cmd_, false);
  download_cmd_->add_option("name", download_.name, "release name")->required();
  download_cmd_->add_option("version", download_.version, "version (default: newest unrevoked)");
  download_cmd_->add_option("--out-dir,-o", download_.out_dir, "where to write the files")
      ->capture_default_str();

  revoke_cmd_ = app.add_subcommand("revoke", "Revoke one of your releases.");
  add_store(revoke_cmd_, true);
  revoke_cmd_->add_option("name", revoke_.name, "release name")->required();
  revoke_cmd_->add_option("version", revoke_.version, "release version")->required();
  revoke_cmd_->add_option("--reason", revoke_.reason, "why (shown on the revocation feed)")
      ->required();

  revocations_cmd_ = app.add_subcommand("revocations", "Show the store's revocation feed.");
  add_store(revocations_cmd_, false);
  revocations_cmd_->add_option("--after", revocations_.after, "only sequence numbers above this")
      ->capture_default_str();
  revocations_cmd_->add_flag("--follow,-f", revocations_.follow,
                             "keep watching and print new revocations as they happen");
  revocations_cmd_->add_option("--count", revocations_.count, "with --follow: stop after N");
  revocations_cmd_->add_flag("--json", revocations_.json, "one JSON object per line");
}

int StoreCommands::Run() {
  SystemClock clock;
  auto passphrase = ReadPassphraseFile(passphrase_file_);
  if (!passphrase.ok()) return ReportStatus("devkit", passphrase.status());
  conn_.passphrase = *passphrase;

  Status status;
  if (register_cmd_->parsed()) {
    register_.store = conn_;
    auto token = GetToken(register_token_);
    if (!token.ok()) return ReportStatus("devkit", token.status());
    register_.token = *token;
    status = Register(register_, std::cout);
  } else if (publish_cmd_->parsed()) {
    publish_.store = conn_;
    status = Publish(publish_, std::cout);
  } else if (releases_cmd_->parsed()) {
    releases_.store = conn_;
    status = ListReleases(releases_, std::cout);
  } else if (download_cmd_->parsed()) {
    download_.store = conn_;
    status = Download(download_, clock, std::cout);
  } else if (revoke_cmd_->parsed()) {
    revoke_.store = conn_;
    status = Revoke(revoke_, std::cout);
  } else if (revocations_cmd_->parsed()) {
    revocations_.store = conn_;
    status = Revocations(revocations_, std::cout);
  }
  return ReportStatus("devkit", status);
}

}  // namespace sitechain::devkit
