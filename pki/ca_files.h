#pragma once
// A certificate authority's root certificate and key as two files in a state directory:
//   <dir>/root.pem   the root certificate (public: hand it to whoever must trust the CA)
//   <dir>/root.key   its key, mode 0600, optionally passphrase-encrypted
// Used by the store CA and the site CA (slca), which differ only in how the root is built.

#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::pki {

struct CaFiles {
  Certificate root;
  PrivateKey key;
};

// Creates dir (mode 0700), a key of `type` and the root that build_root makes for it, and writes
// both, the key first (a crash between the two leaves no certificate without its key).
// ALREADY_EXISTS if dir already holds either file; `what` names the CA in messages ("store").
Result<CaFiles> CreateCaFiles(
    const std::string& dir, const std::string& what, KeyType type,
    const std::function<Result<Certificate>(const PrivateKey&)>& build_root,
    const std::optional<std::string>& passphrase, Random& rng);

// Loads both files. FAILED_PRECONDITION when dir holds no root (with `init_hint`, the command
// that creates one), DATA_LOSS when the key does not belong to the root, and the key-loading
// refusals of PrivateKey::Load (unsafe mode, wrong passphrase).
Result<CaFiles> LoadCaFiles(const std::string& dir, const std::string& init_hint,
                            const std::optional<std::string>& passphrase);

// Loads a store root that a site or a node is configured to trust: a valid self-signed store CA
// certificate at the clock's time, INVALID_ARGUMENT naming the file and the verifier's reason
// otherwise.
Result<Certificate> LoadStoreRoot(const std::string& path, const Clock& clock);

}  // namespace sitechain::pki
