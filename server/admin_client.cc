#include "server/admin_client.h"

#include "common/grpc_status.h"

namespace sitechain::server {

Status AdminClient::MapStatus(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::string message = "cannot reach " + peer_.name + "'s admin socket " + socket_ + " (is '" +
                          peer_.serve_command + "' running?)";
    if (peer_.with_transport_error) message += ": " + status.error_message();
    return Unavailable(message);
  }
  return FromGrpcStatus(status);
}

}  // namespace sitechain::server
