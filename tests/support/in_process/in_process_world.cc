#include "tests/support/in_process/in_process_world.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>

#include "common/files.h"
#include "common/grpc_tls.h"
#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/profile.h"
#include "sitechain/v1/store.grpc.pb.h"
#include "slsm/config.h"
#include "store/store_ca.h"

namespace sitechain::testutil {
namespace {

// An admin call's failure as UNAVAILABLE naming the server and the call.
Status AdminStatus(std::string_view what, const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  return Unavailable(std::string(what) + ": " + s.error_message());
}

}  // namespace

// --- ScratchDir

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

Result<std::unique_ptr<ScratchDir>> ScratchDir::Create(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" +
                      std::string(prefix) + ".XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Unavailable("cannot create a temporary directory from " + templ);
  }
  return std::unique_ptr<ScratchDir>(new ScratchDir(std::move(templ)));
}

// --- InProcessWorld

InProcessWorld::~InProcessWorld() {
  if (server_) server_->Shutdown(std::chrono::milliseconds(0));
}

Result<std::unique_ptr<InProcessWorld>> InProcessWorld::Create(std::string_view prefix,
                                                               const Clock& clock, Random& rng) {
  SITECHAIN_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> dir, ScratchDir::Create(prefix));
  return std::unique_ptr<InProcessWorld>(new InProcessWorld(std::move(dir), clock, rng));
}

// As `store init` and `store serve` do it.
Status InProcessWorld::StartStore() {
  const std::string store_dir = dir() + "/store";
  store::StoreCa::InitOptions init;
  init.dir = store_dir;
  SITECHAIN_RETURN_IF_ERROR(store::StoreCa::Init(init, clock_, rng_).status());
  store::ServeOptions serve = store_options_;
  serve.dir = store_dir;
  serve.listen = "127.0.0.1:0";
  SITECHAIN_ASSIGN_OR_RETURN(server_, store::StoreServer::Start(serve, clock_, rng_));
  store_options_ = serve;
  connection_.address = "127.0.0.1:" + std::to_string(server_->port());
  connection_.store_root = store_dir + "/root.pem";
  return Status::Ok();
}

// As `store tokens create` and `devkit register` do it.
Status InProcessWorld::RegisterDeveloper(const std::string& name) {
  const std::string dev_dir = dir() + "/developer";
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(dev_dir, 0700));
  auto admin = v1::StoreAdmin::NewStub(DialUnix(store_options_.AdminSocket()));
  v1::CreateTokenRequest token_request;
  token_request.set_note(name);
  v1::CreateTokenResponse token;
  {
    grpc::ClientContext context;
    SITECHAIN_RETURN_IF_ERROR(
        AdminStatus("store CreateToken", admin->CreateToken(&context, token_request, &token)));
  }
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSIGN_OR_RETURN(pki::CertificateRequest csr,
                             pki::CertificateRequest::Create(key, name, rng_));
  std::ostringstream out;
  devkit::RegisterOptions reg;
  reg.store = connection_;
  reg.token = token.token();
  reg.csr = dev_dir + "/" + name + ".csr";
  reg.out = dev_dir + "/" + name + ".pem";
  SITECHAIN_RETURN_IF_ERROR(csr.Save(reg.csr));
  SITECHAIN_RETURN_IF_ERROR(devkit::Register(reg, out));
  SITECHAIN_ASSIGN_OR_RETURN(identity_, pki::Certificate::Load(reg.out));
  connection_.cert = reg.out;
  connection_.key = dev_dir + "/" + name + ".key";
  SITECHAIN_RETURN_IF_ERROR(key.Save(*connection_.key, std::nullopt, rng_));
  developer_key_ = std::move(key);
  return Status::Ok();
}

