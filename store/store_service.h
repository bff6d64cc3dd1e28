#pragma once
// The app store's behaviour, independent of gRPC: registration with one-time tokens, publishing
// (verify Cert_dev, hash while receiving, issue Cert_store, verify it, keep the blob), the
// catalog, downloads, revocations and the revocation feed. The gRPC adapters (grpc_service.h,
// admin_service.h) translate messages and call these methods; every refusal is a Status whose
// message says what was wrong.
//
// Thread-safe: mu_ guards the database, the CA and the random source; uploads stream without it
// and take it only to commit. One process owns a state directory.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/verifier.h"
#include "storage/blob_store.h"
#include "store/records.h"
#include "store/store_ca.h"
#include "store/store_db.h"

namespace sitechain::store {

// Limits on what callers may send. Defaults suit a store of microservice executables.
struct StoreLimits {
  uint64_t max_executable_bytes = 1ull << 30;  // 1 GiB
  size_t max_pem_bytes = 64 << 10;             // a CSR or a Cert_dev
  size_t max_text_bytes = 1024;                // a revocation reason or a token note
  Seconds developer_lifetime{2 * 365 * 86400};
  Seconds default_token_ttl{86400};
  Seconds max_token_ttl{30 * 86400};
  uint32_t default_page_size = 100;
  uint32_t max_page_size = 1000;
  uint32_t max_revocations_per_call = 10000;
  // Concurrent WatchRevocations streams (issue 17): a watch needs no credentials and never ends,
  // and each holds a server thread. Every site manager holds one; a host behind one address
  // rarely needs more than a few.
  uint32_t max_revocation_watchers = 1024;
  uint32_t max_revocation_watchers_per_address = 16;

  // The catalog page size for a request: 0 means the default; capped at the maximum.
  uint32_t PageSize(uint32_t requested) const {
    return requested == 0 ? default_page_size : std::min(requested, max_page_size);
  }

  // INVALID_ARGUMENT naming the first limit that is zero or inconsistent.
  Status Validate() const;
};

struct CreatedToken {
  std::string token;  // give to the developer; the store keeps only its hash
  TokenRecord record;
};

struct Published {
  ReleaseRecord release;
  pki::Certificate cert_store;
};

class StoreService final {
 public:
  class Upload;

  // Wires the parts of an opened store together and removes blobs that no release refers to
  // (what a crash between storing a blob and committing its release leaves behind).
  static Result<std::unique_ptr<StoreService>> Create(StoreCa ca, StoreDatabase db,
                                                      storage::BlobStore blobs, const Clock& clock,
                                                      Random& rng, StoreLimits limits);
  StoreService(const StoreService&) = delete;
  StoreService& operator=(const StoreService&) = delete;

  const pki::Certificate& root() const { return ca_.root(); }
  const StoreLimits& limits() const { return limits_; }

  // --- registration
  // ttl zero: the default. INVALID_ARGUMENT above max_token_ttl or for an oversized note.
  Result<CreatedToken> CreateToken(Seconds ttl, const std::string& note);
  Result<std::vector<TokenRecord>> ListTokens();
  // UNAUTHENTICATED for an unknown, used or expired token, checked before the CSR is even
  // parsed (the token stays usable if the CSR is refused for another reason); INVALID_ARGUMENT
  // for a CSR that does not parse or whose key is outside the profile (pki::CertificateRequest,
  // before any signature check); the CSR refusals of pki::BuildDeveloperIdentity; ALREADY_EXISTS
  // for a registered name or key.
  Result<pki::Certificate> Register(const std::string& token, const std::string& csr_pem);
  Result<std::vector<DeveloperRecord>> ListDevelopers();

  // The registered, unrevoked developer whose identity certificate the client presented in the
  // TLS handshake (which proved it holds the key). Verifies the certificate against the store
  // root at the clock's time and looks it up by fingerprint: UNAUTHENTICATED without a
  // certificate, for one that does not verify or that the store did not register;
  // PERMISSION_DENIED for a revoked developer.
  Result<DeveloperRecord> AuthenticateDeveloper(const std::optional<std::string>& peer_pem);

