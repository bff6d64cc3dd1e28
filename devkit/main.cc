// devkit: the developer's tool. Parses the command line and hands over to devkit/commands.h.
#include <iostream>

#include "common/cli.h"
#include "common/time_format.h"
#include "devkit/commands.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{
      "devkit - make a developer key, get it registered at a store, sign executables "
      "(Cert_dev), verify certificate chains and inspect certificates.",
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

  if (auto code = ParseCli(app, argc, argv)) return *code;

  SystemClock clock;
  SystemRandom rng;
  auto passphrase = ReadPassphraseFile(passphrase_file);
  if (!passphrase.ok()) return ReportStatus("devkit", passphrase.status());
  keygen.passphrase = csr.passphrase = sign.passphrase = *passphrase;

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
  }
  return ReportStatus("devkit", status);
}
