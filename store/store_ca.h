#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"

namespace sitechain::store {

// The store's certificate authority and its state directory:
//   <dir>/root.pem          the store root certificate (give it to developers and sites)
//   <dir>/root.key          the store CA key (mode 0600, optionally passphrase-encrypted)
//   <dir>/developers/       one <serial>.pem per registered developer identity
// The directory is created with mode 0700. Not thread-safe; one process owns a directory.
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

  // Offline registration: checks the CSR (signature, no CA rights, no extensions, supported
  // key) and issues a developer identity. Refuses a key or a name that is already registered
  // (ALREADY_EXISTS). Records the certificate under developers/.
  Result<pki::Certificate> AddDeveloper(const pki::CertificateRequest& csr, Seconds lifetime,
                                        const Clock& clock, Random& rng);
  // The registered developer identities, oldest first.
  Result<std::vector<pki::Certificate>> Developers() const { return ListDevelopers(dir_); }
  // The same without opening the CA: needs only the public certificates, never the key.
  static Result<std::vector<pki::Certificate>> ListDevelopers(const std::string& dir);

 private:
  StoreCa(std::string dir, pki::Certificate root, pki::PrivateKey key)
      : dir_(std::move(dir)), root_(std::move(root)), key_(std::move(key)) {}

  std::string dir_;
  pki::Certificate root_;
  pki::PrivateKey key_;
};

}  // namespace sitechain::store
