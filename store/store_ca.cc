#include "store/store_ca.h"

#include "pki/builders.h"
#include "pki/ca_files.h"

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
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::CaFiles ca,
      pki::CreateCaFiles(
          opts.dir, "store", type,
          [&](const pki::PrivateKey& key) {
            return pki::BuildStoreRoot(key, opts.name, opts.lifetime, {clock, rng});
          },
          opts.passphrase, rng));
  return StoreCa(opts.dir, std::move(ca.root), std::move(ca.key));
}

Result<StoreCa> StoreCa::Open(const std::string& dir,
                              const std::optional<std::string>& passphrase) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::CaFiles ca,
                             pki::LoadCaFiles(dir, "store init --dir " + dir, passphrase));
  return StoreCa(dir, std::move(ca.root), std::move(ca.key));
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
  return pki::BuildTlsServerIdentity(names, root_, key_, lifetime, ctx);
}

}  // namespace sitechain::store
