// devkit: the developer's tool. Parses the command line and hands over to devkit/commands.h.
#include <iostream>

#include "common/cli.h"
#include "common/time_format.h"
#include "devkit/commands.h"
#include "devkit/store_commands.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{
      "devkit - make a developer key, register at a store, sign executables (Cert_dev), "
      "publish them, download and verify releases, revoke, and inspect certificates.",
      "devkit"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain devkit 0.1.0");

  std::string passphrase_file;
  auto add_passphrase = [&](CLI::App* cmd, const char* what) {
    cmd->add_option("--passphrase-file", passphrase_file,
                    std::string("file whose first line is the passphrase ") + what)
        ->check(CLI::ExistingFile);
  };

  devkit::KeygenOptions keygen;
  auto* keygen_cmd =
      app.add_subcommand("keygen", "Generate a developer key (PKCS#8 PEM, mode 0600).");
  keygen_cmd->add_option("--out,-o", keygen.out, "key file to write (never overwritten)")
      ->required();
  keygen_cmd->add_option("--type,-t", keygen.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();
  add_passphrase(keygen_cmd, "that encrypts the key (default: unencrypted)");

  devkit::CsrOptions csr;
  auto* csr_cmd = app.add_subcommand("csr", "Make a certificate signing request for registration.");
  csr_cmd->add_option("--key,-k", csr.key, "developer key file")
      ->required()
      ->check(CLI::ExistingFile);
  csr_cmd->add_option("--name,-n", csr.name, "developer name (the certificate's CN)")->required();
  csr_cmd->add_option("--out,-o", csr.out, "CSR file to write")->required();
  add_passphrase(csr_cmd, "of the key");

  devkit::SignOptions sign;
  std::string sign_lifetime = "365d";
  auto* sign_cmd = app.add_subcommand("sign", "Hash an executable and issue its Cert_dev.");
  sign_cmd->add_option("executable", sign.executable, "the executable to sign")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd->add_option("--key,-k", sign.key, "developer key file")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd->add_option("--cert,-c", sign.cert, "developer identity certificate from the store")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd->add_option("--name", sign.name, "service name: a-z 0-9 . _ -")->required();
  sign_cmd->add_option("--version", sign.version, "release version, e.g. 1.2.0")->required();
  sign_cmd
      ->add_option("--release", sign.release,
                   "release counter: must grow with every release of the name")
      ->required()
      ->check(CLI::NonNegativeNumber);
  sign_cmd->add_option("--metadata", sign.metadata, "metadata file shipped beside the executable")
      ->check(CLI::ExistingFile);
  sign_cmd->add_option("--hash", sign.hash, "sha256 | sha512")->capture_default_str();
  sign_cmd
      ->add_option("--lifetime", sign_lifetime,
                   "validity, e.g. 90d (capped at the developer certificate's)")
      ->capture_default_str();
  sign_cmd->add_option("--out,-o", sign.out, "Cert_dev file (default: <executable>.cert.pem)");
  sign_cmd->add_flag("--json", sign.json, "print the result as JSON");
  add_passphrase(sign_cmd, "of the key");

  devkit::VerifyOptions verify;
  std::string skew = "60s";
  auto* verify_cmd = app.add_subcommand(
      "verify",
      "Verify any part of a chain against the trust roots given (rules 1-8 of the profile). "
      "Exit 0: accepted; 1: refused, with the rule, certificate and coded reason.");
  verify_cmd->add_option("--store-root", verify.store_root,
                         "store root certificate (trust anchor)");
  verify_cmd->add_option("--site-root", verify.site_root, "site root certificate (trust anchor)");
  verify_cmd->add_option("--developer-cert", verify.developer_cert,
                         "developer identity certificate (issuer of Cert_dev)");
  verify_cmd->add_option("--dev", verify.cert_dev, "Cert_dev");
  verify_cmd->add_option("--store", verify.cert_store, "Cert_store");
  verify_cmd->add_option("--site", verify.cert_site, "Cert_site");
  verify_cmd->add_option("--executable,-e", verify.executable, "executable to check (rule 6)");
  verify_cmd->add_option("--metadata", verify.metadata, "metadata file to check (rule 6)");
  verify_cmd->add_option("--node", verify.node, "this node's name or SPIFFE ID (rule 5)");
  verify_cmd->add_option("--min-release", verify.min_release,
                         "highest release counter already accepted for the name (rule 7)");
  verify_cmd->add_option("--at", verify.at, "evaluation time (2026-11-22T10:00:00Z); default now");
  verify_cmd->add_option("--skew", skew, "clock-skew allowance on notBefore")
      ->capture_default_str();
  verify_cmd->add_flag("--json", verify.json, "print the result as JSON");

  std::string inspect_path;
  bool inspect_json = false;
  auto* inspect_cmd =
      app.add_subcommand("inspect", "Show a certificate with its sitechain extensions decoded.");
  inspect_cmd->add_option("cert", inspect_path, "certificate (PEM)")->required();
  inspect_cmd->add_flag("--json", inspect_json, "print as JSON");

  // Commands that talk to a store.
  devkit::StoreConnection conn;
  auto add_store = [&](CLI::App* cmd, bool as_developer) {
    cmd->add_option("--store,-s", conn.address, "the store, HOST:PORT")->required();
    cmd->add_option("--store-root", conn.store_root,
                    "the store root certificate: the store's TLS certificate must chain to it")
        ->required()
        ->check(CLI::ExistingFile);
    if (as_developer) {
      cmd->add_option("--cert,-c", conn.cert, "your developer certificate (mutual TLS)")
          ->required()
          ->check(CLI::ExistingFile);
      cmd->add_option("--key,-k", conn.key, "your developer key")
          ->required()
          ->check(CLI::ExistingFile);
      add_passphrase(cmd, "of the key");
    }
  };

  devkit::RegisterOptions reg;
  auto* register_cmd = app.add_subcommand(
      "register", "Register at a store with a one-time token; writes your developer certificate.");
  add_store(register_cmd, false);
  register_cmd->add_option("--token,-t", reg.token, "registration token from the store admin")
      ->required();
  register_cmd->add_option("--csr", reg.csr, "your CSR (devkit csr)")
      ->required()
      ->check(CLI::ExistingFile);
  register_cmd->add_option("--out,-o", reg.out, "developer certificate to write")->required();

  devkit::PublishOptions publish;
  auto* publish_cmd = app.add_subcommand(
      "publish", "Upload a signed executable with its Cert_dev; writes the Cert_store issued.");
  add_store(publish_cmd, true);
  publish_cmd->add_option("executable", publish.executable, "the executable you signed")
      ->required()
      ->check(CLI::ExistingFile);
  publish_cmd->add_option("cert_dev", publish.cert_dev, "its Cert_dev (devkit sign)")
      ->required()
      ->check(CLI::ExistingFile);
  publish_cmd->add_option("--out,-o", publish.out,
                          "Cert_store file (default: <executable>.cert-store.pem)");
  publish_cmd->add_flag("--json", publish.json, "print the release as JSON");

  devkit::ReleasesOptions releases;
  auto* releases_cmd = app.add_subcommand("releases", "List or search the store's catalog.");
  add_store(releases_cmd, false);
  releases_cmd->add_option("--name", releases.name, "exact release name");
  releases_cmd->add_option("--search", releases.query, "part of the name");
  releases_cmd->add_option("--developer", releases.developer, "exact developer name");
  releases_cmd->add_flag("--include-revoked", releases.include_revoked, "list revoked ones too");
  releases_cmd->add_flag("--json", releases.json, "print as JSON");

  devkit::DownloadOptions download;
  auto* download_cmd = app.add_subcommand(
      "download", "Download a release and its certificates and verify them offline.");
  add_store(download_cmd, false);
  download_cmd->add_option("name", download.name, "release name")->required();
  download_cmd->add_option("version", download.version, "version (default: newest unrevoked)");
  download_cmd->add_option("--out-dir,-o", download.out_dir, "where to write the files")
      ->capture_default_str();

  devkit::RevokeOptions revoke;
  auto* revoke_cmd = app.add_subcommand("revoke", "Revoke one of your releases.");
  add_store(revoke_cmd, true);
  revoke_cmd->add_option("name", revoke.name, "release name")->required();
  revoke_cmd->add_option("version", revoke.version, "release version")->required();
  revoke_cmd->add_option("--reason", revoke.reason, "why (shown on the revocation feed)")
      ->required();

  devkit::RevocationsOptions revocations;
  auto* revocations_cmd = app.add_subcommand("revocations", "Show the store's revocation feed.");
  add_store(revocations_cmd, false);
  revocations_cmd->add_option("--after", revocations.after, "only sequence numbers above this")
      ->capture_default_str();
  revocations_cmd->add_flag("--follow,-f", revocations.follow,
                            "keep watching and print new revocations as they happen");
  revocations_cmd->add_option("--count", revocations.count, "with --follow: stop after N");
  revocations_cmd->add_flag("--json", revocations.json, "one JSON object per line");

  if (auto code = ParseCli(app, argc, argv)) return *code;

  SystemClock clock;
  SystemRandom rng;
  auto passphrase = ReadPassphraseFile(passphrase_file);
  if (!passphrase.ok()) return ReportStatus("devkit", passphrase.status());
  keygen.passphrase = csr.passphrase = sign.passphrase = conn.passphrase = *passphrase;

  Status status;
  if (keygen_cmd->parsed()) {
    status = devkit::Keygen(keygen, rng, std::cout);
  } else if (csr_cmd->parsed()) {
    status = devkit::MakeCsr(csr, rng, std::cout);
  } else if (sign_cmd->parsed()) {
    auto lifetime = ParseDuration(sign_lifetime);
    if (!lifetime.ok()) return ReportStatus("devkit", lifetime.status());
    sign.lifetime = *lifetime;
    status = devkit::Sign(sign, clock, rng, std::cout);
  } else if (verify_cmd->parsed()) {
    auto s = ParseDuration(skew);
    if (!s.ok()) return ReportStatus("devkit", s.status());
    verify.skew = *s;
    status = devkit::Verify(verify, clock, std::cout);
    // A refusal was printed with its reason already.
    if (status.code() == StatusCode::kFailedPrecondition) return kExitFailure;
  } else if (inspect_cmd->parsed()) {
    status = devkit::Inspect(inspect_path, inspect_json, std::cout);
  } else if (register_cmd->parsed()) {
    reg.store = conn;
    status = devkit::Register(reg, std::cout);
  } else if (publish_cmd->parsed()) {
    publish.store = conn;
    status = devkit::Publish(publish, std::cout);
  } else if (releases_cmd->parsed()) {
    releases.store = conn;
    status = devkit::ListReleases(releases, std::cout);
  } else if (download_cmd->parsed()) {
    download.store = conn;
    status = devkit::Download(download, clock, std::cout);
  } else if (revoke_cmd->parsed()) {
    revoke.store = conn;
    status = devkit::Revoke(revoke, std::cout);
  } else if (revocations_cmd->parsed()) {
    revocations.store = conn;
    status = devkit::Revocations(revocations, std::cout);
  }
  return ReportStatus("devkit", status);
}
