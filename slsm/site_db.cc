#include "slsm/site_db.h"

namespace sitechain::slsm {
namespace {

// migrations[i] takes the schema from version i to i+1. Never edit a shipped entry: append.
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
)sql"};
  return *migrations;
}

std::optional<TimePoint> OptionalTime(const sql::Statement& st, int column) {
  if (st.ColumnIsNull(column)) return std::nullopt;
  return FromUnixSeconds(st.ColumnInt(column));
}

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
  r.installed_at = FromUnixSeconds(st.ColumnInt(12));
  r.revoked = st.ColumnInt(13) != 0;
  r.revocation_reason = st.ColumnText(14);
  return r;
}

constexpr const char* kNodeSelect =
    "SELECT name, key_fingerprint, certificate_serial, certificate_not_after, enrolled_at, "
    "last_seen, evicted_at FROM nodes ";

NodeRecord ReadNode(const sql::Statement& st) {
  NodeRecord n;
  n.name = st.ColumnText(0);
  n.key_fingerprint = st.ColumnText(1);
  n.certificate_serial = st.ColumnText(2);
  n.certificate_not_after = FromUnixSeconds(st.ColumnInt(3));
  n.enrolled_at = FromUnixSeconds(st.ColumnInt(4));
  n.last_seen = OptionalTime(st, 5);
  n.evicted_at = OptionalTime(st, 6);
  return n;
}

constexpr const char* kInstanceSelect =
    "SELECT service, node, deployed_at, certificate_serial, certificate_not_after, node_state, "
    "node_detail FROM instances ";

InstanceRecord ReadInstance(const sql::Statement& st) {
  InstanceRecord i;
  i.service = st.ColumnText(0);
  i.node = st.ColumnText(1);
  i.deployed_at = FromUnixSeconds(st.ColumnInt(2));
  i.certificate_serial = st.ColumnText(3);
  i.certificate_not_after = OptionalTime(st, 4);
  i.node_state = st.ColumnText(5);
  i.node_detail = st.ColumnText(6);
  return i;
}

// Steps a prepared single-row query: the row's record, or NOT_FOUND with `what`.
template <typename T, typename Reader>
Result<T> One(sql::Statement& st, Reader read, const std::string& what) {
  SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound(what);
  return read(st);
}

template <typename T, typename Reader>
Result<std::vector<T>> All(sql::Statement& st, Reader read) {
  std::vector<T> out;
  while (true) {
    SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(read(st));
  }
}

}  // namespace

Result<SiteDatabase> SiteDatabase::Open(const std::string& path) {
  SITECHAIN_ASSIGN_OR_RETURN(sql::Database db, sql::Database::Open(path));
  SITECHAIN_RETURN_IF_ERROR(db.Migrate(Migrations()));
  return SiteDatabase(std::move(db));
}

Status SiteDatabase::Audit(TimePoint now, const std::string& action, const std::string& detail) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("INSERT INTO audit_log (at, action, detail) VALUES (?1, ?2, ?3)"));
  return st.Bind(1, ToUnixSeconds(now)).Bind(2, action).Bind(3, detail).Run();
}

// --- releases and services -------------------------------------------------------------------

Result<ReleaseRecord> SiteDatabase::InsertRelease(const ReleaseRecord& r, TimePoint now) {
  int64_t id = 0;
  Status tx = db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto insert,
        db_.Prepare("INSERT INTO releases (name, version, release_counter, developer, "
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
    id = db_.LastInsertRowId();
    // The service follows its highest installed release.
    SITECHAIN_ASSIGN_OR_RETURN(
        auto upsert,
        db_.Prepare("INSERT INTO services (name, release_id, policy_json, updated_at) "
                    "VALUES (?1, ?2, '{}', ?3) ON CONFLICT (name) DO UPDATE SET "
                    "release_id = excluded.release_id, updated_at = excluded.updated_at "
                    "WHERE (SELECT release_counter FROM releases WHERE id = services.release_id) "
                    "< ?4"));
    SITECHAIN_RETURN_IF_ERROR(upsert.Bind(1, r.name)
                                  .Bind(2, id)
                                  .Bind(3, ToUnixSeconds(now))
                                  .Bind(4, static_cast<int64_t>(r.release_counter))
                                  .Run());
    return Audit(now, "install",
                 r.name + " " + r.version + " counter " + std::to_string(r.release_counter) + " " +
                     r.digest_algorithm + ":" + r.digest);
  });
  SITECHAIN_RETURN_IF_ERROR(tx);
  return FindReleaseById(id);
}

