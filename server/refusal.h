#pragma once
// A refused call, in one place for every server: logged at warning level with what the operator
// needs (the call, the peer for a public call, the code and message), and mapped to the
// grpc::Status the client gets (ToGrpcStatus, common/grpc_status.h: the message passes through).
//
// Stateless; thread-safe (gRPC calls these from its own threads).

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "common/status.h"

namespace sitechain::server {

// A call on a public (TLS) service: logs "<call> refused peer=<peer> <CODE: message>".
grpc::Status Refuse(std::string_view call, const grpc::ServerContext& context,
                    const Status& status);

// A call on an admin socket (whoever may open it is the administrator): logs
// "admin <call> refused <CODE: message>".
grpc::Status RefuseAdmin(std::string_view call, const Status& status);

}  // namespace sitechain::server
