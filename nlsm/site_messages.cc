#include "nlsm/site_messages.h"

#include "common/grpc_status.h"
#include "pki/certificate.h"

namespace sitechain::nlsm {
namespace {

std::vector<uint8_t> BytesOf(const std::string& s) { return {s.begin(), s.end()}; }

// A refusal's google.rpc.Code as the slsm sent it. A number that is no code (outside 1..16) is
// read as UNKNOWN, naming the number: casting it into grpc::StatusCode is undefined behaviour.
Status StatusFromCode(int32_t code, const std::string& message) {
  if (code == 0) return Status::Ok();
  if (code < 0 || code > grpc::StatusCode::UNAUTHENTICATED) {
    return FromGrpcStatus(grpc::Status(
        grpc::StatusCode::UNKNOWN, "the site manager refused with code " + std::to_string(code) +
                                       ", which is no code: " + message));
  }
  return FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), message));
}

}  // namespace

Command CommandFromProto(const v1::NodeCommand& in) {
  Command c;
  switch (in.kind_case()) {
    case v1::NodeCommand::kDeploy:
      c.kind = Command::Kind::kDeploy;
      c.services = {in.deploy().service()};
      c.digest = in.deploy().digest();
      break;
    case v1::NodeCommand::kStop:
      c.kind = Command::Kind::kStop;
      c.services = {in.stop().service()};
      c.reason = in.stop().reason();
      break;
    case v1::NodeCommand::kRenewNow:
      c.kind = Command::Kind::kRenewNow;
      c.services = {in.renew_now().services().begin(), in.renew_now().services().end()};
      c.window = Seconds(in.renew_now().window_seconds());
      break;
    default:
      c.kind = Command::Kind::kHeartbeatAck;
      c.heartbeat = in.heartbeat_ack();
      break;
  }
  return c;
}

std::vector<RenewalOutcome> OutcomesFromProto(const v1::RenewResponse& response) {
  // The roots are checked by the services (service_identity/peer_verifier.h), which take each
  // for its own trust domain only; what does not decode is not passed on.
  std::string federation;
  for (const auto& der : response.federated_root_der()) {
    if (auto root = pki::Certificate::FromDer(BytesOf(der)); root.ok()) federation += root->ToPem();
  }
  std::vector<RenewalOutcome> out;
  for (const auto& c : response.certificates()) {
    out.push_back({c.service(), StatusFromCode(c.code(), c.message()), BytesOf(c.cert_site_der()),
                   FromUnixSeconds(c.renew_after()), FromUnixSeconds(c.renew_before()),
                   federation});
  }
  return out;
}

PackageHeader HeaderFromProto(const v1::PackageHeader& h) {
  return {h.service(),
          h.name(),
          h.version(),
          h.release_counter(),
          h.digest_algorithm(),
          h.digest(),
          h.size(),
          BytesOf(h.cert_dev_der()),
          BytesOf(h.cert_store_der()),
          BytesOf(h.developer_certificate_der())};
}

}  // namespace sitechain::nlsm