Result<ReleaseRecord> SiteDatabase::FindRelease(const std::string& name,
                                                const std::string& version) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare(std::string(kReleaseSelect) + "WHERE name = ?1 AND version = ?2"));
  st.Bind(1, name).Bind(2, version);
  return One<ReleaseRecord>(
      st, ReadRelease,
      name + " " + version + " is not installed (slsm install " + name + " " + version + ")");
}

Result<ReleaseRecord> SiteDatabase::FindReleaseById(int64_t id) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string(kReleaseSelect) + "WHERE id = ?1"));
  st.Bind(1, id);
  return One<ReleaseRecord>(st, ReadRelease, "no installed release has id " + std::to_string(id));
}

Result<uint64_t> SiteDatabase::HighestReleaseCounter(const std::string& name) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("SELECT COALESCE(MAX(release_counter), 0) FROM releases WHERE name = ?1"));
  st.Bind(1, name);
  SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<uint64_t>(st.ColumnInt(0)) : 0;
}

Result<std::vector<ReleaseRecord>> SiteDatabase::ListReleases() {
  SITECHAIN_ASSIGN_OR_RETURN(auto st,
                             db_.Prepare(std::string(kReleaseSelect) + "ORDER BY name, id"));
  return All<ReleaseRecord>(st, ReadRelease);
}

Result<std::vector<std::string>> SiteDatabase::ReferencedBlobs() {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT DISTINCT blob FROM releases"));
  return All<std::string>(st, [](const sql::Statement& s) { return s.ColumnText(0); });
}

Result<bool> SiteDatabase::MarkReleaseRevoked(const std::string& name, const std::string& version,
                                              const std::string& reason, TimePoint now) {
  bool changed = false;
  Status tx = db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db_.Prepare("UPDATE releases SET revoked_at = ?1, revocation_reason = ?2 "
                             "WHERE name = ?3 AND version = ?4 AND revoked_at IS NULL"));
    SITECHAIN_RETURN_IF_ERROR(
        st.Bind(1, ToUnixSeconds(now)).Bind(2, reason).Bind(3, name).Bind(4, version).Run());
    changed = db_.Changes() > 0;
    if (!changed) return Status::Ok();
    return Audit(now, "release-revoked", name + " " + version + ": " + reason);
  });
  SITECHAIN_RETURN_IF_ERROR(tx);
  return changed;
}

Result<int> SiteDatabase::MarkDeveloperRevoked(const std::string& developer,
                                               const std::string& reason, TimePoint now) {
  int changed = 0;
  Status tx = db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db_.Prepare("UPDATE releases SET revoked_at = ?1, revocation_reason = ?2 "
                             "WHERE developer = ?3 AND revoked_at IS NULL"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, ToUnixSeconds(now))
                                  .Bind(2, "developer revoked: " + reason)
                                  .Bind(3, developer)
                                  .Run());
    changed = db_.Changes();
    if (changed == 0) return Status::Ok();
    return Audit(now, "developer-revoked", developer + ": " + reason);
  });
  SITECHAIN_RETURN_IF_ERROR(tx);
  return changed;
}

Result<uint64_t> SiteDatabase::LastFeedSequence() {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT last_sequence FROM feed WHERE id = 1"));
  SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<uint64_t>(st.ColumnInt(0)) : 0;
}

