#include "nlsm/grpc_site_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/grpc_status.h"
#include "common/grpc_tls.h"
#include "nlsm/site_messages.h"
#include "pki/ca_files.h"
#include "pki/csr.h"
#include "pki/profile.h"
#include "sitechain/v1/site.grpc.pb.h"

namespace sitechain::nlsm {
namespace {

std::string AsBytes(std::span<const uint8_t> der) { return std::string(der.begin(), der.end()); }
std::vector<uint8_t> BytesOf(const std::string& s) { return {s.begin(), s.end()}; }

void SetDeadline(grpc::ClientContext& context, Seconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

// The slsm's refusal, or UNAVAILABLE naming the address when it could not be reached.
Status CallStatus(const grpc::Status& status, const std::string& address) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unavailable("cannot reach the site manager at " + address + ": " +
                       status.error_message());
  }
  return FromGrpcStatus(status);
}

void ToProto(const InstanceReport& in, v1::InstanceStatus* out) {
  out->set_service(in.service);
  out->set_state(in.state);
  out->set_detail(in.detail);
}

class GrpcCommandStream final : public CommandStream {
 public:
  GrpcCommandStream(
      std::shared_ptr<v1::Site::Stub> stub, std::unique_ptr<grpc::ClientContext> context,
      std::unique_ptr<grpc::ClientReaderWriter<v1::NodeMessage, v1::NodeCommand>> stream,
      std::string address)
      : stub_(std::move(stub)),
        context_(std::move(context)),
        stream_(std::move(stream)),
        address_(std::move(address)) {}
  ~GrpcCommandStream() override { (void)Close(); }

  std::optional<Command> Next() override {
    v1::NodeCommand command;
    if (!stream_->Read(&command)) {
      ended_ = true;
      return std::nullopt;
    }
    return CommandFromProto(command);
  }
  bool SendHeartbeat(uint64_t counter) override {
    v1::NodeMessage m;
    m.set_heartbeat(counter);
    return Write(m);
  }
  bool SendInstance(const InstanceReport& report) override {
    v1::NodeMessage m;
    ToProto(report, m.mutable_instance());
    return Write(m);
  }
  void Cancel() override {
    if (!ended_) context_->TryCancel();  // once the reads ran out, keep the slsm's status
  }
  Status Close() override {
    if (!ended_) {  // abandoning a live stream: cancel, then let the reads run out
      context_->TryCancel();
      v1::NodeCommand ignored;
      while (stream_->Read(&ignored)) {
      }
      ended_ = true;
    }
    std::lock_guard lock(mu_);
    if (closed_) return final_;
    closed_ = true;
    // The slsm's own status when it ended the stream (eviction, a foreign certificate, ...).
    final_ = CallStatus(stream_->Finish(), address_);
    return final_;
  }

 private:
  bool Write(const v1::NodeMessage& m) {
    std::lock_guard lock(mu_);
    return !closed_ && stream_->Write(m);
  }

  std::shared_ptr<v1::Site::Stub> stub_;  // outlives the stream
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::NodeMessage, v1::NodeCommand>> stream_;
  const std::string address_;
  std::atomic<bool> ended_{false};  // the reads have run out
  std::mutex mu_;                   // one writer at a time; guards closed_ and final_
  bool closed_ = false;
  Status final_;
};

}  // namespace

struct GrpcSiteClient::Impl {
  std::string address;
  Seconds timeout;
  ChannelLiveness liveness;
  std::string site_root_pem, key_pem;
  mutable std::mutex mu;
  std::shared_ptr<v1::Site::Stub> stub_;  // guarded by mu; replaced by SetNodeCertificate

  void Dial(const std::string& certificate_pem) {
    auto stub = std::shared_ptr<v1::Site::Stub>(v1::Site::NewStub(DialTls(
        address, {site_root_pem, certificate_pem, key_pem}, kDefaultMaxMessageBytes, liveness)));
    std::lock_guard lock(mu);
    stub_ = std::move(stub);
  }
  std::shared_ptr<v1::Site::Stub> stub() const {
    std::lock_guard lock(mu);
    return stub_;
  }
};

GrpcSiteClient::GrpcSiteClient(const std::string& address, const NodeIdentity& identity,
                               Random& rng, Seconds call_timeout)
    : GrpcSiteClient(address, identity, rng, SiteClientOptions{.call_timeout = call_timeout}) {}

