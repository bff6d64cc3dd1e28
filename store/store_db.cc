#include "store/store_db.h"

#include "storage/sql_rows.h"
#include "store/store_schema.h"

namespace sitechain::store {
namespace {

using sql::ColumnTime;
using sql::OptionalTime;

constexpr const char* kDeveloperColumns =
    "id, name, serial, fingerprint, key_fingerprint, key_type, certificate_pem, registered_at, "
    "not_after, revoked_at, revocation_reason";

DeveloperRecord ReadDeveloper(const sql::Statement& st) {
  DeveloperRecord d;
  d.id = st.ColumnInt(0);
  d.name = st.ColumnText(1);
  d.serial = st.ColumnText(2);
  d.fingerprint = st.ColumnText(3);
  d.key_fingerprint = st.ColumnText(4);
  d.key_type = st.ColumnText(5);
  d.certificate_pem = st.ColumnText(6);
  d.registered_at = ColumnTime(st, 7);
  d.not_after = ColumnTime(st, 8);
  d.revoked_at = OptionalTime(st, 9);
  d.revocation_reason = st.ColumnText(10);
  return d;
}

// A release is revoked when it was revoked itself or its developer was.
constexpr const char* kReleaseSelect =
    "SELECT r.id, r.name, r.version, r.release_counter, r.developer_id, d.name, "
    "r.digest_algorithm, r.digest, r.size, r.blob, r.cert_dev_pem, r.cert_store_pem, "
    "d.certificate_pem, r.published_at, "
    "(r.revoked_at IS NOT NULL OR d.revoked_at IS NOT NULL), "
    "CASE WHEN r.revoked_at IS NOT NULL THEN r.revocation_reason "
    "     WHEN d.revoked_at IS NOT NULL THEN 'developer revoked: ' || d.revocation_reason "
    "     ELSE '' END "
    "FROM releases r JOIN developers d ON d.id = r.developer_id ";
constexpr const char* kReleaseIsLive = "(r.revoked_at IS NULL AND d.revoked_at IS NULL)";

ReleaseRecord ReadRelease(const sql::Statement& st) {
  ReleaseRecord r;
  r.id = st.ColumnInt(0);
  r.name = st.ColumnText(1);
  r.version = st.ColumnText(2);
  r.release_counter = static_cast<uint64_t>(st.ColumnInt(3));
  r.developer_id = st.ColumnInt(4);
  r.developer = st.ColumnText(5);
  r.digest_algorithm = st.ColumnText(6);
  r.digest = st.ColumnText(7);
  r.size = static_cast<uint64_t>(st.ColumnInt(8));
  r.blob = st.ColumnText(9);
  r.cert_dev_pem = st.ColumnText(10);
  r.cert_store_pem = st.ColumnText(11);
  r.developer_certificate_pem = st.ColumnText(12);
  r.published_at = ColumnTime(st, 13);
  r.revoked = st.ColumnInt(14) != 0;
  r.revocation_reason = st.ColumnText(15);
  return r;
}

constexpr const char* kRevocationSelect =
    "SELECT v.sequence, v.kind, d.name, d.serial, COALESCE(r.name, ''), COALESCE(r.version, ''), "
    "COALESCE(r.digest, ''), v.reason, v.revoked_at, v.revoked_by "
    "FROM revocations v JOIN developers d ON d.id = v.developer_id "
    "LEFT JOIN releases r ON r.id = v.release_id ";

RevocationRecord ReadRevocation(const sql::Statement& st) {
  RevocationRecord v;
  v.sequence = static_cast<uint64_t>(st.ColumnInt(0));
  v.kind = st.ColumnText(1) == "developer" ? RevocationRecord::Kind::kDeveloper
                                           : RevocationRecord::Kind::kRelease;
  v.developer = st.ColumnText(2);
  v.developer_serial = st.ColumnText(3);
  v.name = st.ColumnText(4);
  v.version = st.ColumnText(5);
  v.digest = st.ColumnText(6);
  v.reason = st.ColumnText(7);
  v.revoked_at = ColumnTime(st, 8);
  v.revoked_by = st.ColumnText(9);
  return v;
}

TokenRecord ReadToken(const sql::Statement& st) {
  TokenRecord t;
  t.id = st.ColumnText(0);
  t.hash = st.ColumnText(1);
  t.note = st.ColumnText(2);
  t.created_at = ColumnTime(st, 3);
  t.expires_at = ColumnTime(st, 4);
  t.used_at = OptionalTime(st, 5);
  t.used_by = st.ColumnText(6);
  return t;
}

std::string ReleaseLabel(const std::string& name, const std::string& version) {
  return name + " " + version;
}

}  // namespace

Result<StoreDatabase> StoreDatabase::Open(const std::string& path) {
  SITECHAIN_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path));
  SITECHAIN_RETURN_IF_ERROR(db.Migrate(StoreMigrations()));
  return StoreDatabase(std::move(db));
}

