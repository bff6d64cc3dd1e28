#include "slsm/enrollment_db.h"

#include "storage/sql_rows.h"

namespace sitechain::slsm {
namespace {

using sql::ColumnTime;
using sql::OptionalTime;

constexpr const char* kNodeSelect =
    "SELECT name, key_fingerprint, certificate_serial, certificate_not_after, enrolled_at, "
    "last_seen, evicted_at FROM nodes ";

NodeRecord ReadNode(const sql::Statement& st) {
  NodeRecord n;
  n.name = st.ColumnText(0);
  n.key_fingerprint = st.ColumnText(1);
  n.certificate_serial = st.ColumnText(2);
  n.certificate_not_after = ColumnTime(st, 3);
  n.enrolled_at = ColumnTime(st, 4);
  n.last_seen = OptionalTime(st, 5);
  n.evicted_at = OptionalTime(st, 6);
  return n;
}

Result<NodeRecord> FindNodeIn(sql::Database& db, const std::string& name) {
  SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare(std::string(kNodeSelect) + "WHERE name = ?1"));
  st.Bind(1, name);
  return sql::One<NodeRecord>(st, ReadNode, "node '" + name + "' has not enrolled");
}

}  // namespace

Status EnrollmentDb::InsertJoinToken(const JoinTokenRecord& t, TimePoint now) {
  return db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare("INSERT INTO join_tokens (id, hash, node, created_at, expires_at) "
                            "VALUES (?1, ?2, ?3, ?4, ?5)"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, t.id)
                                  .Bind(2, t.hash)
                                  .Bind(3, t.node)
                                  .Bind(4, ToUnixSeconds(t.created_at))
                                  .Bind(5, ToUnixSeconds(t.expires_at))
                                  .Run());
    return SiteDatabase::Audit(db, now, "join-token", t.id + " for node " + t.node);
  });
}

Result<JoinTokenRecord> EnrollmentDb::FindJoinTokenByHash(const std::string& hash) {
  return db_.Locked([&](sql::Database& db) -> Result<JoinTokenRecord> {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare("SELECT id, hash, node, created_at, expires_at, used_at FROM "
                            "join_tokens WHERE hash = ?1"));
    st.Bind(1, hash);
    return sql::One<JoinTokenRecord>(
        st,
        [](const sql::Statement& s) {
          return JoinTokenRecord{s.ColumnText(0),  s.ColumnText(1),  s.ColumnText(2),
                                 ColumnTime(s, 3), ColumnTime(s, 4), OptionalTime(s, 5)};
        },
        "unknown join token");
  });
}

Status EnrollmentDb::EnrollNode(const NodeRecord& n, const std::string& token_id, TimePoint now) {
  return db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto use, db.Prepare("UPDATE join_tokens SET used_at = ?1 WHERE id = ?2 AND used_at IS "
                             "NULL"));
    SITECHAIN_RETURN_IF_ERROR(use.Bind(1, ToUnixSeconds(now)).Bind(2, token_id).Run());
    if (db.Changes() != 1) return Unauthenticated("the join token has already been used");
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db.Prepare("INSERT INTO nodes (name, key_fingerprint, certificate_serial, "
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
    return SiteDatabase::Audit(db, now, "enroll",
                               n.name + " token " + token_id + " serial " + n.certificate_serial);
  });
}

Result<NodeRecord> EnrollmentDb::FindNode(const std::string& name) {
  return db_.Locked([&](sql::Database& db) { return FindNodeIn(db, name); });
}

Result<std::vector<NodeRecord>> EnrollmentDb::ListNodes() {
  return db_.Locked([&](sql::Database& db) -> Result<std::vector<NodeRecord>> {
    SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare(std::string(kNodeSelect) + "ORDER BY name"));
    return sql::All<NodeRecord>(st, ReadNode);
  });
}

Status EnrollmentDb::TouchNode(const std::string& node, TimePoint now) {
  return db_.Locked([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(auto st,
                               db.Prepare("UPDATE nodes SET last_seen = ?1 WHERE name = ?2"));
    return st.Bind(1, ToUnixSeconds(now)).Bind(2, node).Run();
  });
}

Status EnrollmentDb::EvictNode(const std::string& node, TimePoint now) {
  return db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db.Prepare("UPDATE nodes SET evicted_at = ?1 WHERE name = ?2 AND evicted_at IS NULL"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, ToUnixSeconds(now)).Bind(2, node).Run());
    if (db.Changes() == 0) {
      SITECHAIN_RETURN_IF_ERROR(FindNodeIn(db, node).status());
      return FailedPrecondition("node '" + node + "' is already evicted");
    }
    SITECHAIN_ASSIGN_OR_RETURN(auto del, db.Prepare("DELETE FROM instances WHERE node = ?1"));
    SITECHAIN_RETURN_IF_ERROR(del.Bind(1, node).Run());
    return SiteDatabase::Audit(db, now, "evict", node);
  });
}

}  // namespace sitechain::slsm
