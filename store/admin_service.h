#pragma once
// The StoreAdmin gRPC service, served only on the admin UNIX socket (mode 0600): whoever can
// open the socket is the store's administrator. Thread-safe.

#include "sitechain/v1/store.grpc.pb.h"
#include "store/store_service.h"

namespace sitechain::store {

class StoreAdminService final : public v1::StoreAdmin::Service {
 public:
  explicit StoreAdminService(StoreService& service) : service_(service) {}

  grpc::Status CreateToken(grpc::ServerContext* context, const v1::CreateTokenRequest* request,
                           v1::CreateTokenResponse* response) override;
  grpc::Status ListTokens(grpc::ServerContext* context, const v1::ListTokensRequest* request,
                          v1::ListTokensResponse* response) override;
  grpc::Status ListDevelopers(grpc::ServerContext* context,
                              const v1::ListDevelopersRequest* request,
                              v1::ListDevelopersResponse* response) override;
  grpc::Status RevokeRelease(grpc::ServerContext* context, const v1::RevokeReleaseRequest* request,
                             v1::Revocation* response) override;
  grpc::Status RevokeDeveloper(grpc::ServerContext* context,
                               const v1::RevokeDeveloperRequest* request,
                               v1::Revocation* response) override;
  grpc::Status GetStats(grpc::ServerContext* context, const v1::GetStatsRequest* request,
                        v1::Stats* response) override;

 private:
  StoreService& service_;
};

}  // namespace sitechain::store