Status StoreDatabase::Audit(TimePoint now, const std::string& actor, const std::string& action,
                            const std::string& detail) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("INSERT INTO audit_log (at, actor, action, detail) VALUES (?1,?2,?3,?4)"));
  return st.Bind(1, ToUnixSeconds(now)).Bind(2, actor).Bind(3, action).Bind(4, detail).Run();
}

// --- tokens

Status StoreDatabase::InsertToken(const TokenRecord& token, TimePoint now) {
  return db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(auto st,
                               db_.Prepare("INSERT INTO tokens (id, hash, note, "
                                           "created_at, expires_at) VALUES (?1,?2,?3,?4,?5)"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, token.id)
                                  .Bind(2, token.hash)
                                  .Bind(3, token.note)
                                  .Bind(4, ToUnixSeconds(token.created_at))
                                  .Bind(5, ToUnixSeconds(token.expires_at))
                                  .Run());
    return Audit(now, "admin", "token.create", "id=" + token.id + " note=" + token.note);
  });
}

static constexpr const char* kTokenSelect =
    "SELECT t.id, t.hash, t.note, t.created_at, t.expires_at, t.used_at, COALESCE(d.name, '') "
    "FROM tokens t LEFT JOIN developers d ON d.id = t.used_by ";

Result<TokenRecord> StoreDatabase::FindTokenByHash(const std::string& hash) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string(kTokenSelect) + "WHERE t.hash = ?1"));
  st.Bind(1, hash);
  return sql::One<TokenRecord>(st, ReadToken, "no such registration token");
}

Result<std::vector<TokenRecord>> StoreDatabase::ListTokens() {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare(std::string(kTokenSelect) + "ORDER BY t.created_at, t.id"));
  return sql::All<TokenRecord>(st, ReadToken);
}

// --- developers

Result<int64_t> StoreDatabase::RegisterDeveloper(const DeveloperRecord& d,
                                                 const std::string& token_id, TimePoint now) {
  int64_t id = 0;
  const Status txn = db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto ins, db_.Prepare("INSERT INTO developers (name, serial, fingerprint, key_fingerprint, "
                              "key_type, certificate_pem, registered_at, not_after) "
                              "VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"));
    Status s = ins.Bind(1, d.name)
                   .Bind(2, d.serial)
                   .Bind(3, d.fingerprint)
                   .Bind(4, d.key_fingerprint)
                   .Bind(5, d.key_type)
                   .Bind(6, d.certificate_pem)
                   .Bind(7, ToUnixSeconds(d.registered_at))
                   .Bind(8, ToUnixSeconds(d.not_after))
                   .Run();
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists("a developer named '" + d.name +
                           "' or with this key is already registered");
    }
    SITECHAIN_RETURN_IF_ERROR(s);
    id = db_.LastInsertRowId();
    SITECHAIN_ASSIGN_OR_RETURN(auto use, db_.Prepare("UPDATE tokens SET used_at = ?1, used_by = ?2 "
                                                     "WHERE id = ?3 AND used_at IS NULL"));
    SITECHAIN_RETURN_IF_ERROR(use.Bind(1, ToUnixSeconds(now)).Bind(2, id).Bind(3, token_id).Run());
    if (db_.Changes() != 1) return Unauthenticated("the registration token was already used");
    return Audit(now, "token:" + token_id, "developer.register",
                 "name=" + d.name + " serial=" + d.serial);
  });
  if (!txn.ok()) return txn;
  return id;
}

