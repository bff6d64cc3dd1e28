#include "store/admin_commands.h"

#include <chrono>

#include "common/grpc_status.h"
#include "common/grpc_tls.h"
#include "common/proto_json.h"
#include "sitechain/v1/store.grpc.pb.h"

namespace sitechain::store {
namespace {

// Calls one admin method with a deadline and a message that helps when the server is not up.
template <typename Request, typename Response, typename Method>
Result<Response> Call(const AdminTarget& target, Method method, const Request& request) {
  auto stub = v1::StoreAdmin::NewStub(DialUnix(target.socket));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  Response response;
  const grpc::Status status = ((*stub).*method)(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unavailable("cannot reach the store's admin socket " + target.socket +
                       " (is 'store serve' running?): " + status.error_message());
  }
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
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
  SITECHAIN_ASSIGN_OR_RETURN(auto response,
                             (Call<v1::CreateTokenRequest, v1::CreateTokenResponse>(
                                 target, &v1::StoreAdmin::Stub::CreateToken, request)));
  if (target.json) {
    out << ProtoToJson(response);
  } else {
    out << response.token() << "\n";
  }
  return Status::Ok();
}

Status ListTokensCommand(const AdminTarget& target, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(auto response, (Call<v1::ListTokensRequest, v1::ListTokensResponse>(
                                                target, &v1::StoreAdmin::Stub::ListTokens, {})));
  if (target.json) {
    out << ProtoToJson(response);
    return Status::Ok();
  }
  for (const auto& t : response.tokens()) {
    out << t.id() << "\texpires " << t.expires_at() << "\t"
        << (t.used_at().empty() ? "unused" : "used by " + t.used_by() + " at " + t.used_at())
        << "\t" << t.note() << "\n";
  }
  return Status::Ok();
}

Status ListDevelopersCommand(const AdminTarget& target, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(auto response,
                             (Call<v1::ListDevelopersRequest, v1::ListDevelopersResponse>(
                                 target, &v1::StoreAdmin::Stub::ListDevelopers, {})));
  if (target.json) {
    out << ProtoToJson(response);
    return Status::Ok();
  }
  for (const auto& d : response.developers()) {
    out << d.name() << "\t" << d.serial() << "\t" << d.key_type() << "\tvalid until "
        << d.not_after() << (d.revoked() ? "\tREVOKED: " + d.revocation_reason() : "") << "\n";
  }
  return Status::Ok();
}

Status RevokeReleaseCommand(const AdminTarget& target, const std::string& name,
                            const std::string& version, const std::string& reason,
                            std::ostream& out) {
  v1::RevokeReleaseRequest request;
  request.set_name(name);
  request.set_version(version);
  request.set_reason(reason);
  SITECHAIN_ASSIGN_OR_RETURN(auto response,
                             (Call<v1::RevokeReleaseRequest, v1::Revocation>(
                                 target, &v1::StoreAdmin::Stub::RevokeRelease, request)));
  if (target.json) {
    out << ProtoToJson(response);
  } else {
    PrintRevocation(response, out);
  }
  return Status::Ok();
}

Status RevokeDeveloperCommand(const AdminTarget& target, const std::string& name,
                              const std::string& reason, std::ostream& out) {
  v1::RevokeDeveloperRequest request;
  request.set_name(name);
  request.set_reason(reason);
  SITECHAIN_ASSIGN_OR_RETURN(auto response,
                             (Call<v1::RevokeDeveloperRequest, v1::Revocation>(
                                 target, &v1::StoreAdmin::Stub::RevokeDeveloper, request)));
  if (target.json) {
    out << ProtoToJson(response);
  } else {
    PrintRevocation(response, out);
  }
  return Status::Ok();
}

Status StatsCommand(const AdminTarget& target, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(auto response, (Call<v1::GetStatsRequest, v1::Stats>(
                                                target, &v1::StoreAdmin::Stub::GetStats, {})));
  if (target.json) {
    out << ProtoToJson(response);
  } else {
    out << "developers\t" << response.developers() << " (" << response.revoked_developers()
        << " revoked)\nreleases\t" << response.releases() << " (" << response.revoked_releases()
        << " revoked)\nactive tokens\t" << response.active_tokens() << "\nblob bytes\t"
        << response.blob_bytes() << "\nlast revocation\t" << response.last_revocation_sequence()
        << "\naudit entries\t" << response.audit_entries() << "\n";
  }
  return Status::Ok();
}

}  // namespace sitechain::store
