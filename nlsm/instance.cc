#include "nlsm/instance.h"

#include "pki/extensions.h"
#include "pki/oids.h"

namespace sitechain::nlsm {

std::string PolicyOf(const pki::Certificate& cert_site) {
  auto ext = cert_site.FindExtension(pki::SitePolicyOid());
  if (!ext) return "{}";
  auto policy = pki::DecodeSitePolicy(ext->value);
  return policy.ok() ? *policy : "{}";
}

CertificateTimes TimesOf(const pki::Certificate& cert, std::optional<RenewalWindow> suggested) {
  return {cert.NotBefore(), cert.NotAfter(), suggested};
}

}  // namespace sitechain::nlsm
