#pragma once
// One file that holds a private key and its certificate chain, as PEM: the key first, then the
// chain, leaf first. It is always replaced as a whole (ReplaceFileWithLaterMtime), so that one
// read of it gives a key and a certificate that belong together: a reader can never pair a new
// certificate with an old key, as it can when key and certificate are two files (docs/
// service-identity.md). OpenSSL-based readers (nginx, HAProxy, gRPC, `openssl x509`) accept it as
// the certificate file and as the key file: each takes the PEM blocks of its type.
//
// Used for every identity that renews while it is in use: a service's Cert_site (nlsm) and the
// TLS server certificates of the store and the site manager.
//
// Pure text handling and file I/O; no certificate is parsed here. Thread-safe.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sitechain {

struct IdentityPem {
  std::string key_pem;    // one "PRIVATE KEY" block
  std::string chain_pem;  // one or more "CERTIFICATE" blocks, leaf first
};

// Writes the identity file (mode 0600; with `group`, 0440 and that group: a service that runs as
// its own user reads it through its group), replacing any earlier one in one rename, with an
// mtime later than the replaced file's. The write's status.
Status WriteIdentityFile(const std::string& path, const IdentityPem& identity,
                         std::optional<gid_t> group = std::nullopt);

// Splits identity-file text: INVALID_ARGUMENT unless it holds exactly one private key block and
// at least one certificate block, and nothing else but whitespace.
Result<IdentityPem> ParseIdentityPem(std::string_view text);

// Reads and splits the file in one read (at most 64 KiB).
Result<IdentityPem> ReadIdentityFile(const std::string& path);

}  // namespace sitechain
