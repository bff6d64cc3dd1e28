#include "store/store_ca.h"

#include <algorithm>
#include <filesystem>

#include "common/files.h"
#include "pki/builders.h"

namespace sitechain::store {

Result<StoreCa> StoreCa::Init(const InitOptions& opts, const Clock& clock, Random& rng) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::KeyType type, pki::ParseKeyType(opts.key_type));
  if (opts.name.empty() || opts.name.size() > 64) {
    return InvalidArgument("the store name must be 1 to 64 bytes");
  }
  if (opts.lifetime <= Seconds(0)) return InvalidArgument("the root lifetime must be positive");
  if (PathExists(opts.dir + "/root.pem") || PathExists(opts.dir + "/root.key")) {
    return AlreadyExists(opts.dir + " already holds a store; refusing to replace its CA");
  }
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(opts.dir, 0700));
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(opts.dir + "/developers", 0700));
  pki::PrivateKey key = pki::PrivateKey::Generate(type, rng);
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate root,
                             pki::BuildStoreRoot(key, opts.name, opts.lifetime, {clock, rng}));
  // The key first: a crash between the two writes leaves no certificate without its key.
  SITECHAIN_RETURN_IF_ERROR(key.Save(opts.dir + "/root.key", opts.passphrase, rng));
  SITECHAIN_RETURN_IF_ERROR(root.Save(opts.dir + "/root.pem", /*overwrite=*/false));
  return StoreCa(opts.dir, std::move(root), std::move(key));
}

Result<StoreCa> StoreCa::Open(const std::string& dir,
                              const std::optional<std::string>& passphrase) {
  if (!PathExists(dir + "/root.pem")) {
    return FailedPrecondition(dir + " holds no store; create one with 'store init --dir " + dir +
                              "'");
  }
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate root, pki::Certificate::Load(dir + "/root.pem"));
  SITECHAIN_ASSIGN_OR_RETURN(pki::PrivateKey key,
                             pki::PrivateKey::Load(dir + "/root.key", passphrase));
  if (key.PublicKeyDer() != root.PublicKeyDer()) {
    return DataLoss(dir + "/root.key does not belong to " + dir + "/root.pem");
  }
  return StoreCa(dir, std::move(root), std::move(key));
}

Result<pki::Certificate> StoreCa::AddDeveloper(const pki::CertificateRequest& csr, Seconds lifetime,
                                               const Clock& clock, Random& rng) {
  SITECHAIN_ASSIGN_OR_RETURN(auto existing, Developers());
  for (const auto& dev : existing) {
    if (dev.PublicKeyDer() == csr.PublicKeyDer()) {
      return AlreadyExists("this key is already registered as '" + dev.Subject().common_name +
                           "' (serial " + dev.SerialHex() + ")");
    }
    if (dev.Subject().common_name == csr.CommonName()) {
      return AlreadyExists("a developer named '" + csr.CommonName() +
                           "' is already registered; choose another name");
    }
  }
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert,
                             pki::BuildDeveloperIdentity(csr, root_, key_, lifetime, {clock, rng}));
  SITECHAIN_RETURN_IF_ERROR(
      cert.Save(dir_ + "/developers/" + cert.SerialHex() + ".pem", /*overwrite=*/false));
  return cert;
}

Result<std::vector<pki::Certificate>> StoreCa::ListDevelopers(const std::string& dir) {
  if (!PathExists(dir + "/root.pem")) {
    return FailedPrecondition(dir + " holds no store; create one with 'store init --dir " + dir +
                              "'");
  }
  std::vector<pki::Certificate> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/developers", ec)) {
    if (entry.path().extension() != ".pem") continue;
    SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::Load(entry.path().string()));
    out.push_back(std::move(cert));
  }
  if (ec) return Unavailable("cannot list " + dir + "/developers: " + ec.message());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.NotBefore() < b.NotBefore() ||
           (a.NotBefore() == b.NotBefore() && a.SerialHex() < b.SerialHex());
  });
  return out;
}

}  // namespace sitechain::store
