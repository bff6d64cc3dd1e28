#pragma once
// The client side of a server's admin socket, for the admin commands of the CLIs (`store tokens
// create`, `slsm deploy`, `nlsm status`, ...): dial the UNIX socket, make one call with a
// deadline, map the status (UNAVAILABLE says how to start the server; every other refusal
// passes through with its code and message), and print the response as text or JSON.
//
// An AdminClient holds only configuration: each Call dials afresh. Thread-compatible; Call is
// const and may run on several threads at once.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <ostream>
#include <string>
#include <type_traits>

#include "common/grpc_tls.h"
#include "common/proto_json.h"
#include "common/result.h"
#include "common/terminal_text.h"

namespace sitechain::server {

// The server an admin command talks to, for the refusal when it is not up:
// "cannot reach <name>'s admin socket <path> (is '<serve_command>' running?)[: <gRPC's reason>]".
struct AdminPeer {
  std::string name;                            // "the store"
  std::string serve_command;                   // "store serve"
  std::chrono::milliseconds deadline{30'000};  // of one call
  bool with_transport_error = true;            // append gRPC's reason to the refusal above
};

// One admin command's target, from the CLI's --dir/--admin-socket and --json.
struct AdminTarget {
  std::string socket;  // the admin socket path
  bool json = false;
};

class AdminClient final {
 public:
  AdminClient(std::string socket, AdminPeer peer)
      : socket_(std::move(socket)), peer_(std::move(peer)) {}

  // Calls one method of a generated stub, e.g. Call(&v1::StoreAdmin::Stub::GetStats, {}).
  // Returns the response, or the mapped refusal.
  template <typename Stub, typename Request, typename Response>
  Result<Response> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                     Response*),
                        const std::type_identity_t<Request>& request) const {
    Stub stub(DialUnix(socket_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + peer_.deadline);
    Response response;
    if (Status s = MapStatus((stub.*method)(&context, request, &response)); !s.ok()) return s;
    return response;
  }

  // OK for an OK status; UNAVAILABLE with the hint above; else FromGrpcStatus.
  Status MapStatus(const grpc::Status& status) const;

 private:
  const std::string socket_;
  const AdminPeer peer_;
};

// Prints a response as JSON (ProtoToJson, through JsonForTerminal) when `json`, else by calling
// text(response), which must pass every string of the response through ForTerminal
// (common/terminal_text.h: the strings came from peers). Returns the call's refusal, printing
// nothing, if `response` holds one.
template <typename Response, typename Text>
Status PrintAdminResponse(const Result<Response>& response, bool json, std::ostream& out,
                          Text text) {
  if (!response.ok()) return response.status();
  if (json) {
    out << JsonForTerminal(ProtoToJson(*response));
  } else {
    text(*response);
  }
  return Status::Ok();
}

}  // namespace sitechain::server
