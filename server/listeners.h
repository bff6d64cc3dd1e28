#pragma once
// The listeners of one sitechain server, started and stopped in one place:
//   - the public gRPC service over TLS on a host:port (optional: the node manager has none),
//   - the admin gRPC service on a UNIX socket, mode 0600 (the file permissions are the access
//     control; a stale socket file is removed, a live one refused).
// Every listener a server gains later (health, metrics, a web page) is started in Start and
// stopped in Shutdown here, so that all servers get it the same way.
//
// Ownership: Listeners owns the grpc::Server objects; the services registered are the caller's
// and must outlive it (declare the Listeners after them).
// Thread-safety: port(), address() and admin_socket() are constant after Start; Wait and
// Shutdown may be called from different threads; Shutdown may be called more than once.
// Errors (Start): UNAVAILABLE when the public address cannot be bound; FAILED_PRECONDITION when
// another server owns the admin socket or something that is not a socket sits at its path; INTERNAL
// when it cannot be made mode 0600. Nothing listens after a failed Start.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/grpc_tls.h"
#include "common/result.h"

namespace sitechain::server {

struct PublicListenerOptions {
  std::string listen = {};  // host:port; port 0 picks a free one
  ServerTlsOptions tls = {};
  size_t max_message_bytes = kDefaultMaxMessageBytes;  // largest gRPC message in either direction
  // The shortest interval between pings a client may send on a connection without data; zero:
  // gRPC's default (5 minutes; a client pinging more often is sent GOAWAY too_many_pings).
  std::chrono::milliseconds min_ping_interval_without_data{0};
  std::vector<grpc::Service*> services = {};  // registered on the public port
};

struct AdminListenerOptions {
  std::string socket = {};                    // the admin socket's path
  std::vector<grpc::Service*> services = {};  // registered on the admin socket
};

struct ListenerOptions {
  std::optional<PublicListenerOptions> public_listener = std::nullopt;  // none: admin socket only
  AdminListenerOptions admin = {};
};

class Listeners final {
 public:
  // Starts the public listener (if any), then the admin socket.
  static Result<std::unique_ptr<Listeners>> Start(const ListenerOptions& options);
  ~Listeners();  // Shutdown(0 ms)
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  // The public listener's port (the one chosen for port 0); 0 without a public listener.
  int port() const { return port_; }
  // "host:port" of the public listener with the bound port; empty without one.
  const std::string& address() const { return address_; }
  const std::string& admin_socket() const { return admin_socket_; }

  // Blocks until Shutdown has finished.
  void Wait();
  // Stops accepting calls and gives running ones `grace` to finish, then cancels them; nullopt:
  // waits for running calls however long they take.
  void Shutdown(std::optional<std::chrono::milliseconds> grace);

 private:
  Listeners() = default;

  int port_ = 0;
  std::string address_, admin_socket_;
  std::unique_ptr<grpc::Server> public_server_, admin_server_;
};

}  // namespace sitechain::server