Result<DeveloperRecord> StoreDatabase::FindDeveloperByFingerprint(const std::string& fingerprint) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("SELECT ") + kDeveloperColumns +
                                                  " FROM developers WHERE fingerprint = ?1"));
  st.Bind(1, fingerprint);
  return sql::One<DeveloperRecord>(st, ReadDeveloper,
                                   "no registered developer has this certificate");
}

Result<DeveloperRecord> StoreDatabase::FindDeveloperByName(const std::string& name) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("SELECT ") + kDeveloperColumns +
                                                  " FROM developers WHERE name = ?1"));
  st.Bind(1, name);
  return sql::One<DeveloperRecord>(st, ReadDeveloper, "no developer named '" + name + "'");
}

Result<bool> StoreDatabase::DeveloperNameOrKeyExists(const std::string& name,
                                                     const std::string& key_fingerprint) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("SELECT 1 FROM developers WHERE name = ?1 OR key_fingerprint = ?2"));
  st.Bind(1, name).Bind(2, key_fingerprint);
  return st.Step();
}

Result<std::vector<DeveloperRecord>> StoreDatabase::ListDevelopers() {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("SELECT ") + kDeveloperColumns +
                                                  " FROM developers ORDER BY id"));
  return sql::All<DeveloperRecord>(st, ReadDeveloper);
}

// --- releases

Status StoreDatabase::CheckPublishable(int64_t developer_id, const std::string& name,
                                       const std::string& version, uint64_t release_counter) {
  // Checked here, in the transaction that records the release, so that a developer revoked
  // while an upload was streaming cannot commit it.
  SITECHAIN_ASSIGN_OR_RETURN(auto developer,
                             db_.Prepare("SELECT name, revoked_at IS NOT NULL, revocation_reason "
                                         "FROM developers WHERE id = ?1"));
  developer.Bind(1, developer_id);
  SITECHAIN_ASSIGN_OR_RETURN(bool known, developer.Step());
  if (!known) return PermissionDenied("the publishing developer is not registered");
  if (developer.ColumnInt(1) != 0) {
    return PermissionDenied("developer '" + developer.ColumnText(0) +
                            "' was revoked: " + developer.ColumnText(2));
  }
  SITECHAIN_ASSIGN_OR_RETURN(
      auto owner, db_.Prepare("SELECT n.developer_id, d.name FROM names n "
                              "JOIN developers d ON d.id = n.developer_id WHERE n.name = ?1"));
  owner.Bind(1, name);
  SITECHAIN_ASSIGN_OR_RETURN(bool owned, owner.Step());
  if (owned && owner.ColumnInt(0) != developer_id) {
    return PermissionDenied("the name '" + name + "' belongs to developer '" + owner.ColumnText(1) +
                            "'; publish under a name of your own");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto versions,
                             db_.Prepare("SELECT MAX(release_counter), "
                                         "SUM(version = ?2) FROM releases WHERE name = ?1"));
  versions.Bind(1, name).Bind(2, version);
  SITECHAIN_ASSIGN_OR_RETURN(bool row, versions.Step());
  if (row && !versions.ColumnIsNull(0)) {
    if (versions.ColumnInt(1) > 0) {
      return AlreadyExists("release " + ReleaseLabel(name, version) +
                           " is already published; versions are immutable, publish a new one");
    }
    const auto highest = static_cast<uint64_t>(versions.ColumnInt(0));
    if (release_counter <= highest) {
      return FailedPrecondition("releaseCounter " + std::to_string(release_counter) + " of " +
                                ReleaseLabel(name, version) + " is not above " +
                                std::to_string(highest) +
                                ", the highest published for that name; sign with a higher "
                                "--release");
    }
  }
  return Status::Ok();
}

