#pragma once
// The devkit commands that talk to a store over TLS: register, publish, releases, download,
// revoke, revocations. Like commands.h, each takes an options struct, writes its result to `out`
// and returns a Status that says what went wrong (the store's refusals arrive unchanged, with
// their gRPC code).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"

namespace sitechain::devkit {

// Where the store is and how to trust it. The store root is configured by the developer, never
// taken from the network: the server's TLS certificate must chain to it.
struct StoreConnection {
  std::string address;     // host:port (the host must be a name in the store's TLS certificate)
  std::string store_root;  // store root certificate file
  // The developer identity for mutual TLS (publish, revoke).
  std::optional<std::string> cert, key, passphrase;
};

struct RegisterOptions {
  StoreConnection store;
  std::string token;
  std::string csr;  // CSR file (devkit csr)
  std::string out;  // developer certificate to write; never overwritten
};
Status Register(const RegisterOptions& opts, std::ostream& out);

// Bytes per upload message.
inline constexpr size_t kUploadChunkBytes = 1 << 20;

struct PublishOptions {
  StoreConnection store;
  std::string executable;
  std::string cert_dev;  // Cert_dev file (devkit sign)
  std::string out;       // Cert_store to write; default <executable>.cert-store.pem
  bool json = false;
};
Status Publish(const PublishOptions& opts, std::ostream& out);

struct ReleasesOptions {
  StoreConnection store;
  std::string name, query, developer;
  bool include_revoked = false;
  bool json = false;
};
Status ListReleases(const ReleasesOptions& opts, std::ostream& out);

struct DownloadOptions {
  StoreConnection store;
  std::string name;
  std::string version;  // empty: the newest unrevoked release
  std::string out_dir = ".";
};
// Writes <out_dir>/<name> (mode 0755) and <name>.cert-dev.pem, <name>.cert-store.pem,
// <name>.developer.pem, but only after the chain verifies offline against the store root
// (rules 1, 2, 4, 6, 8); a refused download leaves nothing behind. FAILED_PRECONDITION with the
// coded reason if the chain is refused.
Status Download(const DownloadOptions& opts, const Clock& clock, std::ostream& out);

struct RevokeOptions {
  StoreConnection store;
  std::string name, version, reason;
};
Status Revoke(const RevokeOptions& opts, std::ostream& out);

struct RevocationsOptions {
  StoreConnection store;
  uint64_t after = 0;             // list revocations with a higher sequence number
  bool follow = false;            // keep the stream open and print new revocations as they happen
  std::optional<uint64_t> count;  // with follow: stop after this many
  bool json = false;              // one JSON object per line
};
Status Revocations(const RevocationsOptions& opts, std::ostream& out);

}  // namespace sitechain::devkit
