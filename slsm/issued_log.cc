#include "slsm/issued_log.h"

#include "storage/sql_rows.h"

namespace sitechain::slsm {
namespace {

// Inside a transaction: the log line, and the holder's newest certificate.
Status InsertIssued(sql::Database& db, const IssuedRecord& r) {
  SITECHAIN_ASSIGN_OR_RETURN(
      auto st, db.Prepare("INSERT INTO issued (serial, kind, subject, node, service, "
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
        db.Prepare("UPDATE instances SET certificate_serial = ?1, certificate_not_after = ?2 "
                   "WHERE service = ?3 AND node = ?4"));
    return inst.Bind(1, r.serial)
        .Bind(2, ToUnixSeconds(r.not_after))
        .Bind(3, r.service)
        .Bind(4, r.node)
        .Run();
  }
  SITECHAIN_ASSIGN_OR_RETURN(
      auto node, db.Prepare("UPDATE nodes SET certificate_serial = ?1, certificate_not_after = ?2 "
                            "WHERE name = ?3"));
  return node.Bind(1, r.serial).Bind(2, ToUnixSeconds(r.not_after)).Bind(3, r.node).Run();
}

}  // namespace

Status IssuedLog::LogIssued(const IssuedRecord& r) {
  return db_.Transaction([&](sql::Database& db) { return InsertIssued(db, r); });
}

Status IssuedLog::LogIssuedAll(const std::vector<IssuedRecord>& issued) {
  if (issued.empty()) return Status::Ok();
  return db_.Transaction([&](sql::Database& db) -> Status {
    for (const auto& r : issued) SITECHAIN_RETURN_IF_ERROR(InsertIssued(db, r));
    return Status::Ok();
  });
}

Result<std::vector<IssuedRecord>> IssuedLog::ListIssued(uint32_t limit) {
  return db_.Locked([&](sql::Database& db) -> Result<std::vector<IssuedRecord>> {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare("SELECT serial, kind, subject, node, service, not_after, issued_at "
                            "FROM issued ORDER BY issued_at DESC, rowid DESC LIMIT ?1"));
    st.Bind(1, static_cast<int64_t>(limit));
    return sql::All<IssuedRecord>(st, [](const sql::Statement& s) {
      return IssuedRecord{s.ColumnText(0),      s.ColumnText(1), s.ColumnText(2),
                          s.ColumnText(3),      s.ColumnText(4), sql::ColumnTime(s, 5),
                          sql::ColumnTime(s, 6)};
    });
  });
}

}  // namespace sitechain::slsm