Result<int64_t> StoreDatabase::InsertRelease(const ReleaseRecord& r, TimePoint now) {
  int64_t id = 0;
  const Status txn = db_.Transaction([&]() -> Status {
    SITECHAIN_RETURN_IF_ERROR(
        CheckPublishable(r.developer_id, r.name, r.version, r.release_counter));
    SITECHAIN_ASSIGN_OR_RETURN(
        auto claim, db_.Prepare("INSERT OR IGNORE INTO names (name, developer_id) VALUES (?1,?2)"));
    SITECHAIN_RETURN_IF_ERROR(claim.Bind(1, r.name).Bind(2, r.developer_id).Run());
    SITECHAIN_ASSIGN_OR_RETURN(
        auto ins, db_.Prepare("INSERT INTO releases (name, version, release_counter, developer_id, "
                              "digest_algorithm, digest, size, blob, cert_dev_pem, cert_store_pem, "
                              "published_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"));
    SITECHAIN_RETURN_IF_ERROR(ins.Bind(1, r.name)
                                  .Bind(2, r.version)
                                  .Bind(3, static_cast<int64_t>(r.release_counter))
                                  .Bind(4, r.developer_id)
                                  .Bind(5, r.digest_algorithm)
                                  .Bind(6, r.digest)
                                  .Bind(7, static_cast<int64_t>(r.size))
                                  .Bind(8, r.blob)
                                  .Bind(9, r.cert_dev_pem)
                                  .Bind(10, r.cert_store_pem)
                                  .Bind(11, ToUnixSeconds(r.published_at))
                                  .Run());
    id = db_.LastInsertRowId();
    return Audit(now, "developer:" + r.developer, "release.publish",
                 "name=" + r.name + " version=" + r.version + " counter=" +
                     std::to_string(r.release_counter) + " digest=" + r.digest_algorithm + ":" +
                     r.digest + " size=" + std::to_string(r.size));
  });
  if (!txn.ok()) return txn;
  return id;
}

Result<ReleaseRecord> StoreDatabase::FindRelease(const std::string& name,
                                                 const std::string& version) {
  std::string query = std::string(kReleaseSelect) + "WHERE r.name = ?1 ";
  query += version.empty()
               ? std::string("AND ") + kReleaseIsLive + " ORDER BY r.release_counter DESC LIMIT 1"
               : "AND r.version = ?2";
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(query));
  st.Bind(1, name);
  if (!version.empty()) st.Bind(2, version);
  return sql::One<ReleaseRecord>(st, ReadRelease,
                                 version.empty() ? "no unrevoked release named '" + name + "'"
                                                 : "no release " + ReleaseLabel(name, version));
}

Result<std::vector<ReleaseRecord>> StoreDatabase::ListReleases(const ReleaseFilter& f) {
  std::string query = std::string(kReleaseSelect) +
                      "WHERE (?1 = '' OR r.name = ?1) AND (?2 = '' OR instr(r.name, ?2) > 0) "
                      "AND (?3 = '' OR d.name = ?3) AND (?4 = 0 OR r.id < ?4) ";
  if (!f.include_revoked) query += std::string("AND ") + kReleaseIsLive;
  query += " ORDER BY r.id DESC LIMIT ?5";
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(query));
  st.Bind(1, f.name).Bind(2, f.query).Bind(3, f.developer).Bind(4, f.before_id).Bind(5, f.limit);
  return sql::All<ReleaseRecord>(st, ReadRelease);
}

Result<std::vector<std::string>> StoreDatabase::ReferencedBlobs() {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT DISTINCT blob FROM releases"));
  return sql::All<std::string>(st, [](const sql::Statement& s) { return s.ColumnText(0); });
}

// --- revocations

