#include "slsm/site_db.h"

#include <vector>

namespace sitechain::slsm {
namespace {

// The schema of every concept's tables (catalog_db, enrollment_db, deployment_db, issued_log).
const std::vector<std::string>& Migrations() {
  static const auto* migrations = new std::vector<std::string>{
      R"sql(
CREATE TABLE releases (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  release_counter INTEGER NOT NULL,
  developer TEXT NOT NULL,
  digest_algorithm TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  blob TEXT NOT NULL,
  cert_dev_pem TEXT NOT NULL,
  cert_store_pem TEXT NOT NULL,
  developer_certificate_pem TEXT NOT NULL,
  installed_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revocation_reason TEXT NOT NULL DEFAULT '',
  UNIQUE (name, version)
);
CREATE TABLE services (
  name TEXT PRIMARY KEY,
  release_id INTEGER NOT NULL REFERENCES releases(id),
  policy_json TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE join_tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  node TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE TABLE nodes (
  name TEXT PRIMARY KEY,
  key_fingerprint TEXT NOT NULL,
  certificate_serial TEXT NOT NULL,
  certificate_not_after INTEGER NOT NULL,
  enrolled_at INTEGER NOT NULL,
  last_seen INTEGER,
  evicted_at INTEGER
);
CREATE TABLE instances (
  service TEXT NOT NULL REFERENCES services(name),
  node TEXT NOT NULL REFERENCES nodes(name),
  deployed_at INTEGER NOT NULL,
  certificate_serial TEXT NOT NULL DEFAULT '',
  certificate_not_after INTEGER,
  node_state TEXT NOT NULL DEFAULT '',
  node_detail TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (service, node)
);
CREATE TABLE issued (
  serial TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('node', 'site')),
  subject TEXT NOT NULL,
  node TEXT NOT NULL,
  service TEXT NOT NULL,
  not_after INTEGER NOT NULL,
  issued_at INTEGER NOT NULL
);
CREATE INDEX issued_by_time ON issued (issued_at);
CREATE TABLE feed (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_sequence INTEGER NOT NULL
);
INSERT INTO feed (id, last_sequence) VALUES (1, 0);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
)sql",
      // 2: when the revocation feed was last read to its end (0: never; then a release counts as
      // confirmed from its install).
      "ALTER TABLE feed ADD COLUMN confirmed_at INTEGER NOT NULL DEFAULT 0;"};
  return *migrations;
}

}  // namespace

Result<SiteDatabase> SiteDatabase::Open(const std::string& path) {
  SITECHAIN_ASSIGN_OR_RETURN(sql::Database db, sql::Database::Open(path));
  SITECHAIN_RETURN_IF_ERROR(db.Migrate(Migrations()));
  return SiteDatabase(std::move(db));
}

Status SiteDatabase::Transaction(const std::function<Status(sql::Database&)>& fn) {
  std::lock_guard lock(shared_->mu);
  sql::Database& db = shared_->db;
  return db.Transaction([&] { return fn(db); });
}

Status SiteDatabase::Audit(sql::Database& db, TimePoint now, const std::string& action,
                           const std::string& detail) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db.Prepare("INSERT INTO audit_log (at, action, detail) VALUES (?1, ?2, ?3)"));
  return st.Bind(1, ToUnixSeconds(now)).Bind(2, action).Bind(3, detail).Run();
}

Result<SiteCounts> SiteDatabase::Counts() {
  return Locked([](sql::Database& db) -> Result<SiteCounts> {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare("SELECT (SELECT COUNT(*) FROM services), (SELECT COUNT(*) FROM nodes "
                            "WHERE evicted_at IS NULL), (SELECT COUNT(*) FROM instances), "
                            "(SELECT COUNT(*) FROM issued), (SELECT last_sequence FROM feed)"));
    SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
    SiteCounts c;
    if (!row) return c;
    c.services = static_cast<uint64_t>(st.ColumnInt(0));
    c.nodes = static_cast<uint64_t>(st.ColumnInt(1));
    c.instances = static_cast<uint64_t>(st.ColumnInt(2));
    c.issued = static_cast<uint64_t>(st.ColumnInt(3));
    c.last_revocation_sequence = static_cast<uint64_t>(st.ColumnInt(4));
    return c;
  });
}

}  // namespace sitechain::slsm
