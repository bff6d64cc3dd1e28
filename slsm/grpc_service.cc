#include "slsm/grpc_service.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/grpc_status.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/time_format.h"
#include "server/refusal.h"
#include "slsm/convert.h"
#include "slsm/node_messages.h"

namespace sitechain::slsm {
namespace {

using server::Refuse;

std::string AsBytes(const std::vector<uint8_t>& der) { return std::string(der.begin(), der.end()); }

std::span<const uint8_t> SpanOf(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

Result<std::string> PemToDer(const std::string& pem) {
  SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::FromPem(pem));
  return AsBytes(cert.ToDer());
}

}  // namespace

grpc::Status SiteGrpcService::GetSiteRoot(grpc::ServerContext*, const v1::GetSiteRootRequest*,
                                          v1::GetSiteRootResponse* response) {
  response->set_site_root_der(AsBytes(service_.site_root().ToDer()));
  response->set_site(service_.site());
  return grpc::Status::OK;
}

grpc::Status SiteGrpcService::Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                                     v1::EnrollResponse* response) {
  auto enrolled = service_.Enroll(request->token(), request->node(), SpanOf(request->csr_der()));
  if (!enrolled.ok()) return Refuse("Enroll", *context, enrolled.status());
  response->set_node_certificate_der(AsBytes(enrolled->node_certificate.ToDer()));
  response->set_site_root_der(AsBytes(enrolled->site_root.ToDer()));
  spdlog::info("enrolled node={} serial={} not_after={}", request->node(),
               enrolled->node_certificate.SerialHex(),
               FormatTime(enrolled->node_certificate.NotAfter()));
  return grpc::Status::OK;
}

grpc::Status SiteGrpcService::RenewNode(grpc::ServerContext* context,
                                        const v1::RenewNodeRequest* request,
                                        v1::RenewNodeResponse* response) {
  auto node = service_.AuthenticateNodeForRenewal(PeerCertificatePem(*context));
  if (!node.ok()) return Refuse("RenewNode", *context, node.status());
  auto cert = service_.RenewNode(*node, SpanOf(request->csr_der()));
  if (!cert.ok()) return Refuse("RenewNode", *context, cert.status());
  response->set_node_certificate_der(AsBytes(cert->ToDer()));
  spdlog::info("renewed node certificate node={} serial={}", node->name, cert->SerialHex());
  return grpc::Status::OK;
}

grpc::Status SiteGrpcService::Connect(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::NodeCommand, v1::NodeMessage>* stream) {
  auto node = service_.AuthenticateNode(PeerCertificatePem(*context));
  if (!node.ok()) return Refuse("Connect", *context, node.status());
  // A node whose backlog passes the bound is ended by the hub, which cancels the call: the
  // writer below may be blocked on the node's flow-control window (a node that never reads).
  auto session = hub_.Attach(node->name, [context] { context->TryCancel(); });
  service_.NodeSeen(node->name);
  spdlog::info("node connected node={} peer={}", node->name, context->peer());

  // The reader runs beside the writer: gRPC allows one Read and one Write at a time.
  std::thread reader([&] {
    v1::NodeMessage message;
    while (stream->Read(&message)) {
      if (Status s = HandleNodeMessage(service_, hub_, *session, message); !s.ok()) {
        spdlog::error("cannot reconcile node={}: {}", node->name, s.ToString());
      }
    }
    hub_.Detach(session);  // wakes the writer
  });
  // The first kMaxLoggedCommands commands of a stream are logged one a line, the rest counted
  // in its "node disconnected" line: a node replaying hellos of 1000 services it does not run
  // must not turn the slsm's log into its own flood.
  constexpr uint64_t kMaxLoggedCommands = 100;
  uint64_t logged = 0, unlogged = 0;
  while (!hub_.closed(*session) && !context->IsCancelled()) {
    auto command = hub_.Next(*session, std::chrono::milliseconds(500));
    if (!command) continue;
    v1::NodeCommand out;
    ToProto(*command, &out);
    if (!stream->Write(out)) break;
    if (command->kind == NodeCommand::Kind::kHeartbeatAck) continue;
    if (logged < kMaxLoggedCommands) {
      ++logged;
      spdlog::info("sent {} to node={}", out.ShortDebugString(), node->name);
    } else {
      ++unlogged;
    }
  }
  hub_.Detach(session);
  context->TryCancel();  // ends the reader's Read if the node is still sending
  reader.join();
  service_.NodeSeen(node->name);
  const std::string more =
      unlogged == 0 ? "" : " (" + std::to_string(unlogged) + " more commands sent, not logged)";
  if (auto reason = hub_.CloseReason(*session)) {
    spdlog::warn("node disconnected node={}: {}{}", node->name, reason->message(), more);
    return ToGrpcStatus(*reason);
  }
  spdlog::info("node disconnected node={}{}", node->name, more);
  return grpc::Status::OK;
}

