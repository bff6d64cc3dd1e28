#pragma once
// The catalog's SQL (slsm.db, site_db.h): installed releases, the services that run them and
// their policies, revocation marks learnt from the store's feed, and the feed's position.
//
// Thread-safe: every method holds the SiteDatabase's lock for its SQL only, and each change
// commits in one transaction with its audit entry. Keeps a reference to the SiteDatabase, which
// must outlive it.
// Failures: NOT_FOUND for a missing record, ALREADY_EXISTS for a uniqueness clash, and the
// storage codes of storage/sqlite.h.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "slsm/records.h"
#include "slsm/site_db.h"

namespace sitechain::slsm {

// A service and the release it runs, read together.
struct CurrentRelease {
  ServiceRecord service;
  ReleaseRecord release;
};

class CatalogDb final {
 public:
  explicit CatalogDb(SiteDatabase& db) : db_(db) {}

  // Records an installed release and points its service (created with policy "{}" if new) at
  // it when its counter is the service's highest. ALREADY_EXISTS for a known (name, version).
  Result<ReleaseRecord> InsertRelease(const ReleaseRecord& release, TimePoint now);
  Result<ReleaseRecord> FindRelease(const std::string& name, const std::string& version);
  Result<ReleaseRecord> FindReleaseById(int64_t id);
  // The highest releaseCounter installed for the name (rule 7), 0 if none.
  Result<uint64_t> HighestReleaseCounter(const std::string& name);
  Result<std::vector<ReleaseRecord>> ListReleases();
  Result<std::vector<std::string>> ReferencedBlobs();
  // Marks a release revoked (store feed); returns false if unknown or already revoked.
  Result<bool> MarkReleaseRevoked(const std::string& name, const std::string& version,
                                  const std::string& reason, TimePoint now);
  // Marks every release of a developer revoked; returns how many changed.
  Result<int> MarkDeveloperRevoked(const std::string& developer, const std::string& reason,
                                   TimePoint now);
  Result<uint64_t> LastFeedSequence();
  // Moves the feed position forward (an older sequence changes nothing).
  Status SetLastFeedSequence(uint64_t sequence);
  // When the feed was last read to its end (the epoch if never), and moving that forward (an
  // earlier time changes nothing).
  Result<TimePoint> FeedConfirmedAt();
  Status SetFeedConfirmedAt(TimePoint at);

  Result<ServiceRecord> FindService(const std::string& name);
  Result<std::vector<ServiceRecord>> ListServices();
  Status SetPolicy(const std::string& service, const std::string& policy_json, TimePoint now);
  // The service and the release it runs, in one read. NOT_FOUND for an unknown service.
  Result<CurrentRelease> FindCurrent(const std::string& service);

 private:
  SiteDatabase& db_;
};

}  // namespace sitechain::slsm
