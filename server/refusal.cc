#include "server/refusal.h"

#include "common/grpc_status.h"
#include "common/log.h"

namespace sitechain::server {

grpc::Status Refuse(std::string_view call, const grpc::ServerContext& context,
                    const Status& status) {
  spdlog::warn("{} refused peer={} {}", call, context.peer(), status.ToString());
  return ToGrpcStatus(status);
}

grpc::Status RefuseAdmin(std::string_view call, const Status& status) {
  spdlog::warn("admin {} refused {}", call, status.ToString());
  return ToGrpcStatus(status);
}

}  // namespace sitechain::server
