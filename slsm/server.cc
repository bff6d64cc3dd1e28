#include "slsm/server.h"

#include "common/log.h"
#include "common/time_format.h"
#include "pki/builders.h"
#include "pki/ca_files.h"
#include "server/ready_file.h"
#include "server/state_dir.h"
#include "server/tls_identity_renewer.h"
#include "slca/site_ca.h"
#include "slsm/admin_service.h"
#include "slsm/federation.h"
#include "slsm/grpc_service.h"

namespace sitechain::slsm {
namespace {

// Package downloads move 1 MiB per message, plus framing.
constexpr size_t kMaxMessageBytes = 4 << 20;

std::string StoreRootPath(const std::string& dir) { return dir + "/store-root.pem"; }
std::string TlsIdentityPath(const std::string& dir) { return dir + "/tls/identity.pem"; }

}  // namespace

Result<pki::Certificate> InitSite(const InitOptions& o, const Clock& clock, Random& rng) {
  if (o.store.empty() || o.store.find(':') == std::string::npos) {
    return InvalidArgument("--store must be the store's host:port");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto store_root, pki::LoadStoreRoot(o.store_root_path, clock));
  SITECHAIN_ASSIGN_OR_RETURN(
      auto ca,
      slca::SiteCa::Init({o.dir, o.site, o.key_type, o.lifetime, o.passphrase}, clock, rng));
  SITECHAIN_RETURN_IF_ERROR(store_root.Save(StoreRootPath(o.dir), false));
  SITECHAIN_RETURN_IF_ERROR(WriteInitialConfig(o.dir, o.site, o.store));
  SITECHAIN_RETURN_IF_ERROR(SiteDatabase::Open(o.dir + "/slsm.db").status());
  return ca.root();
}

Result<std::unique_ptr<SlsmServer>> SlsmServer::Start(const std::string& dir,
                                                      const SlsmConfig& config,
                                                      const std::optional<std::string>& passphrase,
                                                      const Clock& clock, Random& rng) {
  std::unique_ptr<SlsmServer> slsm(new SlsmServer());
  SITECHAIN_ASSIGN_OR_RETURN(slca::SiteCa ca, slca::SiteCa::Open(dir, passphrase));
  SITECHAIN_ASSIGN_OR_RETURN(slsm->lock_, server::LockStateDirectory(dir, "slsm serve"));
  SITECHAIN_ASSIGN_OR_RETURN(auto store_root, pki::Certificate::Load(StoreRootPath(dir)));
  SITECHAIN_ASSIGN_OR_RETURN(SiteDatabase db, SiteDatabase::Open(dir + "/slsm.db"));
  SITECHAIN_ASSIGN_OR_RETURN(storage::BlobStore packages,
                             storage::BlobStore::Open(dir + "/packages"));
  // The renewer's own handle on the CA (SiteService owns the first); SiteCa is thread-safe.
  SITECHAIN_ASSIGN_OR_RETURN(slca::SiteCa tls_ca, slca::SiteCa::Open(dir, passphrase));
  slsm->tls_ca_ = std::make_unique<slca::SiteCa>(std::move(tls_ca));
  SITECHAIN_ASSIGN_OR_RETURN(
      slsm->tls_,
      server::TlsIdentityRenewer::Create(
          [ca = slsm->tls_ca_.get(), names = pki::SplitTlsNames(config.tls_names),
           lifetime = config.tls_lifetime, &clock, &rng]() -> Result<server::IssuedTlsIdentity> {
            SITECHAIN_ASSIGN_OR_RETURN(auto tls, ca->IssueTlsServer(names, lifetime, {clock, rng}));
            return server::IssuedTlsIdentity{.pem = {.key_pem = tls.key.ToPem(std::nullopt, rng),
                                                     .chain_pem = tls.certificate.ToPem()},
                                             .common_name = tls.certificate.Subject().common_name,
                                             .serial = tls.certificate.SerialHex(),
                                             .not_after = tls.certificate.NotAfter()};
          },
          clock, {.identity_file = TlsIdentityPath(dir)}));
  slsm->hub_ = std::make_unique<NodeHub>(clock, config.heartbeat_timeout,
                                         config.site_options.max_node_commands);
  slsm->store_ = std::make_unique<StoreClient>(config.store, store_root.ToPem());
  SITECHAIN_ASSIGN_OR_RETURN(
      slsm->service_,
      SiteService::Create(std::move(ca), std::move(store_root), std::move(db), std::move(packages),
                          *slsm->store_, *slsm->hub_, clock, rng, config.site_options));
  std::vector<FederatedSite> federation = config.federation;
  for (FederatedSite& site : federation) {
    if (!site.root_file.starts_with('/')) site.root_file = dir + "/" + site.root_file;
  }
  SITECHAIN_ASSIGN_OR_RETURN(
      auto federated_roots,
      LoadFederation(federation, slsm->service_->site_root().Subject().common_name, clock));
  std::vector<std::vector<uint8_t>> federated_roots_der;
  for (const auto& root : federated_roots) {
    spdlog::info("federation: the services may trust trust domain {} (root sha256 {})",
                 root.Subject().common_name, root.Sha256Fingerprint());
    federated_roots_der.push_back(root.ToDer());
  }
  slsm->public_service_ = std::make_unique<SiteGrpcService>(*slsm->service_, *slsm->hub_,
                                                            std::move(federated_roots_der));
  slsm->admin_service_ = std::make_unique<SiteAdminService>(*slsm->service_, *slsm->hub_);

  SITECHAIN_ASSIGN_OR_RETURN(
      slsm->listeners_,
      server::Listeners::Start(
          {.public_listener =
               server::PublicListenerOptions{
                   .listen = config.listen,
                   .tls = {.identity_file = slsm->tls_->identity_file(),
                           .client_roots_file = dir + "/root.pem",
                           .client_certificates = ClientCertificates::kOptional},
                   .max_message_bytes = kMaxMessageBytes,
                   // Nodes ping a silent link to notice a dead one (nlsm keepalive_time, at
                   // least 1 s). gRPC's default answers a client that pings more often than every
                   // 5 minutes without data with GOAWAY too_many_pings, which would cut a node
                   // whose heartbeats are slower than its pings.
                   .min_ping_interval_without_data = std::chrono::seconds(1),
                   .services = {slsm->public_service_.get()}},
           .admin = {.socket = server::AdminSocketPath(dir, config.admin_socket),
                     .services = {slsm->admin_service_.get()}}}));

  slsm->follower_ = std::make_unique<RevocationFollower>(
      *slsm->store_, *slsm->service_, clock, rng,
      FollowerOptions{.confirm_interval =
                          ConfirmIntervalFor(config.site_options.revocation_staleness_limit)});
  slsm->follower_->Start();

  slsm->tls_->Start();

  const server::Listeners& listeners = *slsm->listeners_;
  const server::TlsIdentityRenewer::State tls = slsm->tls_->state();
  spdlog::info(
      "serving site '{}' on {} (TLS certificate for {} valid until {}, serial {}, renewed from "
      "{}), admin socket {}, store {}",
      slsm->service_->site(), listeners.address(), tls.common_name, FormatTime(tls.not_after),
      tls.serial, FormatTime(tls.next_attempt), listeners.admin_socket(), config.store);
  SITECHAIN_RETURN_IF_ERROR(server::WriteReadyFile(
      config.ready_file, {{"address", listeners.address()},
                          {"port", listeners.port()},
                          {"admin_socket", listeners.admin_socket()},
                          {"site_root", dir + "/root.pem"},
                          {"site_root_sha256", slsm->service_->site_root().Sha256Fingerprint()}}));
  return slsm;
}

SlsmServer::~SlsmServer() { Shutdown(std::chrono::milliseconds(0)); }

void SlsmServer::Wait() {
  if (listeners_) listeners_->Wait();
}

void SlsmServer::Shutdown(std::chrono::milliseconds grace) {
  if (tls_) tls_->Stop();
  if (follower_) follower_->Stop();
  if (hub_) hub_->Shutdown();
  if (listeners_) listeners_->Shutdown(grace);
}

}  // namespace sitechain::slsm
