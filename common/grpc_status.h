#pragma once
// The one place where sitechain Status and grpc::Status meet. Codes map by name (StatusCode
// follows gRPC's canonical codes); the message passes through unchanged.

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace sitechain {

grpc::Status ToGrpcStatus(const Status& status);

// gRPC codes without a sitechain counterpart map to the nearest one: DEADLINE_EXCEEDED,
// CANCELLED and ABORTED to UNAVAILABLE (try again), OUT_OF_RANGE to INVALID_ARGUMENT,
// UNKNOWN, UNIMPLEMENTED and the rest to INTERNAL.
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace sitechain