grpc::Status SiteGrpcService::FetchPackage(grpc::ServerContext* context,
                                           const v1::FetchPackageRequest* request,
                                           grpc::ServerWriter<v1::FetchPackageResponse>* writer) {
  auto node = service_.AuthenticateNode(PeerCertificatePem(*context));
  if (!node.ok()) return Refuse("FetchPackage", *context, node.status());
  auto package = service_.PackageFor(*node, request->service());
  if (!package.ok()) return Refuse("FetchPackage", *context, package.status());
  const ReleaseRecord& r = package->release;
  v1::FetchPackageResponse message;
  auto* header = message.mutable_header();
  header->set_service(request->service());
  header->set_name(r.name);
  header->set_version(r.version);
  header->set_release_counter(r.release_counter);
  header->set_digest_algorithm(r.digest_algorithm);
  header->set_digest(r.digest);
  header->set_size(r.size);
  for (auto [pem, field] :
       {std::pair{&r.cert_dev_pem, header->mutable_cert_dev_der()},
        std::pair{&r.cert_store_pem, header->mutable_cert_store_der()},
        std::pair{&r.developer_certificate_pem, header->mutable_developer_certificate_der()}}) {
    auto der = PemToDer(*pem);
    if (!der.ok()) return Refuse("FetchPackage", *context, der.status());
    *field = std::move(*der);
  }
  if (!writer->Write(message)) return grpc::Status(grpc::StatusCode::CANCELLED, "node went away");
  std::string buffer(kPackageChunkBytes, '\0');
  uint64_t sent = 0;
  while (sent < r.size) {
    const ssize_t n =
        ::pread(package->fd.get(), buffer.data(), buffer.size(), static_cast<off_t>(sent));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Refuse("FetchPackage", *context,
                    DataLoss("the stored package of " + r.name + " " + r.version +
                             " is shorter than recorded"));
    }
    message.Clear();
    message.set_chunk(buffer.data(), static_cast<size_t>(n));
    if (!writer->Write(message)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "node went away");
    }
    sent += static_cast<uint64_t>(n);
  }
  spdlog::info("package service={} version={} bytes={} node={}", request->service(), r.version,
               sent, node->name);
  return grpc::Status::OK;
}

grpc::Status SiteGrpcService::Renew(grpc::ServerContext* context, const v1::RenewRequest* request,
                                    v1::RenewResponse* response) {
  auto node = service_.AuthenticateNode(PeerCertificatePem(*context));
  if (!node.ok()) return Refuse("Renew", *context, node.status());
  std::vector<RenewalRequest> requests;
  requests.reserve(static_cast<size_t>(request->instances_size()));
  for (const auto& i : request->instances()) {
    requests.push_back({i.service(), BytesOf(i.csr_der())});
  }
  auto results = service_.Renew(*node, requests);
  if (!results.ok()) return Refuse("Renew", *context, results.status());
  for (const auto& der : federated_roots_der_) {
    response->add_federated_root_der(der.data(), der.size());
  }
  // Refusals are logged one a line up to kMaxRefusalLines a call, then counted in one line: a
  // node naming hundreds of services it does not run must not turn the log into its own flood.
  constexpr size_t kMaxRefusalLines = 10;
  size_t refused = 0;
  for (const auto& r : *results) {
    ToProto(r, response->add_certificates());
    if (r.certificate) {
      spdlog::info("issued Cert_site serial={} node={} service={} not_after={}",
                   r.certificate->SerialHex(), node->name, r.service,
                   FormatTime(r.certificate->NotAfter()));
    } else if (++refused <= kMaxRefusalLines) {
      spdlog::warn("Cert_site refused node={} service={} {}", node->name, r.service,
                   r.status.ToString());
    }
  }
  if (refused > kMaxRefusalLines) {
    spdlog::warn("Cert_site refused node={}: {} more entries of the same call", node->name,
                 refused - kMaxRefusalLines);
  }
  return grpc::Status::OK;
}

}  // namespace sitechain::slsm
