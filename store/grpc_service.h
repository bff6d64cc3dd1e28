#pragma once
// The public Store gRPC service: translates sitechain.v1 messages to StoreService calls and
// statuses back (common/grpc_status.h). Authorisation: calls that act for a developer take the
// identity from the mutual-TLS handshake (StoreService::AuthenticateDeveloper). WatchRevocations
// needs none, so its streams are limited in number, in total and per peer address
// (StoreLimits::max_revocation_watchers*).
// Thread-safe (gRPC calls these from its own threads).

#include "sitechain/v1/store.grpc.pb.h"
#include "store/store_service.h"
#include "store/stream_slots.h"

namespace sitechain::store {

// Bytes per data message of a download.
inline constexpr size_t kDownloadChunkBytes = 1 << 20;

class StoreGrpcService final : public v1::Store::Service {
 public:
  explicit StoreGrpcService(StoreService& service)
      : service_(service),
        watchers_("revocation watches", service.limits().max_revocation_watchers,
                  service.limits().max_revocation_watchers_per_address, "--max-revocation-watchers",
                  "--max-revocation-watchers-per-address") {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status Publish(grpc::ServerContext* context, grpc::ServerReader<v1::PublishRequest>* reader,
                       v1::PublishResponse* response) override;
  grpc::Status ListReleases(grpc::ServerContext* context, const v1::ListReleasesRequest* request,
                            v1::ListReleasesResponse* response) override;
  grpc::Status Download(grpc::ServerContext* context, const v1::DownloadRequest* request,
                        grpc::ServerWriter<v1::DownloadResponse>* writer) override;
  grpc::Status RevokeRelease(grpc::ServerContext* context, const v1::RevokeReleaseRequest* request,
                             v1::Revocation* response) override;
  grpc::Status ListRevocations(grpc::ServerContext* context,
                               const v1::ListRevocationsRequest* request,
                               v1::ListRevocationsResponse* response) override;
  grpc::Status WatchRevocations(grpc::ServerContext* context,
                                const v1::WatchRevocationsRequest* request,
                                grpc::ServerWriter<v1::Revocation>* writer) override;

 private:
  StoreService& service_;
  StreamSlots watchers_;  // the open WatchRevocations streams (thread-safe)
};

}  // namespace sitechain::store
