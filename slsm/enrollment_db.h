#pragma once
// Enrollment's SQL (slsm.db, site_db.h): join tokens and the nodes enrolled with them.
//
// Thread-safe: every method holds the SiteDatabase's lock for its SQL only, and each change
// commits in one transaction with its audit entry. Keeps a reference to the SiteDatabase, which
// must outlive it.
// Failures: NOT_FOUND for a missing record, ALREADY_EXISTS for a uniqueness clash, and the
// storage codes of storage/sqlite.h.

#include <string>
#include <vector>

#include "common/result.h"
#include "slsm/records.h"
#include "slsm/site_db.h"

namespace sitechain::slsm {

class EnrollmentDb final {
 public:
  explicit EnrollmentDb(SiteDatabase& db) : db_(db) {}

  Status InsertJoinToken(const JoinTokenRecord& token, TimePoint now);
  Result<JoinTokenRecord> FindJoinTokenByHash(const std::string& hash);

  // Enrolls (or re-enrolls) a node and marks the token used, atomically: UNAUTHENTICATED if the
  // token is unknown or was used meanwhile (nothing changes). Re-enrolling clears an eviction:
  // the admin made a new token for it.
  Status EnrollNode(const NodeRecord& node, const std::string& token_id, TimePoint now);
  Result<NodeRecord> FindNode(const std::string& name);
  Result<std::vector<NodeRecord>> ListNodes();
  Status TouchNode(const std::string& node, TimePoint now);
  // Marks the node evicted and removes its instances, in one transaction. FAILED_PRECONDITION
  // if already evicted.
  Status EvictNode(const std::string& node, TimePoint now);

 private:
  SiteDatabase& db_;
};

}  // namespace sitechain::slsm
