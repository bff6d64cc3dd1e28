#include "store/server.h"

#include "common/log.h"
#include "common/time_format.h"
#include "pki/builders.h"
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
  if (options.tls_lifetime < server::kMinTlsLifetime) {
    return InvalidArgument("the TLS certificate lifetime must be at least " +
                           std::to_string(server::kMinTlsLifetime.count()) +
                           "s (it is renewed two thirds into it)");
  }
  std::unique_ptr<StoreServer> store(new StoreServer());
  SITECHAIN_ASSIGN_OR_RETURN(StoreCa ca, StoreCa::Open(options.dir, options.passphrase));
  SITECHAIN_ASSIGN_OR_RETURN(store->lock_, server::LockStateDirectory(options.dir, "store serve"));
  SITECHAIN_ASSIGN_OR_RETURN(StoreDatabase db, StoreDatabase::Open(options.dir + "/store.db"));
  SITECHAIN_ASSIGN_OR_RETURN(storage::BlobStore blobs,
                             storage::BlobStore::Open(options.dir + "/blobs"));
  // The renewer's own handle on the CA, used on its thread only.
  SITECHAIN_ASSIGN_OR_RETURN(StoreCa tls_ca, StoreCa::Open(options.dir, options.passphrase));
  store->tls_ca_ = std::make_unique<StoreCa>(std::move(tls_ca));
  SITECHAIN_ASSIGN_OR_RETURN(
      store->tls_,
      server::TlsIdentityRenewer::Create(
          [ca = store->tls_ca_.get(),
           names = pki::TlsServerNames{options.tls_dns_names, options.tls_ip_addresses},
           lifetime = options.tls_lifetime, &clock, &rng]() -> Result<server::IssuedTlsIdentity> {
            SITECHAIN_ASSIGN_OR_RETURN(auto tls, ca->IssueTlsServer(names, lifetime, {clock, rng}));
            return server::IssuedTlsIdentity{.pem = {.key_pem = tls.key.ToPem(std::nullopt, rng),
                                                     .chain_pem = tls.certificate.ToPem()},
                                             .common_name = tls.certificate.Subject().common_name,
                                             .serial = tls.certificate.SerialHex(),
                                             .not_after = tls.certificate.NotAfter()};
          },
          clock, {.identity_file = options.dir + "/tls/identity.pem"}));
  const std::string root_path = ca.root_path();
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
                   .tls = {.identity_file = store->tls_->identity_file(),
                           .client_roots_file = root_path,
                           .client_certificates = ClientCertificates::kOptional},
                   .max_message_bytes = options.max_message_bytes,
                   // Site managers ping their idle feed stream to notice a dead link
                   // (slsm/store_client.cc); gRPC's default answers pings more often than every
                   // 5 minutes without data with GOAWAY too_many_pings.
                   .min_ping_interval_without_data = std::chrono::seconds(1),
                   .services = {store->public_service_.get()}},
           .admin = {.socket = options.AdminSocket(), .services = {store->admin_service_.get()}}}));

  store->tls_->Start();

  const server::Listeners& listeners = *store->listeners_;
  const server::TlsIdentityRenewer::State tls = store->tls_->state();
  spdlog::info(
      "serving store '{}' on {} (TLS certificate for {} valid until {}, serial {}, renewed from "
      "{}), admin socket {}",
      store->service_->root().Subject().common_name, listeners.address(), tls.common_name,
      FormatTime(tls.not_after), tls.serial, FormatTime(tls.next_attempt),
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
  if (tls_) tls_->Stop();
  if (service_) service_->Shutdown();
  if (listeners_) listeners_->Shutdown(grace);
}

}  // namespace sitechain::store
