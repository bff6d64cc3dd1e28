// The devkit's subcommands that need no network (devkit/cli.h).

#include <iostream>

#include "common/cli.h"
#include "common/time_format.h"
#include "devkit/cli.h"

namespace sitechain::devkit {

LocalCommands::LocalCommands(CLI::App& app) {
  auto add_passphrase = [&](CLI::App* cmd, const char* what) {
    cmd->add_option("--passphrase-file", passphrase_file_,
                    std::string("file whose first line is the passphrase ") + what)
        ->check(CLI::ExistingFile);
  };

  keygen_cmd_ = app.add_subcommand("keygen", "Generate a developer key (PKCS#8 PEM, mode 0600).");
  keygen_cmd_->add_option("--out,-o", keygen_.out, "key file to write (never overwritten)")
      ->required();
  keygen_cmd_
      ->add_option("--type,-t", keygen_.key_type, "ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072")
      ->capture_default_str();
  add_passphrase(keygen_cmd_, "that encrypts the key (default: unencrypted)");

  csr_cmd_ = app.add_subcommand("csr", "Make a certificate signing request for registration.");
  csr_cmd_->add_option("--key,-k", csr_.key, "developer key file")
      ->required()
      ->check(CLI::ExistingFile);
  csr_cmd_->add_option("--name,-n", csr_.name, "developer name (the certificate's CN)")->required();
  csr_cmd_->add_option("--out,-o", csr_.out, "CSR file to write")->required();
  add_passphrase(csr_cmd_, "of the key");

  sign_cmd_ = app.add_subcommand("sign", "Hash an executable and issue its Cert_dev.");
  sign_cmd_->add_option("executable", sign_.executable, "the executable to sign")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd_->add_option("--key,-k", sign_.key, "developer key file")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd_->add_option("--cert,-c", sign_.cert, "developer identity certificate from the store")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd_->add_option("--name", sign_.name, "service name: a-z 0-9 . _ -")->required();
  sign_cmd_->add_option("--version", sign_.version, "release version, e.g. 1.2.0")->required();
  sign_cmd_
      ->add_option("--release", sign_.release,
                   "release counter: must grow with every release of the name")
      ->required()
      ->check(CLI::NonNegativeNumber);
  sign_cmd_->add_option("--metadata", sign_.metadata, "metadata file shipped beside the executable")
      ->check(CLI::ExistingFile);
  sign_cmd_->add_option("--hash", sign_.hash, "sha256 | sha512")->capture_default_str();
  sign_cmd_
      ->add_option("--lifetime", sign_lifetime_,
                   "validity, e.g. 90d (capped at the developer certificate's)")
      ->capture_default_str();
  sign_cmd_->add_option("--out,-o", sign_.out, "Cert_dev file (default: <executable>.cert.pem)");
  sign_cmd_->add_flag("--json", sign_.json, "print the result as JSON");
  add_passphrase(sign_cmd_, "of the key");

  verify_cmd_ = app.add_subcommand(
      "verify",
      "Verify any part of a chain against the trust roots given (rules 1-8 of the profile). "
      "Exit 0: accepted; 1: refused, with the rule, certificate and coded reason.");
  verify_cmd_->add_option("--store-root", verify_.store_root,
                          "store root certificate (trust anchor)");
  verify_cmd_->add_option("--site-root", verify_.site_root, "site root certificate (trust anchor)");
  verify_cmd_->add_option("--developer-cert", verify_.developer_cert,
                          "developer identity certificate (issuer of Cert_dev)");
  verify_cmd_->add_option("--dev", verify_.cert_dev, "Cert_dev");
  verify_cmd_->add_option("--store", verify_.cert_store, "Cert_store");
  verify_cmd_->add_option("--site", verify_.cert_site, "Cert_site");
  verify_cmd_->add_option("--executable,-e", verify_.executable, "executable to check (rule 6)");
  verify_cmd_->add_option("--metadata", verify_.metadata, "metadata file to check (rule 6)");
  verify_cmd_->add_option("--node", verify_.node, "this node's name or SPIFFE ID (rule 5)");
  verify_cmd_->add_option("--min-release", verify_.min_release,
                          "highest release counter already accepted for the name (rule 7)");
  verify_cmd_->add_option("--at", verify_.at,
                          "evaluation time (2026-11-22T10:00:00Z); default now");
  verify_cmd_->add_option("--skew", skew_, "clock-skew allowance on notBefore")
      ->capture_default_str();
  verify_cmd_->add_flag("--json", verify_.json, "print the result as JSON");

  inspect_cmd_ =
      app.add_subcommand("inspect", "Show a certificate with its sitechain extensions decoded.");
  inspect_cmd_->add_option("cert", inspect_path_, "certificate (PEM)")->required();
  inspect_cmd_->add_flag("--json", inspect_json_, "print as JSON");
}

std::optional<int> LocalCommands::Run() {
  if (!keygen_cmd_->parsed() && !csr_cmd_->parsed() && !sign_cmd_->parsed() &&
      !verify_cmd_->parsed() && !inspect_cmd_->parsed()) {
    return std::nullopt;
  }
  SystemClock clock;
  SystemRandom rng;
  auto passphrase = ReadPassphraseFile(passphrase_file_);
  if (!passphrase.ok()) return ReportStatus("devkit", passphrase.status());
  keygen_.passphrase = csr_.passphrase = sign_.passphrase = *passphrase;

  Status status;
  if (keygen_cmd_->parsed()) {
    status = Keygen(keygen_, rng, std::cout);
  } else if (csr_cmd_->parsed()) {
    status = MakeCsr(csr_, rng, std::cout);
  } else if (sign_cmd_->parsed()) {
    auto lifetime = ParseDuration(sign_lifetime_);
    if (!lifetime.ok()) return ReportStatus("devkit", lifetime.status());
    sign_.lifetime = *lifetime;
    status = Sign(sign_, clock, rng, std::cout);
  } else if (verify_cmd_->parsed()) {
    auto s = ParseDuration(skew_);
    if (!s.ok()) return ReportStatus("devkit", s.status());
    verify_.skew = *s;
    status = Verify(verify_, clock, std::cout);
    // A refusal was printed with its reason already.
    if (status.code() == StatusCode::kFailedPrecondition) return kExitFailure;
  } else {
    status = Inspect(inspect_path_, inspect_json_, std::cout);
  }
  return ReportStatus("devkit", status);
}

}  // namespace sitechain::devkit
