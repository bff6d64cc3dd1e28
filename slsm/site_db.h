#pragma once
// The site manager's state in one SQLite file (<dir>/slsm.db, WAL): installed releases,
// services and their policies, join tokens, nodes, instances (deployments), the issuance log, the
// store revocation feed's position and an audit log of every change. Each change and its audit
// entry commit in one transaction; a commit that returned is on disk.
//
// SiteDatabase is the file: it opens the one connection, brings the schema up to date with the
// one migration list (site_db.cc, every concept's tables; never edit a shipped entry), and lends
// the connection to the concepts' database classes, which keep their SQL next to them:
//   catalog_db.h     releases, services and policies, revocation marks, the feed position
//   enrollment_db.h  join tokens and nodes
//   deployment_db.h  instances and what nodes report of them
//   issued_log.h     the issuance log
//
// Thread-safe: mu guards the connection. Every method of the database classes holds it for its
// SQL only (one statement, or one transaction), so each is atomic with respect to the others,
// and none holds it across signing, a peer's I/O or a call into another concept.
// Movable (the connection and its lock move together); the database classes keep a reference to
// it and must not outlive it. Failures: the storage codes of storage/sqlite.h.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/result.h"
#include "slsm/records.h"
#include "storage/sqlite.h"

namespace sitechain::slsm {

class SiteDatabase final {
 public:
  // What a node reports of one instance (the name callers know it by).
  using InstanceState = slsm::InstanceState;

  // Opens or creates the database and brings its schema up to date.
  static Result<SiteDatabase> Open(const std::string& path);

  // Runs fn(connection) under the lock and returns what it returns. fn runs SQL only.
  template <typename Fn>
  auto Locked(Fn&& fn) {
    std::lock_guard lock(shared_->mu);
    return std::forward<Fn>(fn)(shared_->db);
  }
  // Runs fn(connection) in one transaction (BEGIN IMMEDIATE … COMMIT; rolled back when fn or
  // the commit fails), under the lock.
  Status Transaction(const std::function<Status(sql::Database&)>& fn);

  // How many services, unevicted nodes, instances and issuances there are, and the feed position.
  Result<SiteCounts> Counts();

  // Appends an entry to the audit log; called inside a Transaction.
  static Status Audit(sql::Database& db, TimePoint now, const std::string& action,
                      const std::string& detail);

 private:
  struct Shared {
    explicit Shared(sql::Database database) : db(std::move(database)) {}
    std::mutex mu;
    sql::Database db;  // guarded by mu
  };
  explicit SiteDatabase(sql::Database db) : shared_(std::make_unique<Shared>(std::move(db))) {}

  std::unique_ptr<Shared> shared_;
};

}  // namespace sitechain::slsm