GrpcSiteClient::GrpcSiteClient(const std::string& address, const NodeIdentity& identity,
                               Random& rng, const SiteClientOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = address;
  impl_->timeout = options.call_timeout;
  impl_->liveness = {options.keepalive_time, options.keepalive_timeout,
                     options.max_reconnect_backoff, options.connect_timeout};
  impl_->site_root_pem = identity.site_root.ToPem();
  impl_->key_pem = identity.key.ToPem(std::nullopt, rng);
  impl_->Dial(identity.certificate.ToPem());
}

void GrpcSiteClient::SetNodeCertificate(const pki::Certificate& certificate) {
  impl_->Dial(certificate.ToPem());
}

GrpcSiteClient::~GrpcSiteClient() = default;

Result<std::vector<RenewalOutcome>> GrpcSiteClient::Renew(
    const std::vector<RenewalEntry>& entries) {
  return RenewWithin(entries, impl_->timeout);
}

Result<std::vector<RenewalOutcome>> GrpcSiteClient::RenewWithin(
    const std::vector<RenewalEntry>& entries, std::chrono::milliseconds budget) {
  v1::RenewRequest request;
  for (const auto& e : entries) {
    auto* i = request.add_instances();
    i->set_service(e.service);
    i->set_csr_der(AsBytes(e.csr_der));
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::min(budget, std::chrono::milliseconds(impl_->timeout)));
  v1::RenewResponse response;
  const grpc::Status status = impl_->stub()->Renew(&context, request, &response);
  if (!status.ok()) return CallStatus(status, impl_->address);
  return OutcomesFromProto(response);
}

