#include "store/admin_service.h"

#include "common/log.h"
#include "common/time_format.h"
#include "server/refusal.h"
#include "store/convert.h"

namespace sitechain::store {
grpc::Status StoreAdminService::CreateToken(grpc::ServerContext*,
                                            const v1::CreateTokenRequest* request,
                                            v1::CreateTokenResponse* response) {
  if (request->ttl_seconds() > static_cast<uint64_t>(service_.limits().max_token_ttl.count())) {
    return server::RefuseAdmin(
        "CreateToken",
        InvalidArgument("a token may live at most " +
                        std::to_string(service_.limits().max_token_ttl.count()) + " s"));
  }
  auto token =
      service_.CreateToken(Seconds(static_cast<int64_t>(request->ttl_seconds())), request->note());
  if (!token.ok()) return server::RefuseAdmin("CreateToken", token.status());
  response->set_token(token->token);
  response->set_id(token->record.id);
  response->set_expires_at(FormatTime(token->record.expires_at));
  spdlog::info("admin created registration token id={} expires={} note={}", token->record.id,
               FormatTime(token->record.expires_at), token->record.note);
  return grpc::Status::OK;
}

grpc::Status StoreAdminService::ListTokens(grpc::ServerContext*, const v1::ListTokensRequest*,
                                           v1::ListTokensResponse* response) {
  auto tokens = service_.ListTokens();
  if (!tokens.ok()) return server::RefuseAdmin("ListTokens", tokens.status());
  for (const auto& t : *tokens) ToProto(t, response->add_tokens());
  return grpc::Status::OK;
}

grpc::Status StoreAdminService::ListDevelopers(grpc::ServerContext*,
                                               const v1::ListDevelopersRequest*,
                                               v1::ListDevelopersResponse* response) {
  auto developers = service_.ListDevelopers();
  if (!developers.ok()) return server::RefuseAdmin("ListDevelopers", developers.status());
  for (const auto& d : *developers) ToProto(d, response->add_developers());
  return grpc::Status::OK;
}

grpc::Status StoreAdminService::RevokeRelease(grpc::ServerContext*,
                                              const v1::RevokeReleaseRequest* request,
                                              v1::Revocation* response) {
  auto r =
      service_.RevokeRelease(std::nullopt, request->name(), request->version(), request->reason());
  if (!r.ok()) return server::RefuseAdmin("RevokeRelease", r.status());
  ToProto(*r, response);
  spdlog::info("admin revoked release name={} version={} sequence={}", r->name, r->version,
               r->sequence);
  return grpc::Status::OK;
}

grpc::Status StoreAdminService::RevokeDeveloper(grpc::ServerContext*,
                                                const v1::RevokeDeveloperRequest* request,
                                                v1::Revocation* response) {
  auto r = service_.RevokeDeveloper(request->name(), request->reason());
  if (!r.ok()) return server::RefuseAdmin("RevokeDeveloper", r.status());
  ToProto(*r, response);
  spdlog::info("admin revoked developer name={} sequence={}", r->developer, r->sequence);
  return grpc::Status::OK;
}

grpc::Status StoreAdminService::GetStats(grpc::ServerContext*, const v1::GetStatsRequest*,
                                         v1::Stats* response) {
  auto stats = service_.Stats();
  if (!stats.ok()) return server::RefuseAdmin("GetStats", stats.status());
  ToProto(*stats, response);
  return grpc::Status::OK;
}

}  // namespace sitechain::store
