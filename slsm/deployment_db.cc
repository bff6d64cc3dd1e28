#include "slsm/deployment_db.h"

#include "storage/sql_rows.h"

namespace sitechain::slsm {
namespace {

constexpr const char* kInstanceSelect =
    "SELECT service, node, deployed_at, certificate_serial, certificate_not_after, node_state, "
    "node_detail FROM instances ";

InstanceRecord ReadInstance(const sql::Statement& st) {
  InstanceRecord i;
  i.service = st.ColumnText(0);
  i.node = st.ColumnText(1);
  i.deployed_at = sql::ColumnTime(st, 2);
  i.certificate_serial = st.ColumnText(3);
  i.certificate_not_after = sql::OptionalTime(st, 4);
  i.node_state = st.ColumnText(5);
  i.node_detail = st.ColumnText(6);
  return i;
}

Status SetInstanceStateIn(sql::Database& db, const std::string& service, const std::string& node,
                          const std::string& state, const std::string& detail) {
  // Unchanged rows are not written (nothing to commit).
  SITECHAIN_ASSIGN_OR_RETURN(auto st,
                             db.Prepare("UPDATE instances SET node_state = ?1, node_detail = ?2 "
                                        "WHERE service = ?3 AND node = ?4 AND "
                                        "(node_state IS NOT ?1 OR node_detail IS NOT ?2)"));
  return st.Bind(1, state).Bind(2, detail).Bind(3, service).Bind(4, node).Run();
}

}  // namespace

Status DeploymentDb::InsertInstance(const std::string& service, const std::string& node,
                                    TimePoint now) {
  return db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st,
        db.Prepare("INSERT INTO instances (service, node, deployed_at) VALUES (?1, ?2, ?3)"));
    Status s = st.Bind(1, service).Bind(2, node).Bind(3, ToUnixSeconds(now)).Run();
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists(service + " is already deployed to " + node);
    }
    SITECHAIN_RETURN_IF_ERROR(s);
    return SiteDatabase::Audit(db, now, "deploy", service + " to " + node);
  });
}

Status DeploymentDb::DeleteInstance(const std::string& service, const std::string& node,
                                    TimePoint now) {
  return db_.Transaction([&](sql::Database& db) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare("DELETE FROM instances WHERE service = ?1 AND node = ?2"));
    SITECHAIN_RETURN_IF_ERROR(st.Bind(1, service).Bind(2, node).Run());
    if (db.Changes() == 0) return NotFound(service + " is not deployed to " + node);
    return SiteDatabase::Audit(db, now, "undeploy", service + " from " + node);
  });
}

Result<InstanceRecord> DeploymentDb::FindInstance(const std::string& service,
                                                  const std::string& node) {
  return db_.Locked([&](sql::Database& db) -> Result<InstanceRecord> {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare(std::string(kInstanceSelect) + "WHERE service = ?1 AND node = ?2"));
    st.Bind(1, service).Bind(2, node);
    return sql::One<InstanceRecord>(
        st, ReadInstance, "service '" + service + "' is not deployed to node '" + node + "'");
  });
}

Result<std::vector<InstanceRecord>> DeploymentDb::ListInstances(const std::string& service,
                                                                const std::string& node) {
  return db_.Locked([&](sql::Database& db) -> Result<std::vector<InstanceRecord>> {
    SITECHAIN_ASSIGN_OR_RETURN(
        auto st, db.Prepare(std::string(kInstanceSelect) +
                            "WHERE (?1 = '' OR service = ?1) AND (?2 = '' OR node = ?2) "
                            "ORDER BY service, node"));
    st.Bind(1, service).Bind(2, node);
    return sql::All<InstanceRecord>(st, ReadInstance);
  });
}

Result<uint64_t> DeploymentDb::CountInstances() {
  return db_.Locked([&](sql::Database& db) -> Result<uint64_t> {
    SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT COUNT(*) FROM instances"));
    SITECHAIN_ASSIGN_OR_RETURN(int64_t n, sql::FirstInt(st, 0));
    return static_cast<uint64_t>(n);
  });
}

Status DeploymentDb::SetInstanceState(const std::string& service, const std::string& node,
                                      const std::string& state, const std::string& detail) {
  return db_.Locked(
      [&](sql::Database& db) { return SetInstanceStateIn(db, service, node, state, detail); });
}

Status DeploymentDb::SetInstanceStates(const std::string& node,
                                       const std::vector<InstanceState>& states) {
  if (states.empty()) return Status::Ok();
  return db_.Transaction([&](sql::Database& db) -> Status {
    for (const auto& s : states) {
      SITECHAIN_RETURN_IF_ERROR(SetInstanceStateIn(db, s.service, node, s.state, s.detail));
    }
    return Status::Ok();
  });
}

}  // namespace sitechain::slsm
