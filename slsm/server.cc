#include "slsm/server.h"

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/time_format.h"
#include "pki/builders.h"
#include "pki/ca_files.h"
#include "slca/site_ca.h"
#include "slsm/admin_service.h"
#include "slsm/grpc_service.h"

namespace sitechain::slsm {
namespace {

// Package downloads move 1 MiB per message, plus framing.
constexpr size_t kMaxMessageBytes = 4 << 20;

std::string StoreRootPath(const std::string& dir) { return dir + "/store-root.pem"; }

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
  std::unique_ptr<SlsmServer> server(new SlsmServer());
  SITECHAIN_ASSIGN_OR_RETURN(slca::SiteCa ca, slca::SiteCa::Open(dir, passphrase));
  SITECHAIN_ASSIGN_OR_RETURN(server->lock_, LockDirectory(dir, "slsm serve"));
  SITECHAIN_ASSIGN_OR_RETURN(auto store_root, pki::Certificate::Load(StoreRootPath(dir)));
  SITECHAIN_ASSIGN_OR_RETURN(SiteDatabase db, SiteDatabase::Open(dir + "/slsm.db"));
  SITECHAIN_ASSIGN_OR_RETURN(storage::BlobStore packages, storage::BlobStore::Open(dir + "/packages"));
  SITECHAIN_ASSIGN_OR_RETURN(auto tls, ca.IssueTlsServer(pki::SplitTlsNames(config.tls_names),
                                                         config.tls_lifetime, {clock, rng}));
  const std::string root_pem = ca.root().ToPem();
  server->hub_ = std::make_unique<NodeHub>(clock, config.heartbeat_timeout);
  server->store_ = std::make_unique<StoreClient>(config.store, store_root.ToPem());
  SITECHAIN_ASSIGN_OR_RETURN(
      server->service_,
      SiteService::Create(std::move(ca), std::move(store_root), std::move(db), std::move(packages),
                          *server->store_, *server->hub_, clock, rng, config.site_options));
  server->public_service_ = std::make_unique<SiteGrpcService>(*server->service_, *server->hub_);
  server->admin_service_ = std::make_unique<SiteAdminService>(*server->service_, *server->hub_);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      config.listen,
      MakeServerCredentials({.certificate_chain_pem = tls.certificate.ToPem(),
                             .private_key_pem = tls.key.ToPem(std::nullopt, rng),
                             .client_roots_pem = root_pem,
                             .client_certificates = ClientCertificates::kOptional}),
      &server->port_);
  builder.RegisterService(server->public_service_.get());
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Nodes ping a silent link to notice a dead one (nlsm keepalive_time, at least 1 s). gRPC's
  // default answers a client that pings more often than every 5 minutes without data with
  // GOAWAY too_many_pings, which would cut a node whose heartbeats are slower than its pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxMessageBytes));
  server->public_server_ = builder.BuildAndStart();
  if (server->public_server_ == nullptr || server->port_ == 0) {
    return Unavailable("cannot listen on " + config.listen +
                       " (address in use, or not a host:port this machine has?)");
  }

  const std::string socket =
      config.admin_socket.empty() ? dir + "/admin.sock" : config.admin_socket;
  SITECHAIN_RETURN_IF_ERROR(ClaimUnixSocketPath(socket));
  grpc::ServerBuilder admin;
  admin.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  admin.RegisterService(server->admin_service_.get());
  SITECHAIN_ASSIGN_OR_RETURN(server->admin_server_, StartPrivateUnixServer(admin, socket));

  server->follower_ = std::make_unique<RevocationFollower>(*server->store_, *server->service_, rng);
  server->follower_->Start();

  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  const std::string address = host + ":" + std::to_string(server->port_);
  spdlog::info(
      "serving site '{}' on {} (TLS certificate for {} valid until {}), admin socket {}, store {}",
      server->service_->site(), address, tls.certificate.Subject().common_name,
      FormatTime(tls.certificate.NotAfter()), socket, config.store);
  if (!config.ready_file.empty()) {
    const nlohmann::json ready = {
        {"address", address},
        {"port", server->port_},
        {"admin_socket", socket},
        {"site_root", dir + "/root.pem"},
        {"site_root_sha256", server->service_->site_root().Sha256Fingerprint()}};
    SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(config.ready_file, ready.dump() + "\n", 0644, true));
  }
  return server;
}

SlsmServer::~SlsmServer() { Shutdown(std::chrono::milliseconds(0)); }

void SlsmServer::Wait() {
  if (public_server_) public_server_->Wait();
  if (admin_server_) admin_server_->Wait();
}

void SlsmServer::Shutdown(std::chrono::milliseconds grace) {
  if (follower_) follower_->Stop();
  if (hub_) hub_->Shutdown();
  const auto deadline = std::chrono::system_clock::now() + grace;
  if (public_server_) public_server_->Shutdown(deadline);
  if (admin_server_) admin_server_->Shutdown(deadline);
}

}  // namespace sitechain::slsm
