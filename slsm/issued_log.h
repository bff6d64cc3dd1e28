#pragma once
// The issuance log (slsm.db, site_db.h): every certificate the site handed out, node
// certificates and Cert_site. Logging one also records it as its holder's newest: on the node's
// row (kind "node") or on the instance's (kind "site"). Nothing is handed out unless logged.
//
// Thread-safe: every method holds the SiteDatabase's lock for its SQL only. Keeps a reference to
// the SiteDatabase, which must outlive it.
// Failures: ALREADY_EXISTS for a serial logged before, and the storage codes of storage/sqlite.h.

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "slsm/records.h"
#include "slsm/site_db.h"

namespace sitechain::slsm {

class IssuedLog final {
 public:
  explicit IssuedLog(SiteDatabase& db) : db_(db) {}

  // Records an issuance and its holder's newest certificate.
  Status LogIssued(const IssuedRecord& issued);
  // Records several issuances in one transaction (one commit, one fsync, for a whole Renew
  // call): all of them or, on failure, none.
  Status LogIssuedAll(const std::vector<IssuedRecord>& issued);
  // The newest `limit` entries, newest first.
  Result<std::vector<IssuedRecord>> ListIssued(uint32_t limit);

 private:
  SiteDatabase& db_;
};

}  // namespace sitechain::slsm
