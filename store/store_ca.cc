#include "store/store_ca.h"

#include "common/files.h"
#include "pki/builders.h"

namespace sitechain::store {
namespace {
// Longer than any certificate lives; the builders cap notAfter at the issuer's.
constexpr Seconds kForever{200LL * 365 * 86400};
}  // namespace

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

Result<pki::Certificate> StoreCa::IssueDeveloper(const pki::CertificateRequest& csr,
                                                 Seconds lifetime,
                                                 const pki::BuildContext& ctx) const {
  return pki::BuildDeveloperIdentity(csr, root_, key_, lifetime, ctx);
}

Result<pki::Certificate> StoreCa::IssueCertStore(const pki::Certificate& cert_dev,
                                                 const pki::BuildContext& ctx) const {
  // Cert_store lives as long as Cert_dev (the builder caps it there).
  return pki::BuildCertStore(cert_dev, root_, key_, kForever, ctx);
}

Result<StoreCa::TlsIdentity> StoreCa::IssueTlsServer(const pki::TlsServerNames& names,
                                                     Seconds lifetime,
                                                     const pki::BuildContext& ctx) const {
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, ctx.rng);
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert,
      pki::BuildTlsServerCertificate(key.PublicKeyDer(), names, root_, key_, lifetime, ctx));
  return TlsIdentity{std::move(cert), std::move(key)};
}

}  // namespace sitechain::store
