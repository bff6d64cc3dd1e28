#include "slsm/catalog_db.h"

#include "storage/sql_rows.h"

namespace sitechain::slsm {
namespace {

using sql::ColumnTime;

constexpr const char* kReleaseSelect =
    "SELECT id, name, version, release_counter, developer, digest_algorithm, digest, size, blob, "
    "cert_dev_pem, cert_store_pem, developer_certificate_pem, installed_at, "
    "revoked_at IS NOT NULL, revocation_reason FROM releases ";

ReleaseRecord ReadRelease(const sql::Statement& st) {
  ReleaseRecord r;
  r.id = st.ColumnInt(0);
  r.name = st.ColumnText(1);
  r.version = st.ColumnText(2);
  r.release_counter = static_cast<uint64_t>(st.ColumnInt(3));
  r.developer = st.ColumnText(4);
  r.digest_algorithm = st.ColumnText(5);
  r.digest = st.ColumnText(6);
  r.size = static_cast<uint64_t>(st.ColumnInt(7));
  r.blob = st.ColumnText(8);
  r.cert_dev_pem = st.ColumnText(9);
  r.cert_store_pem = st.ColumnText(10);
  r.developer_certificate_pem = st.ColumnText(11);
  r.installed_at = ColumnTime(st, 12);
  r.revoked = st.ColumnInt(13) != 0;
  r.revocation_reason = st.ColumnText(14);
  return r;
}

constexpr const char* kServiceSelect =
    "SELECT name, release_id, policy_json, updated_at FROM services ";

ServiceRecord ReadService(const sql::Statement& s) {
  return ServiceRecord{s.ColumnText(0), s.ColumnInt(1), s.ColumnText(2), ColumnTime(s, 3)};
}

Result<ReleaseRecord> FindReleaseByIdIn(sql::Database& db, int64_t id) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare(std::string(kReleaseSelect) + "WHERE id = ?1"));
  st.Bind(1, id);
  return sql::One<ReleaseRecord>(st, ReadRelease,
                                 "no installed release has id " + std::to_string(id));
}

Result<ServiceRecord> FindServiceIn(sql::Database& db, const std::string& name) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare(std::string(kServiceSelect) + "WHERE name = ?1"));
  st.Bind(1, name);
  return sql::One<ServiceRecord>(
      st, ReadService, "no service '" + name + "' is installed (slsm install " + name + ")");
}

}  // namespace

Result<ReleaseRecord> CatalogDb::InsertRelease(const ReleaseRecord& r, TimePoint now) {
  int64_t id = 0;
  Status tx = db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto insert,
        db.Prepare("INSERT INTO releases (name, version, release_counter, developer, "
                   "digest_algorithm, digest, size, blob, cert_dev_pem, cert_store_pem, "
                   "developer_certificate_pem, installed_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
    Status s = insert.Bind(1, r.name)
                   .Bind(2, r.version)
                   .Bind(3, static_cast<int64_t>(r.release_counter))
                   .Bind(4, r.developer)
                   .Bind(5, r.digest_algorithm)
                   .Bind(6, r.digest)
                   .Bind(7, static_cast<int64_t>(r.size))
                   .Bind(8, r.blob)
                   .Bind(9, r.cert_dev_pem)
                   .Bind(10, r.cert_store_pem)
                   .Bind(11, r.developer_certificate_pem)
                   .Bind(12, ToUnixSeconds(now))
                   .Run();
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists(r.name + " " + r.version + " is already installed");
    }
    SITECHAIN_RETURN_IF_ERROR(s);
    id = db.LastInsertRowId();
    // The service follows its highest installed release.
    SITECHAIN_ASSIGN_OR_RETURN(
        auto upsert,
        db.Prepare("INSERT INTO services (name, release_id, policy_json, updated_at) "
                   "VALUES (?1, ?2, '{}', ?3) ON CONFLICT (name) DO UPDATE SET "
                   "release_id = excluded.release_id, updated_at = excluded.updated_at "
                   "WHERE (SELECT release_counter FROM releases WHERE id = services.release_id) "
                   "< ?4"));
    SITECHAIN_RETURN_IF_ERROR(upsert.Bind(1, r.name)
                                  .Bind(2, id)
                                  .Bind(3, ToUnixSeconds(now))
                                  .Bind(4, static_cast<int64_t>(r.release_counter))
                                  .Run());
    return SiteDatabase::Audit(db, now, "install",
                               r.name + " " + r.version + " counter " +
                                   std::to_string(r.release_counter) + " " + r.digest_algorithm +
                                   ":" + r.digest);
  });
  SITECHAIN_RETURN_IF_ERROR(tx);
  return FindReleaseById(id);
}

Result<ReleaseRecord> CatalogDb::FindRelease(const std::string& name, const std::string& version) {
  return db_.Locked([&](sql::Database& db) -> Result<ReleaseRecord> {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare(std::string(kReleaseSelect) + "WHERE name = ?1 AND version = ?2"));
    st.Bind(1, name).Bind(2, version);
    return sql::One<ReleaseRecord>(
        st, ReadRelease,
        name + " " + version + " is not installed (slsm install " + name + " " + version + ")");
  });
}

Result<ReleaseRecord> CatalogDb::FindReleaseById(int64_t id) {
  return db_.Locked([&](sql::Database& db) { return FindReleaseByIdIn(db, id); });
}

