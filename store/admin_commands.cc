#include "store/admin_commands.h"

#include <chrono>

#include "common/secret_file.h"
#include "common/terminal_text.h"
#include "sitechain/v1/store.grpc.pb.h"

namespace sitechain::store {
namespace {

// The store's admin socket, for the refusal when `store serve` is not running.
server::AdminClient Admin(const AdminTarget& target) {
  return server::AdminClient(
      target.socket,
      {.name = "the store", .serve_command = "store serve", .deadline = std::chrono::seconds(30)});
}

// Names, notes and reasons below were chosen by developers (through their CSRs and calls) or by
// an administrator: each string goes through ForTerminal (common/terminal_text.h) before it
// reaches the terminal.

void PrintRevocation(const v1::Revocation& r, std::ostream& out) {
  out << "revocation " << r.sequence() << ": ";
  if (r.kind() == v1::Revocation::DEVELOPER) {
    out << "developer '" << ForTerminal(r.developer()) << "'";
  } else {
    out << "release " << ForTerminal(r.name()) << " " << ForTerminal(r.version()) << " of '"
        << ForTerminal(r.developer()) << "'";
  }
  out << " revoked at " << ForTerminal(r.revoked_at()) << " by " << ForTerminal(r.revoked_by())
      << ": " << ForTerminal(r.reason()) << "\n";
}

}  // namespace

Status CreateTokenCommand(const AdminTarget& target, Seconds ttl, const std::string& note,
                          const std::string& token_file, std::ostream& out) {
  v1::CreateTokenRequest request;
  request.set_ttl_seconds(static_cast<uint64_t>(ttl.count()));
  request.set_note(note);
  if (token_file.empty()) {
    return server::PrintAdminResponse(
        Admin(target).Call(&v1::StoreAdmin::Stub::CreateToken, request), target.json, out,
        [&](const v1::CreateTokenResponse& r) { out << ForTerminal(r.token()) << "\n"; });
  }
  SITECHAIN_RETURN_IF_ERROR(CheckTokenFileIsNew(token_file));
  auto created = Admin(target).Call(&v1::StoreAdmin::Stub::CreateToken, request);
  if (!created.ok()) return created.status();
  SITECHAIN_RETURN_IF_ERROR(WriteTokenFile(token_file, created->token())
                                .WithContext("registration token " + created->id() +
                                             " was created but not written; create another"));
  created->clear_token();  // the file holds it; the output never does
  return server::PrintAdminResponse(Result<v1::CreateTokenResponse>(*created), target.json, out,
                                    [&](const v1::CreateTokenResponse& r) {
                                      out << "wrote registration token " << ForTerminal(r.id())
                                          << " to " << ForTerminal(token_file)
                                          << " (mode 0600; usable once, until "
                                          << ForTerminal(r.expires_at()) << ")\n";
                                    });
}

Status ListTokensCommand(const AdminTarget& target, std::ostream& out) {
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::ListTokens, {}), target.json, out,
      [&](const v1::ListTokensResponse& response) {
        for (const auto& t : response.tokens()) {
          out << ForTerminal(t.id()) << "\texpires " << ForTerminal(t.expires_at()) << "\t"
              << (t.used_at().empty()
                      ? "unused"
                      : "used by " + ForTerminal(t.used_by()) + " at " + ForTerminal(t.used_at()))
              << "\t" << ForTerminal(t.note()) << "\n";
        }
      });
}

Status ListDevelopersCommand(const AdminTarget& target, std::ostream& out) {
  return server::PrintAdminResponse(
      Admin(target).Call(&v1::StoreAdmin::Stub::ListDevelopers, {}), target.json, out,
      [&](const v1::ListDevelopersResponse& response) {
        for (const auto& d : response.developers()) {
          out << ForTerminal(d.name()) << "\t" << ForTerminal(d.serial()) << "\t"
              << ForTerminal(d.key_type()) << "\tvalid until " << ForTerminal(d.not_after())
              << (d.revoked() ? "\tREVOKED: " + ForTerminal(d.revocation_reason()) : "") << "\n";
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
