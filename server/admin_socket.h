#pragma once
// The admin socket of a server: a UNIX domain socket of mode 0600 on which the admin gRPC
// service listens without TLS; whoever can open the file is the server's administrator.
// Listeners uses these two steps; a client dials the socket with DialUnix (common/grpc_tls.h).
//
// Stateless functions; safe to call from any thread, except that StartPrivateUnixServer
// changes the process umask while it binds (call it before starting threads that create files).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace sitechain::server {

// Removes a stale socket file at socket_path so that a server can bind there. FAILED_PRECONDITION
// if something that is not a socket is there, or if a live server still accepts connections on it;
// INVALID_ARGUMENT for a path too long for a UNIX socket.
Status ClaimUnixSocketPath(const std::string& socket_path);

// Builds and starts a server that listens on the UNIX socket socket_path (the caller has added
// "unix:" + socket_path to the builder), so that the socket file is mode 0600: the umask is 077
// while it binds, and the mode is set and checked afterwards. UNAVAILABLE if it cannot listen,
// INTERNAL if the mode cannot be set (the server is shut down then).
Result<std::unique_ptr<grpc::Server>> StartPrivateUnixServer(grpc::ServerBuilder& builder,
                                                             const std::string& socket_path);

}  // namespace sitechain::server