Result<RevocationRecord> StoreDatabase::InsertRevocation(const RevocationRecord& r,
                                                         int64_t developer_id,
                                                         std::optional<int64_t> release_id) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto ins, db_.Prepare("INSERT INTO revocations (kind, developer_id, release_id, reason, "
                            "revoked_at, revoked_by) VALUES (?1,?2,?3,?4,?5,?6)"));
  ins.Bind(1, r.kind == RevocationRecord::Kind::kDeveloper ? "developer" : "release")
      .Bind(2, developer_id)
      .Bind(4, r.reason)
      .Bind(5, ToUnixSeconds(r.revoked_at))
      .Bind(6, r.revoked_by);
  if (release_id) {
    ins.Bind(3, *release_id);
  } else {
    ins.BindNull(3);
  }
  SITECHAIN_RETURN_IF_ERROR(ins.Run());
  RevocationRecord out = r;
  out.sequence = static_cast<uint64_t>(db_.LastInsertRowId());
  return out;
}

Result<RevocationRecord> StoreDatabase::RevokeRelease(
    const std::string& name, const std::string& version, const std::string& reason,
    const std::string& revoked_by, std::optional<int64_t> only_developer_id, TimePoint now) {
  RevocationRecord result;
  const Status txn = db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(ReleaseRecord release, FindRelease(name, version));
    if (only_developer_id && release.developer_id != *only_developer_id) {
      return PermissionDenied("release " + ReleaseLabel(name, version) + " belongs to developer '" +
                              release.developer + "'; you can only revoke your own releases");
    }
    if (release.revoked) {
      return FailedPrecondition("release " + ReleaseLabel(name, version) + " is already revoked (" +
                                release.revocation_reason + ")");
    }
    SITECHAIN_ASSIGN_OR_RETURN(
        auto upd, db_.Prepare("UPDATE releases SET revoked_at = ?1, revocation_reason = ?2 "
                              "WHERE id = ?3"));
    SITECHAIN_RETURN_IF_ERROR(
        upd.Bind(1, ToUnixSeconds(now)).Bind(2, reason).Bind(3, release.id).Run());
    SITECHAIN_ASSIGN_OR_RETURN(DeveloperRecord dev, FindDeveloperByName(release.developer));
    RevocationRecord r;
    r.kind = RevocationRecord::Kind::kRelease;
    r.developer = dev.name;
    r.developer_serial = dev.serial;
    r.name = release.name;
    r.version = release.version;
    r.digest = release.digest;
    r.reason = reason;
    r.revoked_at = now;
    r.revoked_by = revoked_by;
    SITECHAIN_ASSIGN_OR_RETURN(result, InsertRevocation(r, dev.id, release.id));
    return Audit(now, revoked_by, "release.revoke",
                 "name=" + name + " version=" + release.version + " reason=" + reason);
  });
  if (!txn.ok()) return txn;
  return result;
}

