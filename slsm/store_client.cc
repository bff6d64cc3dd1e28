#include "slsm/store_client.h"

#include "common/grpc_status.h"
#include "common/grpc_tls.h"

namespace sitechain::slsm {
namespace {

// The feed stream is idle for hours: without keepalive a link that went silent (a firewall
// dropping it) stays "ready" forever and every call on it waits for its deadline, even after
// the link heals. Pinged after 10 s without a frame, dead after 5 s more; reconnect attempts at
// most 10 s apart, so a healed link is used again within seconds.
constexpr ChannelLiveness kStoreLinkLiveness{.keepalive_time = std::chrono::seconds(10),
                                             .keepalive_timeout = std::chrono::seconds(5),
                                             .max_reconnect_backoff = std::chrono::seconds(10),
                                             .connect_timeout = std::chrono::seconds(10)};

}  // namespace

StoreClient::StoreClient(const std::string& address, const std::string& store_root_pem,
                         Seconds download_timeout)
    : address_(address),
      download_timeout_(download_timeout),
      stub_(v1::Store::NewStub(DialTls(address, {store_root_pem, std::nullopt, std::nullopt},
                                       kDefaultMaxMessageBytes, kStoreLinkLiveness))) {}

Status StoreClient::Download(const std::string& name, const std::string& version,
                             const std::function<Status(const ReleaseHeader&)>& on_header,
                             const std::function<Status(std::span<const uint8_t>)>& on_chunk) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + download_timeout_);
  v1::DownloadRequest request;
  request.set_name(name);
  request.set_version(version);
  auto reader = stub_->Download(&context, request);
  v1::DownloadResponse message;
  bool header_seen = false;
  Status failure;
  while (failure.ok() && reader->Read(&message)) {
    if (message.has_header()) {
      if (header_seen) {
        failure = DataLoss("the store sent two release headers");
        break;
      }
      header_seen = true;
      const auto& h = message.header();
      const auto& r = h.release();
      if (r.revoked()) {
        failure = FailedPrecondition(r.name() + " " + r.version() + " is revoked at the store (" +
                                     r.revocation_reason() + "); it cannot be installed");
        break;
      }
      failure = on_header({r.name(), r.version(), r.release_counter(), r.developer(),
                           r.digest_algorithm(), r.digest(), r.size(), h.cert_dev_pem(),
                           h.cert_store_pem(), h.developer_certificate_pem()});
    } else if (!header_seen) {
      failure = DataLoss("the store sent data before the release header");
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
  const grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unavailable("cannot reach the store at " + address_ + ": " + status.error_message());
  }
  if (!status.ok()) return FromGrpcStatus(status).WithContext("the store");
  if (!header_seen) return DataLoss("the store's reply carried no release");
  return Status::Ok();
}

}  // namespace sitechain::slsm
