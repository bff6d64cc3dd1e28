#include "slsm/federation.h"

#include <set>

#include "pki/builders.h"
#include "pki/verifier.h"

namespace sitechain::slsm {

Result<std::vector<pki::Certificate>> LoadFederation(const std::vector<FederatedSite>& sites,
                                                     const std::string& own_site,
                                                     const Clock& clock) {
  const pki::Verifier verifier(clock);
  std::vector<pki::Certificate> roots;
  std::set<std::string> seen;
  for (const FederatedSite& site : sites) {
    const std::string what = "federation: trust domain \"" + site.trust_domain + "\": ";
    SITECHAIN_RETURN_IF_ERROR(pki::ValidateIdentifier("trust domain", site.trust_domain));
    if (site.trust_domain == own_site) {
      return InvalidArgument(what + "is this site's own; only its site root vouches for it");
    }
    if (!seen.insert(site.trust_domain).second) {
      return InvalidArgument(what + "is listed twice");
    }
    auto root = pki::Certificate::Load(site.root_file);
    if (!root.ok()) {
      return Status(root.status().code(),
                    what + "cannot read its root: " + root.status().message());
    }
    if (auto v = verifier.VerifyIssuedBy(*root, pki::CertRole::kSiteRoot, *root); !v.ok()) {
      return InvalidArgument(what + site.root_file +
                             " is not a valid site root: " + v.failure->ToString());
    }
    if (root->Subject().organizational_unit != pki::kSiteRootUnit) {
      return InvalidArgument(what + site.root_file + " is not a site root (subject " +
                             root->Subject().ToString() + ")");
    }
    if (root->Subject().common_name != site.trust_domain) {
      return InvalidArgument(what + site.root_file + " is the root of site \"" +
                             root->Subject().common_name + "\", not of \"" + site.trust_domain +
                             "\"");
    }
    roots.push_back(std::move(*root));
  }
  return roots;
}

}  // namespace sitechain::slsm
