#include "store/grpc_service.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/grpc_tls.h"
#include "common/log.h"
#include "pki/hash.h"
#include "server/refusal.h"
#include "store/convert.h"

namespace sitechain::store {
namespace {

using server::Refuse;

}  // namespace

grpc::Status StoreGrpcService::Register(grpc::ServerContext* context,
                                        const v1::RegisterRequest* request,
                                        v1::RegisterResponse* response) {
  auto cert = service_.Register(request->token(), request->csr_pem());
  if (!cert.ok()) return Refuse("Register", *context, cert.status());
  response->set_developer_certificate_pem(cert->ToPem());
  response->set_store_root_pem(service_.root().ToPem());
  spdlog::info("registered developer name={} serial={}", cert->Subject().common_name,
               cert->SerialHex());
  return grpc::Status::OK;
}

grpc::Status StoreGrpcService::Publish(grpc::ServerContext* context,
                                       grpc::ServerReader<v1::PublishRequest>* reader,
                                       v1::PublishResponse* response) {
  auto developer = service_.AuthenticateDeveloper(PeerCertificatePem(*context));
  if (!developer.ok()) return Refuse("Publish", *context, developer.status());
  v1::PublishRequest message;
  if (!reader->Read(&message) || !message.has_header()) {
    return Refuse("Publish", *context,
                  InvalidArgument("a publish stream starts with a PublishHeader"));
  }
  auto upload =
      service_.StartPublish(*developer, message.header().cert_dev_pem(), message.header().size());
  if (!upload.ok()) return Refuse("Publish", *context, upload.status());
  while (reader->Read(&message)) {
    if (!message.has_chunk()) {
      return Refuse("Publish", *context,
                    InvalidArgument("after its header a publish stream carries only chunks"));
    }
    const std::string& chunk = message.chunk();
    Status s = (*upload)->Append({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
    if (!s.ok()) return Refuse("Publish", *context, s);
  }
  if (context->IsCancelled()) {
    spdlog::warn("Publish cancelled by the client after {} bytes; nothing was kept",
                 (*upload)->received());
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the upload");
  }
  auto published = (*upload)->Finish();
  if (!published.ok()) return Refuse("Publish", *context, published.status());
  ToProto(published->release, response->mutable_release());
  response->set_cert_store_pem(published->cert_store.ToPem());
  spdlog::info("published name={} version={} counter={} developer={} size={} digest={}:{}",
               published->release.name, published->release.version,
               published->release.release_counter, published->release.developer,
               published->release.size, published->release.digest_algorithm,
               published->release.digest);
  return grpc::Status::OK;
}

grpc::Status StoreGrpcService::ListReleases(grpc::ServerContext* context,
                                            const v1::ListReleasesRequest* request,
                                            v1::ListReleasesResponse* response) {
  ReleaseFilter filter;
  filter.name = request->name();
  filter.query = request->query();
  filter.developer = request->developer();
  filter.include_revoked = request->include_revoked();
  filter.limit = request->page_size();
  if (!request->page_token().empty()) {
    try {
      filter.before_id = std::stoll(request->page_token());
    } catch (const std::exception&) {
      return Refuse("ListReleases", *context, InvalidArgument("malformed page_token"));
    }
  }
  auto releases = service_.ListReleases(filter);
  if (!releases.ok()) return Refuse("ListReleases", *context, releases.status());
  for (const auto& r : *releases) ToProto(r, response->add_releases());
  if (!releases->empty() && releases->size() >= service_.limits().PageSize(filter.limit)) {
    response->set_next_page_token(std::to_string(releases->back().id));
  }
  return grpc::Status::OK;
}

grpc::Status StoreGrpcService::Download(grpc::ServerContext* context,
                                        const v1::DownloadRequest* request,
                                        grpc::ServerWriter<v1::DownloadResponse>* writer) {
  auto release = service_.FindRelease(request->name(), request->version());
  if (!release.ok()) return Refuse("Download", *context, release.status());
  auto fd = service_.OpenBlob(*release);
  if (!fd.ok()) return Refuse("Download", *context, fd.status());
  v1::DownloadResponse message;
  auto* header = message.mutable_header();
  ToProto(*release, header->mutable_release());
  header->set_cert_dev_pem(release->cert_dev_pem);
  header->set_cert_store_pem(release->cert_store_pem);
  header->set_developer_certificate_pem(release->developer_certificate_pem);
  if (!writer->Write(message)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  }
  // The blob is hashed as it is read, and each chunk is sent only once the next one has been
  // read, so that the last chunk goes out only after the digest matched: a damaged blob (a
  // flipped byte on disk) is never served whole as the release.
  auto alg = pki::ParseHashAlgorithm(release->digest_algorithm);
  if (!alg.ok()) return Refuse("Download", *context, alg.status());
  pki::Hasher hasher(*alg);
  std::string buffer(kDownloadChunkBytes, '\0');
  std::string pending;  // read and hashed, not yet sent
  uint64_t read = 0, sent = 0;
  auto send_pending = [&] {
    if (pending.empty()) return true;
    message.Clear();
    message.set_chunk(std::move(pending));
    pending.clear();
    if (!writer->Write(message)) return false;
    sent += message.chunk().size();
    return true;
  };
  while (read < release->size) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(buffer.size(), release->size - read));
    const ssize_t n = ::pread(fd->get(), buffer.data(), want, static_cast<off_t>(read));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Refuse("Download", *context,
                    DataLoss("the stored executable of " + release->name + " " + release->version +
                             " (blob " + release->blob + ") is shorter than recorded (" +
                             (n < 0 ? std::strerror(errno) : "end of file") + ")"));
    }
    hasher.Update(reinterpret_cast<const uint8_t*>(buffer.data()), static_cast<size_t>(n));
    read += static_cast<uint64_t>(n);
    if (!send_pending()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    pending.assign(buffer.data(), static_cast<size_t>(n));
  }
  if (hasher.Final().Hex() != release->digest) {
    return Refuse("Download", *context,
                  DataLoss("the stored executable of " + release->name + " " + release->version +
                           " (blob " + release->blob +
                           ") does not match its digest: the file is damaged and is not served; "
                           "the developer must publish it again"));
  }
  if (!send_pending()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  spdlog::info("download name={} version={} bytes={} peer={}", release->name, release->version,
               sent, context->peer());
  return grpc::Status::OK;
}

grpc::Status StoreGrpcService::RevokeRelease(grpc::ServerContext* context,
                                             const v1::RevokeReleaseRequest* request,
                                             v1::Revocation* response) {
  auto developer = service_.AuthenticateDeveloper(PeerCertificatePem(*context));
  if (!developer.ok()) return Refuse("RevokeRelease", *context, developer.status());
  auto revocation =
      service_.RevokeRelease(*developer, request->name(), request->version(), request->reason());
  if (!revocation.ok()) return Refuse("RevokeRelease", *context, revocation.status());
  ToProto(*revocation, response);
  spdlog::info("revoked release name={} version={} by={} sequence={}", revocation->name,
               revocation->version, revocation->revoked_by, revocation->sequence);
  return grpc::Status::OK;
}

grpc::Status StoreGrpcService::ListRevocations(grpc::ServerContext* context,
                                               const v1::ListRevocationsRequest* request,
                                               v1::ListRevocationsResponse* response) {
  auto list = service_.RevocationsSince(request->after_sequence(), request->limit());
  if (!list.ok()) return Refuse("ListRevocations", *context, list.status());
  auto last = service_.LastRevocationSequence();
  if (!last.ok()) return Refuse("ListRevocations", *context, last.status());
  for (const auto& r : *list) ToProto(r, response->add_revocations());
  response->set_last_sequence(*last);
  return grpc::Status::OK;
}

grpc::Status StoreGrpcService::WatchRevocations(grpc::ServerContext* context,
                                                const v1::WatchRevocationsRequest* request,
                                                grpc::ServerWriter<v1::Revocation>* writer) {
  // Held until the stream ends: the place of this watch among the limited ones.
  auto slot = watchers_.Acquire(PeerAddress(context->peer()));
  if (!slot.ok()) return Refuse("WatchRevocations", *context, slot.status());
  uint64_t after = request->after_sequence();
  while (!context->IsCancelled()) {
    auto list = service_.RevocationsSince(after, 0);
    if (!list.ok()) return Refuse("WatchRevocations", *context, list.status());
    for (const auto& r : *list) {
      v1::Revocation message;
      ToProto(r, &message);
      if (!writer->Write(message)) return grpc::Status::OK;  // the client went away
      after = r.sequence;
    }
    if (!list->empty()) continue;  // there may be more than one page
    // Wakes on a new revocation; the timeout bounds how long a cancelled call lingers.
    if (!service_.WaitForRevocation(after, std::chrono::milliseconds(500)) &&
        service_.shutting_down()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the store is shutting down");
    }
  }
  return grpc::Status::OK;
}

}  // namespace sitechain::store