  // --- publishing
  // Checks everything that can be checked before the bytes arrive: Cert_dev parses, was issued
  // by `developer` (PERMISSION_DENIED otherwise) and verifies under the store root (rules 1, 8;
  // INVALID_ARGUMENT with the coded reason otherwise), the size is within the limit
  // (RESOURCE_EXHAUSTED), and the release is publishable (StoreDatabase::CheckPublishable).
  Result<std::unique_ptr<Upload>> StartPublish(const DeveloperRecord& developer,
                                               const std::string& cert_dev_pem,
                                               uint64_t declared_size);

  // --- catalog and download
  // Newest first; filter.limit is taken through limits().PageSize.
  Result<std::vector<ReleaseRecord>> ListReleases(const ReleaseFilter& filter);
  // version empty: the newest unrevoked release. Revoked releases can still be downloaded
  // (for inspection); their certificates say what they are and the feed says they are revoked.
  Result<ReleaseRecord> FindRelease(const std::string& name, const std::string& version);
  Result<UniqueFd> OpenBlob(const ReleaseRecord& release);

  // --- revocation
  // developer set: only that developer's own releases (PERMISSION_DENIED otherwise);
  // nullopt: the admin. reason must be 1..max_text_bytes bytes.
  Result<RevocationRecord> RevokeRelease(const std::optional<DeveloperRecord>& developer,
                                         const std::string& name, const std::string& version,
                                         const std::string& reason);
  Result<RevocationRecord> RevokeDeveloper(const std::string& name, const std::string& reason);
  // limit zero: max_revocations_per_call.
  Result<std::vector<RevocationRecord>> RevocationsSince(uint64_t after_sequence, uint32_t limit);
  Result<uint64_t> LastRevocationSequence();
  // Blocks until a revocation above after_sequence exists, `timeout` passes or Shutdown is
  // called. Returns true if there may be new revocations.
  bool WaitForRevocation(uint64_t after_sequence, std::chrono::milliseconds timeout);
  // Wakes every waiter for good (server shutdown).
  void Shutdown();
  bool shutting_down();

  Result<StoreStats> Stats();

 private:
  StoreService(StoreCa ca, StoreDatabase db, storage::BlobStore blobs, const Clock& clock,
               Random& rng, StoreLimits limits);
  Result<Published> CommitUpload(Upload& upload);
  Status CheckText(const std::string& what, const std::string& text, bool required) const;
  void NotifyRevocation(uint64_t sequence);

  const Clock& clock_;
  const StoreLimits limits_;
  const storage::BlobStore blobs_;
  const pki::Verifier verifier_;

  std::mutex mu_;
  StoreCa ca_;        // guarded by mu_ (issuing)
  StoreDatabase db_;  // guarded by mu_
  Random& rng_;       // guarded by mu_

  std::mutex feed_mu_;
  std::condition_variable feed_cv_;
  uint64_t last_sequence_ = 0;  // guarded by feed_mu_
  bool shutting_down_ = false;  // guarded by feed_mu_
};

// One executable arriving for publication. Owned by the thread serving the call; dropping it
// without Finish discards everything received.
class StoreService::Upload final {
 public:
  // Hashes and stores the bytes. INVALID_ARGUMENT past the declared size.
  Status Append(std::span<const uint8_t> bytes);
  // Checks the size (INVALID_ARGUMENT for a truncated upload) and the digest (INVALID_ARGUMENT
  // on mismatch), then commits: Cert_store is issued and verified, the blob stored and the
  // release recorded. Any refusal leaves the store unchanged.
  Result<Published> Finish();

  uint64_t received() const { return writer_.size(); }

 private:
  friend class StoreService;
  Upload(StoreService& service, DeveloperRecord developer, pki::Certificate developer_identity,
         pki::Certificate cert_dev, pki::ServiceRelease release, pki::Digest expected,
         uint64_t declared_size, storage::BlobStore::Writer writer);

  StoreService& service_;
  DeveloperRecord developer_;
  pki::Certificate developer_identity_;
  pki::Certificate cert_dev_;
  pki::ServiceRelease release_;
  pki::Digest expected_;
  uint64_t declared_size_;
  storage::BlobStore::Writer writer_;
};

}  // namespace sitechain::store
