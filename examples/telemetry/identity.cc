#include "examples/telemetry/identity.h"

#include <fstream>
#include <iostream>
#include <iterator>

namespace sitechain::examples {

std::shared_ptr<service_identity::ServiceIdentity> LoadIdentity(std::string_view program) {
  auto identity = service_identity::ServiceIdentity::FromEnvironment();
  if (identity.ok()) return *identity;
  std::cerr << program << ": cannot load the service identity: " << identity.status().ToString()
            << "\n"
            << program
            << ": it runs under a node manager (nlsm serve), which keeps a Cert_site for it and "
               "names its files in SITECHAIN_* variables; see examples/telemetry/README.md\n";
  return nullptr;
}

std::string AllowedPeers() {
  auto files = service_identity::IdentityFiles::FromEnvironment();
  if (!files.ok()) return "?";
  std::ifstream in(files->policy);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto peers = service_identity::PeerPolicy::FromSitePolicy(text);
  if (!peers.ok()) return "?";
  std::string out;
  for (const auto& pattern : peers->patterns()) out += (out.empty() ? "" : ", ") + pattern;
  return out.empty() ? "nobody" : out;
}

}  // namespace sitechain::examples
