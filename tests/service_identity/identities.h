#pragma once
// Test support for the service-identity tests: two sites (site-a, and site-b to federate with or
// to be attacked from), each a full chain made with the real builders, and the service
// identities and forgeries the tests hand to the helper or present in handshakes. The clock is
// the system clock: the certificates go through real TLS handshakes checked at real time.

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/identity_file.h"
#include "common/random.h"
#include "pki/builders.h"
#include "pki/issuer.h"
#include "pki/profile.h"
#include "service_identity/service_identity.h"
#include "tests/common/temp_dir.h"
#include "tests/support/test_chain.h"

namespace sitechain::service_identity::testing {

using sitechain::testing::MakeTestPki;
using sitechain::testing::SpecFrom;
using sitechain::testing::TestPki;
using sitechain::testing::TestPkiOptions;

// A key and a certificate for it.
struct Identity {
  pki::PrivateKey key;
  pki::Certificate cert;
  IdentityPem Pem(Random& rng) const { return {key.ToPem(std::nullopt, rng), cert.ToPem()}; }
};

class Sites {
 public:
  Sites() : a_(Make("site-a")), b_(Make("site-b")) {}

  TestPki& a() { return *a_; }
  TestPki& b() { return *b_; }
  const Clock& clock() const { return clock_; }
  Random& rng() { return rng_; }

  // A Cert_site of `site` for a fresh key, as the site's slsm issues it; `clock` sets notBefore.
  Identity CertSite(TestPki& site, const std::string& node, const std::string& service,
                    std::chrono::seconds lifetime = std::chrono::hours(1),
                    const Clock* clock = nullptr) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    pki::SiteBinding binding{node, service, key.PublicKeyDer(), "{}"};
    auto cert = pki::BuildCertSite(site.cert_store, binding, site.site_root, site.site_key,
                                   lifetime, {clock != nullptr ? *clock : clock_, rng_});
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return {std::move(key), std::move(*cert)};
  }

  // `real` signed again as `spec` says, by `issuer` (a forger holding that issuer's key).
  Result<pki::Certificate> Resign(const pki::CertificateSpec& spec, const pki::Certificate& issuer,
                                  const pki::PrivateKey& issuer_key) {
    return pki::IssueCertificate(spec, pki::Issuer{&issuer, issuer_key}, rng_);
  }

  static std::string Id(const std::string& site, const std::string& node,
                        const std::string& service) {
    return pki::ServiceSpiffeId(site, node, service);
  }

 private:
  std::optional<TestPki> Make(const std::string& site) {
    TestPkiOptions options;
    options.site = site;
    auto pki = MakeTestPki(clock_, rng_, options);
    EXPECT_TRUE(pki.ok()) << pki.status().ToString();
    return std::move(*pki);
  }

  SystemClock clock_;
  SystemRandom rng_;
  std::optional<TestPki> a_, b_;
};

// The files an nlsm gives a service, written into `dir`: identity.pem, bundle.pem (the site
// root), federation.pem (if any), policy.json.
inline IdentityFiles WriteServiceFiles(const testutil::TempDir& dir, const std::string& name,
                                       const Identity& identity, const pki::Certificate& site_root,
                                       const std::string& spiffe_id, const std::string& policy,
                                       const std::string& federation_pem, Random& rng) {
  IdentityFiles files;
  files.identity = dir.Path(name + "-identity.pem");
  files.trust_bundle = dir.Path(name + "-bundle.pem");
  files.federation = dir.Path(name + "-federation.pem");
  files.policy = dir.Path(name + "-policy.json");
  files.spiffe_id = spiffe_id;
  EXPECT_TRUE(WriteIdentityFile(files.identity, identity.Pem(rng)).ok());
  EXPECT_TRUE(testutil::WriteWholeFile(files.trust_bundle, site_root.ToPem()));
  if (!federation_pem.empty()) {
    EXPECT_TRUE(testutil::WriteWholeFile(files.federation, federation_pem));
  }
  EXPECT_TRUE(testutil::WriteWholeFile(files.policy, policy));
  return files;
}

}  // namespace sitechain::service_identity::testing
