#pragma once
// The site manager's state in one SQLite file (<dir>/slsm.db, WAL): installed releases,
// services and their policies, join tokens, nodes, instances (deployments), the issuance log, the
// store revocation feed's position and an audit log of every change. Each change and its audit
// entry commit in one transaction; a commit that returned is on disk.
//
// Not thread-safe: SiteService owns one SiteDatabase and serialises calls with its mutex.
// Failures: NOT_FOUND for a missing record, ALREADY_EXISTS for a uniqueness clash, and the
// storage codes of storage/sqlite.h.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/sqlite.h"
#include "slsm/records.h"

namespace sitechain::slsm {

class SiteDatabase final {
 public:
  // Opens or creates the database and brings its schema up to date.
  static Result<SiteDatabase> Open(const std::string& path);

  // --- releases and services
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
  Status SetLastFeedSequence(uint64_t sequence);

  Result<ServiceRecord> FindService(const std::string& name);
  Result<std::vector<ServiceRecord>> ListServices();
  Status SetPolicy(const std::string& service, const std::string& policy_json, TimePoint now);

  // --- join tokens
  Status InsertJoinToken(const JoinTokenRecord& token, TimePoint now);
  Result<JoinTokenRecord> FindJoinTokenByHash(const std::string& hash);

  // --- nodes
  // Enrolls (or re-enrolls) a node and marks the token used, atomically. Re-enrolling clears an
  // eviction: the admin made a new token for it.
  Status EnrollNode(const NodeRecord& node, const std::string& token_id, TimePoint now);
  Result<NodeRecord> FindNode(const std::string& name);
  Result<std::vector<NodeRecord>> ListNodes();
  Status UpdateNodeCertificate(const std::string& node, const std::string& serial,
                               TimePoint not_after);
  Status TouchNode(const std::string& node, TimePoint now);
  Status EvictNode(const std::string& node, TimePoint now);

  // --- instances
  // Adds the instance; ALREADY_EXISTS if the service is already deployed to the node.
  Status InsertInstance(const std::string& service, const std::string& node, TimePoint now);
  Status DeleteInstance(const std::string& service, const std::string& node, TimePoint now);
  Result<InstanceRecord> FindInstance(const std::string& service, const std::string& node);
  // Empty filters match any.
  Result<std::vector<InstanceRecord>> ListInstances(const std::string& service,
                                                    const std::string& node);
  Status SetInstanceState(const std::string& service, const std::string& node,
                          const std::string& state, const std::string& detail);
  struct InstanceState {
    std::string service, state, detail;
  };
  // SetInstanceState for several instances of a node in one transaction (a node's hello).
  Status SetInstanceStates(const std::string& node, const std::vector<InstanceState>& states);

  // --- issuance log
  // Records an issuance; for kind "site" also stores the serial and notAfter on the instance.
  Status LogIssued(const IssuedRecord& issued);
  // Records several issuances in one transaction (one commit, one fsync, for a whole Renew
  // call): all of them or, on failure, none.
  Status LogIssuedAll(const std::vector<IssuedRecord>& issued);
  Result<std::vector<IssuedRecord>> ListIssued(uint32_t limit);

  Result<SiteCounts> Counts();

 private:
  explicit SiteDatabase(sql::Database db) : db_(std::move(db)) {}
  Status Audit(TimePoint now, const std::string& action, const std::string& detail);
  Status InsertIssued(const IssuedRecord& issued);  // inside a transaction

  sql::Database db_;
};

}  // namespace sitechain::slsm
