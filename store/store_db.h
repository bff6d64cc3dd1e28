#pragma once
// The store's state in one SQLite file (<dir>/store.db, WAL): developers, registration tokens,
// release names and their owners, releases, revocations and an audit log of every change. Each
// change and its audit entry commit in one transaction; a commit that returned is on disk.
//
// Not thread-safe: StoreService owns one StoreDatabase and serialises calls with its mutex.
// Failures: NOT_FOUND for a missing record, ALREADY_EXISTS for a uniqueness clash, and the
// storage codes of storage/sqlite.h.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/sqlite.h"
#include "store/records.h"

namespace sitechain::store {

class StoreDatabase final {
 public:
  // Opens or creates the database and brings its schema up to date.
  static Result<StoreDatabase> Open(const std::string& path);

  // --- tokens
  Status InsertToken(const TokenRecord& token, TimePoint now);
  Result<TokenRecord> FindTokenByHash(const std::string& hash);
  Result<std::vector<TokenRecord>> ListTokens();

  // --- developers
  // Inserts the developer and marks the token used by it, atomically.
  Result<int64_t> RegisterDeveloper(const DeveloperRecord& developer, const std::string& token_id,
                                    TimePoint now);
  Result<DeveloperRecord> FindDeveloperByFingerprint(const std::string& fingerprint);
  Result<DeveloperRecord> FindDeveloperByName(const std::string& name);
  // NOT_FOUND unless a developer with that name or key fingerprint exists; used to refuse
  // duplicate registrations before issuing.
  Result<bool> DeveloperNameOrKeyExists(const std::string& name,
                                        const std::string& key_fingerprint);
  Result<std::vector<DeveloperRecord>> ListDevelopers();

  // --- releases
  // Whether `developer_id` may publish (name, version, counter): PERMISSION_DENIED if the
  // developer is unknown or revoked or another developer owns the name, ALREADY_EXISTS for a known
  // version, FAILED_PRECONDITION if the counter is not above every earlier release of the name.
  Status CheckPublishable(int64_t developer_id, const std::string& name, const std::string& version,
                          uint64_t release_counter);
  // Checks again and inserts, claiming the name for the developer when it is new. Returns the id.
  Result<int64_t> InsertRelease(const ReleaseRecord& release, TimePoint now);
  // version empty: the newest unrevoked release of that name.
  Result<ReleaseRecord> FindRelease(const std::string& name, const std::string& version);
  Result<std::vector<ReleaseRecord>> ListReleases(const ReleaseFilter& filter);
  // Blob names that some release refers to.
  Result<std::vector<std::string>> ReferencedBlobs();

  // --- revocations
  // Revokes one release. FAILED_PRECONDITION if it is already revoked. With only_developer_id
  // set, PERMISSION_DENIED unless the release is that developer's.
  Result<RevocationRecord> RevokeRelease(const std::string& name, const std::string& version,
                                         const std::string& reason, const std::string& revoked_by,
                                         std::optional<int64_t> only_developer_id, TimePoint now);
  // Revokes the developer and then each of its unrevoked releases. Returns the developer entry.
  Result<RevocationRecord> RevokeDeveloper(const std::string& name, const std::string& reason,
                                           const std::string& revoked_by, TimePoint now);
  Result<std::vector<RevocationRecord>> RevocationsSince(uint64_t after_sequence, uint32_t limit);
  Result<uint64_t> LastRevocationSequence();

  Result<StoreStats> Stats(TimePoint now);  // now: which tokens are still active

 private:
  explicit StoreDatabase(sql::Database db) : db_(std::move(db)) {}
  Status Audit(TimePoint now, const std::string& actor, const std::string& action,
               const std::string& detail);
  Result<RevocationRecord> InsertRevocation(const RevocationRecord& r, int64_t developer_id,
                                            std::optional<int64_t> release_id);

  sql::Database db_;
};

}  // namespace sitechain::store
