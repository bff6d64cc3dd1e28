#include "store/admin_commands.h"

#include <chrono>

#include "sitechain/v1/store.grpc.pb.h"

namespace sitechain::store {
namespace {

// The store's admin socket, for the refusal when `store serve` is not running.
server::AdminClient Admin(const AdminTarget& target) {
  return server::AdminClient(
      target.socket,
      {.name = "the store", .serve_command = "store serve", .deadline = std::chrono::seconds(30)});
}

void PrintRevocation(const v1::Revocation& r, std::ostream& out) {
  out << "revocation " << r.sequence() << ": ";
  if (r.kind() == v1::Revocation::DEVELOPER) {
    out << "developer '" << r.developer() << "'";
  } else {
    out << "release " << r.name() << " " << r.version() << " of '" << r.developer() << "'";
  }
  out << " revoked at " << r.revoked_at() << " by " << r.revoked_by() << ": " << r.reason() << "\n";
}

}  // namespace

Status CreateTokenCommand(const AdminTarget& target, Seconds ttl, const std::string& note,
                          std::ostream& out) {
  v1::CreateTokenRequest request;
  request.set_ttl_seconds(static_cast<uint64_t>(ttl.count()));
  request.set_note(note);
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::CreateToken, request), target.json, out,
      [&](const v1::CreateTokenResponse& response) { out << response.token() << "\n"; });
}

Status ListTokensCommand(const AdminTarget& target, std::ostream& out) {
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::ListTokens, {}), target.json, out,
      [&](const v1::ListTokensResponse& response) {
        for (const auto& t : response.tokens()) {
          out << t.id() << "\texpires " << t.expires_at() << "\t"
              << (t.used_at().empty() ? "unused" : "used by " + t.used_by() + " at " + t.used_at())
              << "\t" << t.note() << "\n";
        }
      });
}

Status ListDevelopersCommand(const AdminTarget& target, std::ostream& out) {
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::ListDevelopers, {}), target.json, out,
      [&](const v1::ListDevelopersResponse& response) {
        for (const auto& d : response.developers()) {
          out << d.name() << "\t" << d.serial() << "\t" << d.key_type() << "\tvalid until "
              << d.not_after() << (d.revoked() ? "\tREVOKED: " + d.revocation_reason() : "")
              << "\n";
        }
      });
}

Status RevokeReleaseCommand(const AdminTarget& target, const std::string& name,
                            const std::string& version, const std::string& reason,
                            std::ostream& out) {
  v1::RevokeReleaseRequest request;
  request.set_name(name);
  request.set_version(version);
  request.set_reason(reason);
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::RevokeRelease, request), target.json, out,
      [&](const v1::Revocation& response) { PrintRevocation(response, out); });
}

Status RevokeDeveloperCommand(const AdminTarget& target, const std::string& name,
                              const std::string& reason, std::ostream& out) {
  v1::RevokeDeveloperRequest request;
  request.set_name(name);
  request.set_reason(reason);
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::RevokeDeveloper, request), target.json, out,
      [&](const v1::Revocation& response) { PrintRevocation(response, out); });
}

Status StatsCommand(const AdminTarget& target, std::ostream& out) {
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::GetStats, {}), target.json, out,
      [&](const v1::Stats& response) {
        out << "developers\t" << response.developers() << " (" << response.revoked_developers()
            << " revoked)\nreleases\t" << response.releases() << " (" << response.revoked_releases()
            << " revoked)\nactive tokens\t" << response.active_tokens() << "\nblob bytes\t"
            << response.blob_bytes() << "\nlast revocation\t" << response.last_revocation_sequence()
            << "\naudit entries\t" << response.audit_entries() << "\n";
      });
}

}  // namespace sitechain::store
