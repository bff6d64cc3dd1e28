#pragma once
// The devkit commands as functions: main.cc parses options into these structs and calls them;
// tests call them directly. Each writes its result to `out` and returns a Status whose message
// says what went wrong and what to do.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"

namespace sitechain::devkit {

struct KeygenOptions {
  std::string out;                        // key file to write (mode 0600); never overwritten
  std::string key_type = "ed25519";       // ed25519 | ecdsa-p256 | rsa-2048 | rsa-3072
  std::optional<std::string> passphrase;  // encrypts the key file when set
};
Status Keygen(const KeygenOptions& opts, Random& rng, std::ostream& out);

struct CsrOptions {
  std::string key;  // developer key file
  std::optional<std::string> passphrase;
  std::string name;  // developer name, becomes the CN
  std::string out;   // CSR file to write
};
Status MakeCsr(const CsrOptions& opts, Random& rng, std::ostream& out);

struct SignOptions {
  std::string executable;
  std::string key;  // developer key file
  std::optional<std::string> passphrase;
  std::string cert;  // developer identity certificate issued by the store
  std::string name;
  std::string version;
  uint64_t release = 0;
  std::optional<std::string> metadata;  // optional metadata file, hashed into metadataHash
  std::string hash = "sha256";
  Seconds lifetime{365 * 86400};
  std::string out;  // Cert_dev file; default <executable>.cert.pem
  bool json = false;
};
Status Sign(const SignOptions& opts, const Clock& clock, Random& rng, std::ostream& out);

struct VerifyOptions {
  std::optional<std::string> store_root, site_root, developer_cert, cert_dev, cert_store, cert_site,
      executable, metadata;
  std::optional<std::string> node;  // a node name or its SPIFFE ID, for rule 5
  std::optional<uint64_t> min_release;
  std::optional<std::string> at;  // evaluation time; default now
  Seconds skew{60};
  bool json = false;
};
// Returns OK if the chain verifies; FAILED_PRECONDITION carrying the coded failure if it is
// refused (printed to `out` too, as text or JSON); other codes for unreadable inputs.
Status Verify(const VerifyOptions& opts, const Clock& clock, std::ostream& out);

Status Inspect(const std::string& cert_path, bool json, std::ostream& out);

}  // namespace sitechain::devkit