Status SiteDatabase::SetLastFeedSequence(uint64_t sequence) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("UPDATE feed SET last_sequence = ?1 WHERE id = 1 AND last_sequence < ?1"));
  return st.Bind(1, static_cast<int64_t>(sequence)).Run();
}

Result<ServiceRecord> SiteDatabase::FindService(const std::string& name) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare(
          "SELECT name, release_id, policy_json, updated_at FROM services WHERE name = ?1"));
  st.Bind(1, name);
  return One<ServiceRecord>(
      st,
      [](const sql::Statement& s) {
        return ServiceRecord{s.ColumnText(0), s.ColumnInt(1), s.ColumnText(2),
                             FromUnixSeconds(s.ColumnInt(3))};
      },
      "no service '" + name + "' is installed (slsm install " + name + ")");
}

Result<std::vector<ServiceRecord>> SiteDatabase::ListServices() {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("SELECT name, release_id, policy_json, updated_at FROM services ORDER BY name"));
  return All<ServiceRecord>(st, [](const sql::Statement& s) {
    return ServiceRecord{s.ColumnText(0), s.ColumnInt(1), s.ColumnText(2),
                         FromUnixSeconds(s.ColumnInt(3))};
  });
}

Status SiteDatabase::SetPolicy(const std::string& service, const std::string& policy_json,
                               TimePoint now) {
  return db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db_.Prepare("UPDATE services SET policy_json = ?1, updated_at = ?2 WHERE name = ?3"));
    SITECHAIN_RETURN_IF_ERROR(
        st.Bind(1, policy_json).Bind(2, ToUnixSeconds(now)).Bind(3, service).Run());
    if (db_.Changes() == 0) return NotFound("no service '" + service + "' is installed");
    return Audit(now, "policy", service + " " + policy_json);
  });
}

// --- join tokens -----------------------------------------------------------------------------

Status SiteDatabase::InsertJoinToken(const JoinTokenRecord& t, TimePoint now) {
  return db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db_.Prepare("INSERT INTO join_tokens (id, hash, node, created_at, expires_at) "
                             "VALUES (?1, ?2, ?3, ?4, ?5)"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, t.id)
                                  .Bind(2, t.hash)
                                  .Bind(3, t.node)
                                  .Bind(4, ToUnixSeconds(t.created_at))
                                  .Bind(5, ToUnixSeconds(t.expires_at))
                                  .Run());
    return Audit(now, "join-token", t.id + " for node " + t.node);
  });
}

Result<JoinTokenRecord> SiteDatabase::FindJoinTokenByHash(const std::string& hash) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("SELECT id, hash, node, created_at, expires_at, used_at FROM "
                           "join_tokens WHERE hash = ?1"));
  st.Bind(1, hash);
  return One<JoinTokenRecord>(
      st,
      [](const sql::Statement& s) {
        return JoinTokenRecord{s.ColumnText(0),
                               s.ColumnText(1),
                               s.ColumnText(2),
                               FromUnixSeconds(s.ColumnInt(3)),
                               FromUnixSeconds(s.ColumnInt(4)),
                               OptionalTime(s, 5)};
      },
      "unknown join token");
}

// --- nodes -----------------------------------------------------------------------------------

Status SiteDatabase::EnrollNode(const NodeRecord& n, const std::string& token_id, TimePoint now) {
  return db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto use, db_.Prepare("UPDATE join_tokens SET used_at = ?1 WHERE id = ?2 AND used_at IS "
                              "NULL"));
    SITECHAIN_RETURN_IF_ERROR(use.Bind(1, ToUnixSeconds(now)).Bind(2, token_id).Run());
    if (db_.Changes() != 1) return Unauthenticated("the join token has already been used");
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db_.Prepare("INSERT INTO nodes (name, key_fingerprint, certificate_serial, "
                    "certificate_not_after, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT (name) DO UPDATE SET key_fingerprint = excluded.key_fingerprint, "
                    "certificate_serial = excluded.certificate_serial, certificate_not_after = "
                    "excluded.certificate_not_after, enrolled_at = excluded.enrolled_at, "
                    "evicted_at = NULL"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, n.name)
                                  .Bind(2, n.key_fingerprint)
                                  .Bind(3, n.certificate_serial)
                                  .Bind(4, ToUnixSeconds(n.certificate_not_after))
                                  .Bind(5, ToUnixSeconds(n.enrolled_at))
                                  .Run());
    return Audit(now, "enroll", n.name + " token " + token_id + " serial " + n.certificate_serial);
  });
}

