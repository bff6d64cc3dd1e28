#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"

namespace sitechain::store {

// The store's certificate authority in its state directory:
//   <dir>/root.pem          the store root certificate (give it to developers and sites)
//   <dir>/root.key          the store CA key (mode 0600, optionally passphrase-encrypted)
// The directory is created with mode 0700. It issues developer identities, Cert_store and the
// store's own TLS server certificates; who may have one is StoreService's decision.
// Not thread-safe (StoreService serialises issuance).
class StoreCa final {
 public:
  struct InitOptions {
    std::string dir;
    std::string name = "sitechain store";  // the root's CN
    std::string key_type = "ed25519";
    Seconds lifetime{10 * 365 * 86400};
    std::optional<std::string> passphrase;  // encrypts root.key
  };

  // Creates the CA. Refuses (ALREADY_EXISTS) a directory that already holds a store.
  static Result<StoreCa> Init(const InitOptions& opts, const Clock& clock, Random& rng);
  // Opens an existing store. FAILED_PRECONDITION if dir holds none ("run store init").
  static Result<StoreCa> Open(const std::string& dir, const std::optional<std::string>& passphrase);

  const pki::Certificate& root() const { return root_; }
  const std::string& dir() const { return dir_; }
  std::string root_path() const { return dir_ + "/root.pem"; }

  // A developer identity for the CSR (the profile's checks: pki::BuildDeveloperIdentity).
  Result<pki::Certificate> IssueDeveloper(const pki::CertificateRequest& csr, Seconds lifetime,
                                          const pki::BuildContext& ctx) const;
  // Cert_store for a Cert_dev the caller has verified (rule 1); the result passes rule 4.
  Result<pki::Certificate> IssueCertStore(const pki::Certificate& cert_dev,
                                          const pki::BuildContext& ctx) const;

  // A fresh key and TLS server certificate for `store serve`, chaining to the root.
  using TlsIdentity = pki::TlsServerIdentity;
  Result<TlsIdentity> IssueTlsServer(const pki::TlsServerNames& names, Seconds lifetime,
                                     const pki::BuildContext& ctx) const;

 private:
  StoreCa(std::string dir, pki::Certificate root, pki::PrivateKey key)
      : dir_(std::move(dir)), root_(std::move(root)), key_(std::move(key)) {}

  std::string dir_;
  pki::Certificate root_;
  pki::PrivateKey key_;
};

}  // namespace sitechain::store