// As `devkit sign` and `devkit publish` do it.
Status InProcessWorld::Publish(const WorldRelease& release) {
  if (!identity_ || !developer_key_) return FailedPrecondition("no developer is registered");
  devkit::PublishOptions publish;
  publish.store = connection_;
  publish.executable = dir() + "/" + release.file;
  publish.cert_dev = dir() + "/" + release.CertDevFile();
  publish.out = dir() + "/" + release.CertStoreFile();
  SITECHAIN_ASSIGN_OR_RETURN(pki::Digest digest,
                             pki::HashFile(pki::HashAlgorithm::kSha256, publish.executable));
  const pki::ReleaseSpec spec{pki::ServiceRelease{release.name, release.version, release.release},
                              digest, std::nullopt};
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert_dev,
                             pki::BuildCertDev(spec, *identity_, *developer_key_,
                                               pki::kDefaultCertDevLifetime, {clock_, rng_}));
  SITECHAIN_RETURN_IF_ERROR(cert_dev.Save(publish.cert_dev));
  std::ostringstream out;
  return devkit::Publish(publish, out);
}

// As `slsm init` and `slsm serve` do it.
Result<std::unique_ptr<InProcessSite>> InProcessWorld::StartSite(
    const std::string& subdir, std::string_view site, std::string_view key_type,
    const std::optional<slsm::SiteOptions>& options) {
  const std::string site_dir = dir() + "/" + subdir;
  slsm::InitOptions init;
  init.dir = site_dir;
  init.site = site;
  init.store = connection_.address;
  init.store_root_path = connection_.store_root;
  init.key_type = key_type;
  SITECHAIN_RETURN_IF_ERROR(slsm::InitSite(init, clock_, rng_).status());
  SITECHAIN_ASSIGN_OR_RETURN(slsm::SlsmConfig config, slsm::LoadConfig(site_dir, ""));
  config.listen = "127.0.0.1:0";
  if (options) config.site_options = *options;
  SITECHAIN_ASSIGN_OR_RETURN(std::unique_ptr<slsm::SlsmServer> server,
                             slsm::SlsmServer::Start(site_dir, config, std::nullopt, clock_, rng_));
  return std::unique_ptr<InProcessSite>(new InProcessSite(site_dir, std::move(server)));
}

// --- InProcessSite

InProcessSite::InProcessSite(std::string dir, std::unique_ptr<slsm::SlsmServer> server)
    : dir_(std::move(dir)),
      address_("127.0.0.1:" + std::to_string(server->port())),
      server_(std::move(server)),
      admin_(v1::SiteAdmin::NewStub(DialUnix(dir_ + "/admin.sock"))) {}

InProcessSite::~InProcessSite() {
  admin_.reset();
  if (server_) server_->Shutdown(std::chrono::milliseconds(0));
}

Status InProcessSite::Install(const std::string& service) const {
  v1::InstallRequest request;
  request.set_name(service);
  v1::InstalledRelease installed;
  grpc::ClientContext context;
  return AdminStatus("slsm Install " + service, admin_->Install(&context, request, &installed));
}

Result<std::string> InProcessSite::CreateJoinToken(const std::string& node) const {
  v1::CreateJoinTokenRequest request;
  request.set_node(node);
  v1::CreateJoinTokenResponse token;
  grpc::ClientContext context;
  SITECHAIN_RETURN_IF_ERROR(
      AdminStatus("slsm CreateJoinToken", admin_->CreateJoinToken(&context, request, &token)));
  return token.token();
}

Status InProcessSite::Deploy(const std::string& service, const std::vector<std::string>& nodes,
                             int* instances) const {
  v1::DeployRequest request;
  request.set_service(service);
  for (const std::string& node : nodes) request.add_nodes(node);
  v1::DeployResponse response;
  grpc::ClientContext context;
  SITECHAIN_RETURN_IF_ERROR(
      AdminStatus("slsm Deploy " + service, admin_->Deploy(&context, request, &response)));
  if (instances != nullptr) *instances = response.instances_size();
  return Status::Ok();
}

Status InProcessSite::Undeploy(const std::string& service,
                               const std::vector<std::string>& nodes) const {
  v1::DeployRequest request;
  request.set_service(service);
  for (const std::string& node : nodes) request.add_nodes(node);
  v1::DeployResponse response;
  grpc::ClientContext context;
  return AdminStatus("slsm Undeploy " + service, admin_->Undeploy(&context, request, &response));
}

}  // namespace sitechain::testutil
