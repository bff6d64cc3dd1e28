#pragma once
// The sites this site federates with (SPIFFE federation style): each a trust-domain name and that
// site's root, which the operator lists in the slsm's configuration ("federation"). The slsm
// sends the roots to its nodes with every Cert_site; the services' helper takes each root for
// its own trust domain only (docs/service-identity.md).
//
// A root is taken only if it is a valid self-signed site root (OU "sitechain site CA") whose CN
// is the trust domain given, that domain is not this site's own, and no domain is listed twice:
// anything else would let a federated root vouch for identities it must not.
//
// Pure functions apart from reading the root files; thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "pki/certificate.h"

namespace sitechain::slsm {

struct FederatedSite {
  std::string trust_domain;  // the other site's name
  std::string root_file;     // its site root (PEM)

  bool operator==(const FederatedSite&) const = default;
};

// The roots of `sites`, checked as above, in the order given. INVALID_ARGUMENT naming the entry
// and what is wrong with it (or the status of a root file that cannot be read).
Result<std::vector<pki::Certificate>> LoadFederation(const std::vector<FederatedSite>& sites,
                                                     const std::string& own_site,
                                                     const Clock& clock);

}  // namespace sitechain::slsm