Status GrpcSiteClient::FetchPackage(
    const std::string& service, const std::function<Status(const PackageHeader&)>& on_header,
    const std::function<Status(std::span<const uint8_t>)>& on_chunk) {
  grpc::ClientContext context;
  SetDeadline(context, impl_->timeout * 20);  // packages may be large
  v1::FetchPackageRequest request;
  request.set_service(service);
  auto reader = impl_->stub()->FetchPackage(&context, request);
  v1::FetchPackageResponse message;
  bool header_seen = false;
  Status failure;
  while (failure.ok() && reader->Read(&message)) {
    if (message.has_header()) {
      if (header_seen) {
        failure = DataLoss("the site manager sent two package headers");
        break;
      }
      header_seen = true;
      failure = on_header(HeaderFromProto(message.header()));
    } else if (!header_seen) {
      failure = DataLoss("the site manager sent data before the package header");
    } else {
      const std::string& chunk = message.chunk();
      failure = on_chunk({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
    }
  }
  if (!failure.ok()) {
    context.TryCancel();
    (void)reader->Finish();
    return failure;
  }
  SITECHAIN_RETURN_IF_ERROR(CallStatus(reader->Finish(), impl_->address));
  if (!header_seen) return DataLoss("the site manager's reply carried no package");
  return Status::Ok();
}

Result<pki::Certificate> GrpcSiteClient::RenewNode(std::span<const uint8_t> csr_der) {
  v1::RenewNodeRequest request;
  request.set_csr_der(AsBytes(csr_der));
  grpc::ClientContext context;
  SetDeadline(context, impl_->timeout);
  v1::RenewNodeResponse response;
  const grpc::Status status = impl_->stub()->RenewNode(&context, request, &response);
  if (!status.ok()) return CallStatus(status, impl_->address);
  return pki::Certificate::FromDer(BytesOf(response.node_certificate_der()));
}

Result<std::unique_ptr<CommandStream>> GrpcSiteClient::Connect(
    const std::vector<InstanceReport>& hello) {
  auto context = std::make_unique<grpc::ClientContext>();
  auto stub = impl_->stub();
  auto stream = stub->Connect(context.get());
  v1::NodeMessage message;
  auto* h = message.mutable_hello();
  for (const auto& r : hello) ToProto(r, h->add_instances());
  if (!stream->Write(message)) {
    context->TryCancel();
    return CallStatus(stream->Finish(), impl_->address);
  }
  return std::unique_ptr<CommandStream>(new GrpcCommandStream(std::move(stub), std::move(context),
                                                              std::move(stream), impl_->address));
}

Result<std::string> TokenFingerprint(const std::string& token) {
  const size_t dot = token.rfind('.');
  if (dot == std::string::npos || token.size() - dot - 1 != 64) {
    return InvalidArgument(
        "malformed join token (expected <id>.<secret>.<site root sha256>); ask the site admin "
        "for one (slsm tokens create NODE)");
  }
  return token.substr(dot + 1);
}

namespace {

// Asks whoever answers at address for the site root; nothing about the answer is believed yet.
Result<pki::Certificate> FetchUnverifiedRoot(const std::string& address, Seconds timeout) {
  auto stub = v1::Site::NewStub(DialTlsUnverified(address));
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  v1::GetSiteRootResponse response;
  const grpc::Status status = stub->GetSiteRoot(&context, {}, &response);
  if (!status.ok()) return CallStatus(status, address);
  return pki::Certificate::FromDer(BytesOf(response.site_root_der()));
}

}  // namespace

Result<NodeIdentity> Enroll(const std::string& address, const std::string& token,
                            const std::string& node, pki::PrivateKey node_key, Random& rng,
                            Seconds timeout) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string fingerprint, TokenFingerprint(token));
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate site_root, FetchUnverifiedRoot(address, timeout));
  if (site_root.Sha256Fingerprint() != fingerprint) {
    return Unauthenticated("the server at " + address + " presented a site root with SHA-256 " +
                           site_root.Sha256Fingerprint() + ", but the join token names " +
                           fingerprint +
                           ": this is not your site manager (or the token is for "
                           "another site); nothing was sent");
  }
  // From here on the server must prove it holds a certificate under that root.
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::Create(node_key, node, rng));
  auto stub = v1::Site::NewStub(DialTls(address, {site_root.ToPem(), std::nullopt, std::nullopt}));
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  v1::EnrollRequest request;
  request.set_token(token);
  request.set_node(node);
  request.set_csr_der(AsBytes(csr.ToDer()));
  v1::EnrollResponse response;
  const grpc::Status status = stub->Enroll(&context, request, &response);
  if (!status.ok()) return CallStatus(status, address);
  SITECHAIN_ASSIGN_OR_RETURN(auto cert,
                             pki::Certificate::FromDer(BytesOf(response.node_certificate_der())));
  if (cert.PublicKeyDer() != node_key.PublicKeyDer() || !cert.SignatureVerifiesWith(site_root)) {
    return DataLoss(
        "the site manager returned a node certificate that is not for this key or "
        "not signed by the site root");
  }
  return NodeIdentity{std::move(cert), std::move(node_key), std::move(site_root)};
}

Result<NodeIdentity> EnrollNode(const EnrollOptions& o, const Clock& clock, Random& rng) {
  SITECHAIN_RETURN_IF_ERROR(pki::ValidateIdentifier("node name", o.node));
  if (PathExists(o.dir + "/nlsm.json") || PathExists(o.dir + "/node.key")) {
    return AlreadyExists(o.dir + " already holds an enrolled node; use another --dir");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto store_root, pki::LoadStoreRoot(o.store_root_path, clock));
  SITECHAIN_ASSIGN_OR_RETURN(pki::KeyType type, pki::ParseKeyType(o.key_type));
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(o.dir, 0700));
  SITECHAIN_ASSIGN_OR_RETURN(
      NodeIdentity identity,
      Enroll(o.slsm, o.token, o.node, pki::PrivateKey::Generate(type, rng), rng));
  // The key first: a crash before the config leaves a directory `enroll` refuses, never a
  // certificate without its key.
  SITECHAIN_RETURN_IF_ERROR(identity.key.Save(o.dir + "/node.key", std::nullopt, rng));
  SITECHAIN_RETURN_IF_ERROR(identity.certificate.Save(o.dir + "/node.pem"));
  SITECHAIN_RETURN_IF_ERROR(identity.site_root.Save(o.dir + "/site-root.pem"));
  SITECHAIN_RETURN_IF_ERROR(store_root.Save(o.dir + "/store-root.pem"));
  const nlohmann::json config = {{"node", o.node}, {"slsm", o.slsm}};
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(o.dir + "/nlsm.json", config.dump(2) + "\n", 0644));
  return identity;
}

}  // namespace sitechain::nlsm