Result<uint64_t> CatalogDb::HighestReleaseCounter(const std::string& name) {
  return db_.Locked([&](sql::Database& db) -> Result<uint64_t> {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db.Prepare("SELECT COALESCE(MAX(release_counter), 0) FROM releases WHERE name = ?1"));
    st.Bind(1, name);
    SITECHAIN_ASSIGN_OR_RETURN(int64_t highest, sql::FirstInt(st, 0));
    return static_cast<uint64_t>(highest);
  });
}

Result<std::vector<ReleaseRecord>> CatalogDb::ListReleases() {
  return db_.Locked([&](sql::Database& db) -> Result<std::vector<ReleaseRecord>> {
    SITECHAIN_ASSIGN_OR_RETURN(auto st,
                               db.Prepare(std::string(kReleaseSelect) + "ORDER BY name, id"));
    return sql::All<ReleaseRecord>(st, ReadRelease);
  });
}

Result<std::vector<std::string>> CatalogDb::ReferencedBlobs() {
  return db_.Locked([&](sql::Database& db) -> Result<std::vector<std::string>> {
    SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT DISTINCT blob FROM releases"));
    return sql::All<std::string>(st, [](const sql::Statement& s) { return s.ColumnText(0); });
  });
}

Result<bool> CatalogDb::MarkReleaseRevoked(const std::string& name, const std::string& version,
                                           const std::string& reason, TimePoint now) {
  bool changed = false;
  Status tx = db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare("UPDATE releases SET revoked_at = ?1, revocation_reason = ?2 "
                            "WHERE name = ?3 AND version = ?4 AND revoked_at IS NULL"));
    SITECHAIN_RETURN_IF_ERROR(
        st.Bind(1, ToUnixSeconds(now)).Bind(2, reason).Bind(3, name).Bind(4, version).Run());
    changed = db.Changes() > 0;
    if (!changed) return Status::Ok();
    return SiteDatabase::Audit(db, now, "release-revoked", name + " " + version + ": " + reason);
  });
  SITECHAIN_RETURN_IF_ERROR(tx);
  return changed;
}

Result<int> CatalogDb::MarkDeveloperRevoked(const std::string& developer, const std::string& reason,
                                            TimePoint now) {
  int changed = 0;
  Status tx = db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare("UPDATE releases SET revoked_at = ?1, revocation_reason = ?2 "
                            "WHERE developer = ?3 AND revoked_at IS NULL"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, ToUnixSeconds(now))
                                  .Bind(2, "developer revoked: " + reason)
                                  .Bind(3, developer)
                                  .Run());
    changed = db.Changes();
    if (changed == 0) return Status::Ok();
    return SiteDatabase::Audit(db, now, "developer-revoked", developer + ": " + reason);
  });
  SITECHAIN_RETURN_IF_ERROR(tx);
  return changed;
}

Result<uint64_t> CatalogDb::LastFeedSequence() {
  return db_.Locked([&](sql::Database& db) -> Result<uint64_t> {
    SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT last_sequence FROM feed WHERE id = 1"));
    SITECHAIN_ASSIGN_OR_RETURN(int64_t last, sql::FirstInt(st, 0));
    return static_cast<uint64_t>(last);
  });
}

Status CatalogDb::SetLastFeedSequence(uint64_t sequence) {
  return db_.Locked([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db.Prepare("UPDATE feed SET last_sequence = ?1 WHERE id = 1 AND last_sequence < ?1"));
    return st.Bind(1, static_cast<int64_t>(sequence)).Run();
  });
}

Result<TimePoint> CatalogDb::FeedConfirmedAt() {
  return db_.Locked([&](sql::Database& db) -> Result<TimePoint> {
    SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT confirmed_at FROM feed WHERE id = 1"));
    SITECHAIN_ASSIGN_OR_RETURN(int64_t at, sql::FirstInt(st, 0));
    return FromUnixSeconds(at);
  });
}

Status CatalogDb::SetFeedConfirmedAt(TimePoint at) {
  return db_.Locked([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db.Prepare("UPDATE feed SET confirmed_at = ?1 WHERE id = 1 AND confirmed_at < ?1"));
    return st.Bind(1, ToUnixSeconds(at)).Run();
  });
}

Result<ServiceRecord> CatalogDb::FindService(const std::string& name) {
  return db_.Locked([&](sql::Database& db) { return FindServiceIn(db, name); });
}

Result<std::vector<ServiceRecord>> CatalogDb::ListServices() {
  return db_.Locked([&](sql::Database& db) -> Result<std::vector<ServiceRecord>> {
    SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare(std::string(kServiceSelect) + "ORDER BY name"));
    return sql::All<ServiceRecord>(st, ReadService);
  });
}

Status CatalogDb::SetPolicy(const std::string& service, const std::string& policy_json,
                            TimePoint now) {
  return db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db.Prepare("UPDATE services SET policy_json = ?1, updated_at = ?2 WHERE name = ?3"));
    SITECHAIN_RETURN_IF_ERROR(
        st.Bind(1, policy_json).Bind(2, ToUnixSeconds(now)).Bind(3, service).Run());
    if (db.Changes() == 0) return NotFound("no service '" + service + "' is installed");
    return SiteDatabase::Audit(db, now, "policy", service + " " + policy_json);
  });
}

Result<CurrentRelease> CatalogDb::FindCurrent(const std::string& service) {
  return db_.Locked([&](sql::Database& db) -> Result<CurrentRelease> {
    SITECHAIN_ASSIGN_OR_RETURN(ServiceRecord s, FindServiceIn(db, service));
    SITECHAIN_ASSIGN_OR_RETURN(ReleaseRecord r, FindReleaseByIdIn(db, s.release_id));
    return CurrentRelease{std::move(s), std::move(r)};
  });
}

}  // namespace sitechain::slsm