Result<RevocationRecord> StoreDatabase::RevokeDeveloper(const std::string& name,
                                                        const std::string& reason,
                                                        const std::string& revoked_by,
                                                        TimePoint now) {
  RevocationRecord result;
  const Status txn = db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(DeveloperRecord dev, FindDeveloperByName(name));
    if (dev.revoked_at) {
      return FailedPrecondition("developer '" + name + "' is already revoked (" +
                                dev.revocation_reason + ")");
    }
    ReleaseFilter live;
    live.developer = name;
    live.limit = UINT32_MAX;
    SITECHAIN_ASSIGN_OR_RETURN(auto releases, ListReleases(live));
    SITECHAIN_ASSIGN_OR_RETURN(
        auto upd, db_.Prepare("UPDATE developers SET revoked_at = ?1, revocation_reason = ?2 "
                              "WHERE id = ?3"));
    SITECHAIN_RETURN_IF_ERROR(
        upd.Bind(1, ToUnixSeconds(now)).Bind(2, reason).Bind(3, dev.id).Run());
    RevocationRecord r;
    r.kind = RevocationRecord::Kind::kDeveloper;
    r.developer = dev.name;
    r.developer_serial = dev.serial;
    r.reason = reason;
    r.revoked_at = now;
    r.revoked_by = revoked_by;
    SITECHAIN_ASSIGN_OR_RETURN(result, InsertRevocation(r, dev.id, std::nullopt));
    // Oldest first, so that the feed lists them in publication order.
    for (auto it = releases.rbegin(); it != releases.rend(); ++it) {
      SITECHAIN_ASSIGN_OR_RETURN(
          auto rel, db_.Prepare("UPDATE releases SET revoked_at = ?1, revocation_reason = ?2 "
                                "WHERE id = ?3"));
      const std::string why = "developer revoked: " + reason;
      SITECHAIN_RETURN_IF_ERROR(rel.Bind(1, ToUnixSeconds(now)).Bind(2, why).Bind(3, it->id).Run());
      RevocationRecord rr = r;
      rr.kind = RevocationRecord::Kind::kRelease;
      rr.name = it->name;
      rr.version = it->version;
      rr.digest = it->digest;
      rr.reason = why;
      SITECHAIN_RETURN_IF_ERROR(InsertRevocation(rr, dev.id, it->id).status());
    }
    return Audit(
        now, revoked_by, "developer.revoke",
        "name=" + name + " releases=" + std::to_string(releases.size()) + " reason=" + reason);
  });
  if (!txn.ok()) return txn;
  return result;
}

Result<std::vector<RevocationRecord>> StoreDatabase::RevocationsSince(uint64_t after_sequence,
                                                                      uint32_t limit) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string(kRevocationSelect) +
                                                  "WHERE v.sequence > ?1 ORDER BY v.sequence "
                                                  "LIMIT ?2"));
  st.Bind(1, static_cast<int64_t>(after_sequence)).Bind(2, static_cast<int64_t>(limit));
  return sql::All<RevocationRecord>(st, ReadRevocation);
}

Result<uint64_t> StoreDatabase::LastRevocationSequence() {
  SITECHAIN_ASSIGN_OR_RETURN(auto st,
                             db_.Prepare("SELECT COALESCE(MAX(sequence), 0) FROM revocations"));
  SITECHAIN_ASSIGN_OR_RETURN(int64_t last, sql::FirstInt(st, 0));
  return static_cast<uint64_t>(last);
}

Result<StoreStats> StoreDatabase::Stats(TimePoint now) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare(
          "SELECT (SELECT COUNT(*) FROM developers), "
          "(SELECT COUNT(*) FROM developers WHERE revoked_at IS NOT NULL), "
          "(SELECT COUNT(*) FROM releases), "
          "(SELECT COUNT(*) FROM releases WHERE revoked_at IS NOT NULL), "
          "(SELECT COUNT(*) FROM tokens WHERE used_at IS NULL AND expires_at > ?1), "
          "(SELECT COALESCE(SUM(size), 0) FROM (SELECT DISTINCT blob, size FROM releases)), "
          "(SELECT COALESCE(MAX(sequence), 0) FROM revocations), "
          "(SELECT COUNT(*) FROM audit_log)"));
  st.Bind(1, ToUnixSeconds(now));
  SITECHAIN_RETURN_IF_ERROR(st.Step().status());
  StoreStats s;
  s.developers = static_cast<uint64_t>(st.ColumnInt(0));
  s.revoked_developers = static_cast<uint64_t>(st.ColumnInt(1));
  s.releases = static_cast<uint64_t>(st.ColumnInt(2));
  s.revoked_releases = static_cast<uint64_t>(st.ColumnInt(3));
  s.active_tokens = static_cast<uint64_t>(st.ColumnInt(4));
  s.blob_bytes = static_cast<uint64_t>(st.ColumnInt(5));
  s.last_revocation_sequence = static_cast<uint64_t>(st.ColumnInt(6));
  s.audit_entries = static_cast<uint64_t>(st.ColumnInt(7));
  return s;
}

}  // namespace sitechain::store
