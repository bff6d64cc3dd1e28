#pragma once
// The node-facing Site gRPC service: translates sitechain.v1 messages to SiteService calls and
// statuses back (common/grpc_status.h). Every call but GetSiteRoot and Enroll takes the node's
// identity from the mutual-TLS handshake (SiteService::AuthenticateNode). Connect streams are
// attached to the NodeHub.
// Thread-safe (gRPC calls these from its own threads).

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "sitechain/v1/site.grpc.pb.h"
#include "slsm/node_hub.h"
#include "slsm/site_service.h"

namespace sitechain::slsm {

// Bytes per data message of a package download.
inline constexpr size_t kPackageChunkBytes = 1 << 20;

class SiteGrpcService final : public v1::Site::Service {
 public:
  // federated_roots_der: the checked roots of the federated sites (slsm/federation.h), sent to
  // the nodes with every Cert_site.
  SiteGrpcService(SiteService& service, NodeHub& hub,
                  std::vector<std::vector<uint8_t>> federated_roots_der = {})
      : service_(service), hub_(hub), federated_roots_der_(std::move(federated_roots_der)) {}

  grpc::Status GetSiteRoot(grpc::ServerContext* context, const v1::GetSiteRootRequest* request,
                           v1::GetSiteRootResponse* response) override;
  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  grpc::Status RenewNode(grpc::ServerContext* context, const v1::RenewNodeRequest* request,
                         v1::RenewNodeResponse* response) override;
  grpc::Status Connect(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<v1::NodeCommand, v1::NodeMessage>* stream) override;
  grpc::Status FetchPackage(grpc::ServerContext* context, const v1::FetchPackageRequest* request,
                            grpc::ServerWriter<v1::FetchPackageResponse>* writer) override;
  grpc::Status Renew(grpc::ServerContext* context, const v1::RenewRequest* request,
                     v1::RenewResponse* response) override;

 private:
  SiteService& service_;
  NodeHub& hub_;
  const std::vector<std::vector<uint8_t>> federated_roots_der_;
};

}  // namespace sitechain::slsm
