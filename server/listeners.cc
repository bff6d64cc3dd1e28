#include "server/listeners.h"

#include "server/admin_socket.h"

namespace sitechain::server {
namespace {

Result<std::unique_ptr<grpc::Server>> StartPublic(const PublicListenerOptions& options, int& port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, MakeServerCredentials(options.tls), &port);
  for (grpc::Service* service : options.services) builder.RegisterService(service);
  // Without this, gRPC binds with SO_REUSEPORT and a second server on the same port would start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.min_ping_interval_without_data.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                               static_cast<int>(options.min_ping_interval_without_data.count()));
  }
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    if (server != nullptr) server->Shutdown();
    return Unavailable("cannot listen on " + options.listen +
                       " (address in use, or not a host:port this machine has?)");
  }
  return server;
}

}  // namespace

Result<std::unique_ptr<Listeners>> Listeners::Start(const ListenerOptions& options) {
  std::unique_ptr<Listeners> listeners(new Listeners());
  if (options.public_listener) {
    const PublicListenerOptions& pub = *options.public_listener;
    SITECHAIN_ASSIGN_OR_RETURN(listeners->public_server_, StartPublic(pub, listeners->port_));
    listeners->address_ =
        pub.listen.substr(0, pub.listen.rfind(':')) + ":" + std::to_string(listeners->port_);
  }

  const std::string& socket = options.admin.socket;
  SITECHAIN_RETURN_IF_ERROR(ClaimUnixSocketPath(socket));
  grpc::ServerBuilder admin;
  admin.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  for (grpc::Service* service : options.admin.services) admin.RegisterService(service);
  SITECHAIN_ASSIGN_OR_RETURN(listeners->admin_server_, StartPrivateUnixServer(admin, socket));
  listeners->admin_socket_ = socket;
  return listeners;
}

Listeners::~Listeners() { Shutdown(std::chrono::milliseconds(0)); }

void Listeners::Wait() {
  if (public_server_) public_server_->Wait();
  if (admin_server_) admin_server_->Wait();
}

void Listeners::Shutdown(std::optional<std::chrono::milliseconds> grace) {
  if (!grace) {
    if (public_server_) public_server_->Shutdown();
    if (admin_server_) admin_server_->Shutdown();
    return;
  }
  const auto deadline = std::chrono::system_clock::now() + *grace;
  if (public_server_) public_server_->Shutdown(deadline);
  if (admin_server_) admin_server_->Shutdown(deadline);
}

}  // namespace sitechain::server
