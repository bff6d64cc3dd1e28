#include "slca/site_ca.h"

#include "pki/ca_files.h"
#include "pki/profile.h"

namespace sitechain::slca {

Result<SiteCa> SiteCa::Init(const InitOptions& opts, const Clock& clock, Random& rng) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::KeyType type, pki::ParseKeyType(opts.key_type));
  SITECHAIN_RETURN_IF_ERROR(pki::ValidateIdentifier("site name", opts.site));
  if (opts.lifetime <= Seconds(0)) return InvalidArgument("the root lifetime must be positive");
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::CaFiles ca, pki::CreateCaFiles(
                           opts.dir, "site CA", type,
                           [&](const pki::PrivateKey& key) {
                             return pki::BuildSiteRoot(key, opts.site, opts.lifetime, {clock, rng});
                           },
                           opts.passphrase, rng));
  return SiteCa(std::move(ca.root), std::move(ca.key));
}

Result<SiteCa> SiteCa::Open(const std::string& dir, const std::optional<std::string>& passphrase) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::CaFiles ca,
                             pki::LoadCaFiles(dir, "slsm init --dir " + dir, passphrase));
  return SiteCa(std::move(ca.root), std::move(ca.key));
}

Result<pki::Certificate> SiteCa::IssueNode(const pki::CertificateRequest& csr,
                                           const std::string& node, Seconds lifetime,
                                           const pki::BuildContext& ctx) const {
  SITECHAIN_RETURN_IF_ERROR(pki::CheckRequest(csr, "node"));
  if (csr.CommonName() != node) {
    return InvalidArgument("the CSR names node '" + csr.CommonName() + "' but enrolls as '" + node +
                           "'; make the CSR with the node's own name");
  }
  return pki::BuildNodeCertificate(csr.PublicKeyDer(), node, root_, key_, lifetime, ctx);
}

Result<pki::Certificate> SiteCa::RenewNode(const pki::Certificate& current, Seconds lifetime,
                                           const pki::BuildContext& ctx) const {
  if (current.IssuerDnDer() != root_.SubjectDnDer() || !current.SignatureVerifiesWith(root_) ||
      current.UriSans() !=
          std::vector<std::string>{pki::NodeSpiffeId(site(), current.Subject().common_name)}) {
    return InvalidArgument("not a node certificate of site '" + site() + "'");
  }
  return pki::BuildNodeCertificate(current.PublicKeyDer(), current.Subject().common_name, root_,
                                   key_, lifetime, ctx);
}

Result<pki::Certificate> SiteCa::IssueCertSite(const pki::Certificate& cert_store,
                                               const pki::SiteBinding& binding, Seconds lifetime,
                                               const pki::BuildContext& ctx) const {
  return pki::BuildCertSite(cert_store, binding, root_, key_, lifetime, ctx);
}

Result<pki::TlsServerIdentity> SiteCa::IssueTlsServer(const pki::TlsServerNames& names,
                                                      Seconds lifetime,
                                                      const pki::BuildContext& ctx) const {
  return pki::BuildTlsServerIdentity(names, root_, key_, lifetime, ctx);
}

}  // namespace sitechain::slca