Result<NodeRecord> SiteDatabase::FindNode(const std::string& name) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string(kNodeSelect) + "WHERE name = ?1"));
  st.Bind(1, name);
  return One<NodeRecord>(st, ReadNode, "node '" + name + "' has not enrolled");
}

Result<std::vector<NodeRecord>> SiteDatabase::ListNodes() {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string(kNodeSelect) + "ORDER BY name"));
  return All<NodeRecord>(st, ReadNode);
}

Status SiteDatabase::UpdateNodeCertificate(const std::string& node, const std::string& serial,
                                           TimePoint not_after) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("UPDATE nodes SET certificate_serial = ?1, certificate_not_after = ?2 "
                           "WHERE name = ?3"));
  return st.Bind(1, serial).Bind(2, ToUnixSeconds(not_after)).Bind(3, node).Run();
}

Status SiteDatabase::TouchNode(const std::string& node, TimePoint now) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st,
                             db_.Prepare("UPDATE nodes SET last_seen = ?1 WHERE name = ?2"));
  return st.Bind(1, ToUnixSeconds(now)).Bind(2, node).Run();
}

Status SiteDatabase::EvictNode(const std::string& node, TimePoint now) {
  return db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db_.Prepare("UPDATE nodes SET evicted_at = ?1 WHERE name = ?2 AND evicted_at IS NULL"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, ToUnixSeconds(now)).Bind(2, node).Run());
    if (db_.Changes() == 0) {
      SITECHAIN_RETURN_IF_ERROR(FindNode(node).status());
      return FailedPrecondition("node '" + node + "' is already evicted");
    }
    SITECHAIN_ASSIGN_OR_RETURN(auto del, db_.Prepare("DELETE FROM instances WHERE node = ?1"));
    SITECHAIN_RETURN_IF_ERROR(del.Bind(1, node).Run());
    return Audit(now, "evict", node);
  });
}

// --- instances -------------------------------------------------------------------------------

Status SiteDatabase::InsertInstance(const std::string& service, const std::string& node,
                                    TimePoint now) {
  return db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db_.Prepare("INSERT INTO instances (service, node, deployed_at) VALUES (?1, ?2, ?3)"));
    Status s = st.Bind(1, service).Bind(2, node).Bind(3, ToUnixSeconds(now)).Run();
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists(service + " is already deployed to " + node);
    }
    SITECHAIN_RETURN_IF_ERROR(s);
    return Audit(now, "deploy", service + " to " + node);
  });
}

Status SiteDatabase::DeleteInstance(const std::string& service, const std::string& node,
                                    TimePoint now) {
  return db_.Transaction([&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db_.Prepare("DELETE FROM instances WHERE service = ?1 AND node = ?2"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, service).Bind(2, node).Run());
    if (db_.Changes() == 0) return NotFound(service + " is not deployed to " + node);
    return Audit(now, "undeploy", service + " from " + node);
  });
}

Result<InstanceRecord> SiteDatabase::FindInstance(const std::string& service,
                                                  const std::string& node) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare(std::string(kInstanceSelect) + "WHERE service = ?1 AND node = ?2"));
  st.Bind(1, service).Bind(2, node);
  return One<InstanceRecord>(st, ReadInstance,
                             "service '" + service + "' is not deployed to node '" + node + "'");
}

