// store: the app store's administration. Parses the command line and hands over to StoreCa.
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "common/time_format.h"
#include "pki/describe.h"
#include "pki/profile.h"
#include "store/store_ca.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{"store - the sitechain app store: its CA (store root) and developer registry.",
               "store"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain store 0.1.0");
  std::string passphrase_file;

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

  auto* devs = app.add_subcommand("developers", "Manage registered developers.");
  devs->require_subcommand(1);
  std::string dir, csr_path, out_path, dev_lifetime = "2y";
  bool json = false;
  auto* add_cmd = devs->add_subcommand(
      "add", "Register a developer offline: check its CSR and issue its developer certificate.");
  add_cmd->add_option("--dir,-d", dir, "store state directory")->required();
  add_cmd->add_option("--csr", csr_path, "the developer's CSR (devkit csr)")
      ->required()
      ->check(CLI::ExistingFile);
  add_cmd->add_option("--out,-o", out_path, "where to write the certificate (default: <name>.pem)");
  add_cmd->add_option("--lifetime", dev_lifetime, "validity, e.g. 2y")->capture_default_str();
  add_cmd->add_option("--passphrase-file", passphrase_file, "passphrase of root.key")
      ->check(CLI::ExistingFile);
  add_cmd->add_flag("--json", json, "print the certificate as JSON");
  auto* list_cmd = devs->add_subcommand("list", "List registered developers.");
  list_cmd->add_option("--dir,-d", dir, "store state directory")->required();
  list_cmd->add_flag("--json", json, "print as JSON");

  if (auto code = ParseCli(app, argc, argv)) return *code;
  SystemClock clock;
  SystemRandom rng;
  auto passphrase = ReadPassphraseFile(passphrase_file);
  if (!passphrase.ok()) return ReportStatus("store", passphrase.status());

  if (init_cmd->parsed()) {
    auto lifetime = ParseDuration(init_lifetime);
    if (!lifetime.ok()) return ReportStatus("store", lifetime.status());
    init.lifetime = *lifetime;
    init.passphrase = *passphrase;
    auto ca = store::StoreCa::Init(init, clock, rng);
    if (!ca.ok()) return ReportStatus("store", ca.status());
    std::cout << "created store '" << init.name << "' in " << init.dir
              << "\nstore root: " << ca->root_path() << " (sha256 "
              << ca->root().Sha256Fingerprint()
              << ")\ngive the store root to developers and sites; keep root.key secret\n";
    return kExitOk;
  }
  if (list_cmd->parsed()) {
    auto list = store::StoreCa::ListDevelopers(dir);
    if (!list.ok()) return ReportStatus("store", list.status());
    nlohmann::json j = nlohmann::json::array();
    for (const auto& d : *list) {
      j.push_back({{"name", d.Subject().common_name},
                   {"serial", d.SerialHex()},
                   {"notAfter", FormatTime(d.NotAfter())},
                   {"key", d.PublicKeyAlgorithm()}});
      if (!json) {
        std::cout << d.Subject().common_name << "\t" << d.SerialHex() << "\t"
                  << FormatTime(d.NotAfter()) << "\t" << d.PublicKeyAlgorithm() << "\n";
      }
    }
    if (json) std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  // developers add
  auto lifetime = ParseDuration(dev_lifetime);
  if (!lifetime.ok()) return ReportStatus("store", lifetime.status());
  auto ca = store::StoreCa::Open(dir, *passphrase);
  if (!ca.ok()) return ReportStatus("store", ca.status());
  auto csr = pki::CertificateRequest::Load(csr_path);
  if (!csr.ok()) return ReportStatus("store", csr.status());
  if (!out_path.empty() && PathExists(out_path)) {
    return ReportStatus("store", AlreadyExists(out_path + " exists; choose another --out"));
  }
  auto cert = ca->AddDeveloper(*csr, *lifetime, clock, rng);
  if (!cert.ok()) return ReportStatus("store", cert.status().WithContext("refusing " + csr_path));
  // The name is the developer's choice: use it as a file name only when it is a safe one.
  const std::string cn = cert->Subject().common_name;
  const std::string path = !out_path.empty() ? out_path
                           : pki::ValidateIdentifier("name", cn).ok()
                               ? cn + ".pem"
                               : "developer-" + cert->SerialHex() + ".pem";
  if (Status s = cert->Save(path, /*overwrite=*/false); !s.ok()) return ReportStatus("store", s);
  if (json) {
    std::cout << pki::DescribeCertificate(*cert).dump(2) << "\n";
  } else {
    std::cout << "registered developer '" << cert->Subject().common_name << "' (serial "
              << cert->SerialHex() << ", valid until " << FormatTime(cert->NotAfter())
              << ")\nwrote the developer certificate to " << path << "\n";
  }
  return kExitOk;
}
