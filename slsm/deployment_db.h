#pragma once
// The deployments' SQL (slsm.db, site_db.h): instances (a service deployed to a node, at most
// one per pair) and the state their nodes last reported.
//
// Thread-safe: every method holds the SiteDatabase's lock for its SQL only, and each change
// commits in one transaction with its audit entry (reported states are not audited). Keeps a
// reference to the SiteDatabase, which must outlive it.
// Failures: NOT_FOUND for a missing record, ALREADY_EXISTS for a uniqueness clash, and the
// storage codes of storage/sqlite.h.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "slsm/records.h"
#include "slsm/site_db.h"

namespace sitechain::slsm {

class DeploymentDb final {
 public:
  explicit DeploymentDb(SiteDatabase& db) : db_(db) {}

  // Adds the instance; ALREADY_EXISTS if the service is already deployed to the node.
  Status InsertInstance(const std::string& service, const std::string& node, TimePoint now);
  Status DeleteInstance(const std::string& service, const std::string& node, TimePoint now);
  Result<InstanceRecord> FindInstance(const std::string& service, const std::string& node);
  // Empty filters match any.
  Result<std::vector<InstanceRecord>> ListInstances(const std::string& service,
                                                    const std::string& node);
  Result<uint64_t> CountInstances();
  Status SetInstanceState(const std::string& service, const std::string& node,
                          const std::string& state, const std::string& detail);
  // SetInstanceState for several instances of a node in one transaction (a node's hello).
  Status SetInstanceStates(const std::string& node, const std::vector<InstanceState>& states);

 private:
  SiteDatabase& db_;
};

}  // namespace sitechain::slsm