Result<std::vector<InstanceRecord>> SiteDatabase::ListInstances(const std::string& service,
                                                                const std::string& node) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare(std::string(kInstanceSelect) +
                           "WHERE (?1 = '' OR service = ?1) AND (?2 = '' OR node = ?2) "
                           "ORDER BY service, node"));
  st.Bind(1, service).Bind(2, node);
  return All<InstanceRecord>(st, ReadInstance);
}

Status SiteDatabase::SetInstanceState(const std::string& service, const std::string& node,
                                      const std::string& state, const std::string& detail) {
  // Unchanged rows are not written (nothing to commit).
  SITECHAIN_ASSIGN_OR_RETURN(auto st,
                             db_.Prepare("UPDATE instances SET node_state = ?1, node_detail = ?2 "
                                         "WHERE service = ?3 AND node = ?4 AND "
                                         "(node_state IS NOT ?1 OR node_detail IS NOT ?2)"));
  return st.Bind(1, state).Bind(2, detail).Bind(3, service).Bind(4, node).Run();
}

Status SiteDatabase::SetInstanceStates(const std::string& node,
                                       const std::vector<InstanceState>& states) {
  if (states.empty()) return Status::Ok();
  return db_.Transaction([&]() -> Status {
    for (const auto& s : states) {
      SITECHAIN_RETURN_IF_ERROR(SetInstanceState(s.service, node, s.state, s.detail));
    }
    return Status::Ok();
  });
}

// --- issuance log ----------------------------------------------------------------------------

Status SiteDatabase::LogIssued(const IssuedRecord& r) {
  return db_.Transaction([&] { return InsertIssued(r); });
}

Status SiteDatabase::LogIssuedAll(const std::vector<IssuedRecord>& issued) {
  if (issued.empty()) return Status::Ok();
  return db_.Transaction([&]() -> Status {
    for (const auto& r : issued) SITECHAIN_RETURN_IF_ERROR(InsertIssued(r));
    return Status::Ok();
  });
}

Status SiteDatabase::InsertIssued(const IssuedRecord& r) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("INSERT INTO issued (serial, kind, subject, node, service, "
                           "not_after, issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  SITECHAIN_RETURN_IF_ERROR(st.Bind(1, r.serial)
                                .Bind(2, r.kind)
                                .Bind(3, r.subject)
                                .Bind(4, r.node)
                                .Bind(5, r.service)
                                .Bind(6, ToUnixSeconds(r.not_after))
                                .Bind(7, ToUnixSeconds(r.issued_at))
                                .Run());
  if (r.kind == "site") {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto inst,
        db_.Prepare("UPDATE instances SET certificate_serial = ?1, certificate_not_after = ?2 "
                    "WHERE service = ?3 AND node = ?4"));
    SITECHAIN_RETURN_IF_ERROR(inst.Bind(1, r.serial)
                                  .Bind(2, ToUnixSeconds(r.not_after))
                                  .Bind(3, r.service)
                                  .Bind(4, r.node)
                                  .Run());
  } else {
    SITECHAIN_RETURN_IF_ERROR(UpdateNodeCertificate(r.node, r.serial, r.not_after));
  }
  return Status::Ok();
}

Result<std::vector<IssuedRecord>> SiteDatabase::ListIssued(uint32_t limit) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("SELECT serial, kind, subject, node, service, not_after, issued_at "
                           "FROM issued ORDER BY issued_at DESC, rowid DESC LIMIT ?1"));
  st.Bind(1, static_cast<int64_t>(limit));
  return All<IssuedRecord>(st, [](const sql::Statement& s) {
    return IssuedRecord{s.ColumnText(0),
                        s.ColumnText(1),
                        s.ColumnText(2),
                        s.ColumnText(3),
                        s.ColumnText(4),
                        FromUnixSeconds(s.ColumnInt(5)),
                        FromUnixSeconds(s.ColumnInt(6))};
  });
}

Result<SiteCounts> SiteDatabase::Counts() {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("SELECT (SELECT COUNT(*) FROM services), (SELECT COUNT(*) FROM nodes "
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
}

}  // namespace sitechain::slsm
