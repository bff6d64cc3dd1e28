#include "store/server.h"

#include "common/log.h"
#include "common/time_format.h"
#include "server/ready_file.h"
#include "server/state_dir.h"
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
  std::unique_ptr<StoreServer> store(new StoreServer());
  SITECHAIN_ASSIGN_OR_RETURN(StoreCa ca, StoreCa::Open(options.dir, options.passphrase));
  SITECHAIN_ASSIGN_OR_RETURN(store->lock_, server::LockStateDirectory(options.dir, "store serve"));
  SITECHAIN_ASSIGN_OR_RETURN(StoreDatabase db, StoreDatabase::Open(options.dir + "/store.db"));
  SITECHAIN_ASSIGN_OR_RETURN(storage::BlobStore blobs,
                             storage::BlobStore::Open(options.dir + "/blobs"));
  SITECHAIN_ASSIGN_OR_RETURN(auto tls,
                             ca.IssueTlsServer({options.tls_dns_names, options.tls_ip_addresses},
                                               options.tls_lifetime, {clock, rng}));
  const std::string root_pem = ca.root().ToPem();
  SITECHAIN_ASSIGN_OR_RETURN(
      store->service_, StoreService::Create(std::move(ca), std::move(db), std::move(blobs), clock,
                                            rng, options.limits));
  store->public_service_ = std::make_unique<StoreGrpcService>(*store->service_);
  store->admin_service_ = std::make_unique<StoreAdminService>(*store->service_);

  SITECHAIN_ASSIGN_OR_RETURN(
      store->listeners_,
      server::Listeners::Start(
          {.public_listener =
               server::PublicListenerOptions{
                   .listen = options.listen,
                   .tls = {.certificate_chain_pem = tls.certificate.ToPem(),
                           .private_key_pem = tls.key.ToPem(std::nullopt, rng),
                           .client_roots_pem = root_pem,
                           .client_certificates = ClientCertificates::kOptional},
                   .max_message_bytes = options.max_message_bytes,
                   .services = {store->public_service_.get()}},
           .admin = {.socket = options.AdminSocket(), .services = {store->admin_service_.get()}}}));

  const server::Listeners& listeners = *store->listeners_;
  spdlog::info("serving store '{}' on {} (TLS certificate for {} valid until {}), admin socket {}",
               store->service_->root().Subject().common_name, listeners.address(),
               tls.certificate.Subject().common_name, FormatTime(tls.certificate.NotAfter()),
               listeners.admin_socket());
  SITECHAIN_RETURN_IF_ERROR(
      server::WriteReadyFile(options.ready_file, {{"address", listeners.address()},
                                                  {"port", listeners.port()},
                                                  {"admin_socket", listeners.admin_socket()},
                                                  {"store_root", options.dir + "/root.pem"}}));
  return store;
}

StoreServer::~StoreServer() { Shutdown(std::chrono::milliseconds(0)); }

void StoreServer::Wait() {
  if (listeners_) listeners_->Wait();
}

void StoreServer::Shutdown(std::chrono::milliseconds grace) {
  if (service_) service_->Shutdown();
  if (listeners_) listeners_->Shutdown(grace);
}

}  // namespace sitechain::store
