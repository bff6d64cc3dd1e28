#include "store/server.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/time_format.h"
#include "store/admin_service.h"
#include "store/grpc_service.h"

namespace sitechain::store {

Result<std::unique_ptr<StoreServer>> StoreServer::Start(const ServeOptions& options,
                                                        const Clock& clock, Random& rng) {
  if (options.max_message_bytes < kMinMessageBytes || options.max_message_bytes > (1u << 30)) {
    return InvalidArgument(
        "the maximum message size must be 2 MiB to 1 GiB (data travels in "
        "1 MiB chunks)");
  }
  std::unique_ptr<StoreServer> server(new StoreServer());
  SITECHAIN_ASSIGN_OR_RETURN(StoreCa ca, StoreCa::Open(options.dir, options.passphrase));
  SITECHAIN_ASSIGN_OR_RETURN(server->lock_, LockDirectory(options.dir, "store serve"));
  SITECHAIN_ASSIGN_OR_RETURN(StoreDatabase db, StoreDatabase::Open(options.dir + "/store.db"));
  SITECHAIN_ASSIGN_OR_RETURN(storage::BlobStore blobs, storage::BlobStore::Open(options.dir + "/blobs"));
  SITECHAIN_ASSIGN_OR_RETURN(auto tls,
                             ca.IssueTlsServer({options.tls_dns_names, options.tls_ip_addresses},
                                               options.tls_lifetime, {clock, rng}));
  const std::string root_pem = ca.root().ToPem();
  SITECHAIN_ASSIGN_OR_RETURN(
      server->service_, StoreService::Create(std::move(ca), std::move(db), std::move(blobs), clock,
                                             rng, options.limits));
  server->public_service_ = std::make_unique<StoreGrpcService>(*server->service_);
  server->admin_service_ = std::make_unique<StoreAdminService>(*server->service_);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options.listen,
      MakeServerCredentials({.certificate_chain_pem = tls.certificate.ToPem(),
                             .private_key_pem = tls.key.ToPem(std::nullopt, rng),
                             .client_roots_pem = root_pem,
                             .client_certificates = ClientCertificates::kOptional}),
      &server->port_);
  builder.RegisterService(server->public_service_.get());
  // Without this, gRPC binds with SO_REUSEPORT and a second store on the same port would start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  server->public_server_ = builder.BuildAndStart();
  if (server->public_server_ == nullptr || server->port_ == 0) {
    return Unavailable("cannot listen on " + options.listen +
                       " (address in use, or not a host:port this machine has?)");
  }

  const std::string socket = options.AdminSocket();
  SITECHAIN_RETURN_IF_ERROR(ClaimUnixSocketPath(socket));
  grpc::ServerBuilder admin;
  admin.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  admin.RegisterService(server->admin_service_.get());
  SITECHAIN_ASSIGN_OR_RETURN(server->admin_server_, StartPrivateUnixServer(admin, socket));

  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  const std::string address = host + ":" + std::to_string(server->port_);
  spdlog::info("serving store '{}' on {} (TLS certificate for {} valid until {}), admin socket {}",
               server->service_->root().Subject().common_name, address,
               tls.certificate.Subject().common_name, FormatTime(tls.certificate.NotAfter()),
               socket);
  if (!options.ready_file.empty()) {
    const nlohmann::json ready = {{"address", address},
                                  {"port", server->port_},
                                  {"admin_socket", socket},
                                  {"store_root", options.dir + "/root.pem"}};
    SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(options.ready_file, ready.dump() + "\n", 0644, true));
  }
  return server;
}

StoreServer::~StoreServer() { Shutdown(std::chrono::milliseconds(0)); }

void StoreServer::Wait() {
  if (public_server_) public_server_->Wait();
  if (admin_server_) admin_server_->Wait();
}

void StoreServer::Shutdown(std::chrono::milliseconds grace) {
  if (service_) service_->Shutdown();
  const auto deadline = std::chrono::system_clock::now() + grace;
  if (public_server_) public_server_->Shutdown(deadline);
  if (admin_server_) admin_server_->Shutdown(deadline);
}

}  // namespace sitechain::store
