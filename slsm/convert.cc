#include "slsm/convert.h"

#include "common/grpc_status.h"
#include "common/time_format.h"

namespace sitechain::slsm {
namespace {

std::string AsBytes(const std::vector<uint8_t>& der) { return std::string(der.begin(), der.end()); }

}  // namespace

std::vector<uint8_t> BytesOf(const std::string& proto_bytes) {
  return std::vector<uint8_t>(proto_bytes.begin(), proto_bytes.end());
}

void ToProto(const ReleaseRecord& in, v1::InstalledRelease* out) {
  out->set_name(in.name);
  out->set_version(in.version);
  out->set_release_counter(in.release_counter);
  out->set_developer(in.developer);
  out->set_digest_algorithm(in.digest_algorithm);
  out->set_digest(in.digest);
  out->set_size(in.size);
  out->set_installed_at(FormatTime(in.installed_at));
  out->set_revoked(in.revoked);
  out->set_revocation_reason(in.revocation_reason);
}

void ToProto(const ServiceView& in, v1::Service* out) {
  out->set_name(in.service.name);
  ToProto(in.release, out->mutable_release());
  out->set_policy_json(in.service.policy_json);
  out->set_instances(in.instances);
}

void ToProto(const InstanceRecord& in, v1::Instance* out) {
  out->set_service(in.service);
  out->set_node(in.node);
  out->set_deployed_at(FormatTime(in.deployed_at));
  out->set_certificate_serial(in.certificate_serial);
  if (in.certificate_not_after) {
    out->set_certificate_not_after(FormatTime(*in.certificate_not_after));
  }
  out->set_node_state(in.node_state);
  out->set_node_detail(in.node_detail);
}

void ToProto(const IssuedRecord& in, v1::IssuedEntry* out) {
  out->set_serial(in.serial);
  out->set_kind(in.kind);
  out->set_subject(in.subject);
  out->set_node(in.node);
  out->set_service(in.service);
  out->set_not_after(FormatTime(in.not_after));
  out->set_issued_at(FormatTime(in.issued_at));
}

void ToProto(const NodeRecord& in, bool up, uint32_t instances, v1::Node* out) {
  out->set_name(in.name);
  out->set_connected(up);
  if (in.last_seen) out->set_last_seen(FormatTime(*in.last_seen));
  out->set_certificate_not_after(FormatTime(in.certificate_not_after));
  out->set_enrolled_at(FormatTime(in.enrolled_at));
  out->set_evicted(in.evicted_at.has_value());
  out->set_instances(instances);
}

void ToProto(const NodeCommand& in, v1::NodeCommand* out) {
  switch (in.kind) {
    case NodeCommand::Kind::kDeploy:
      out->mutable_deploy()->set_service(in.services.at(0));
      out->mutable_deploy()->set_digest(in.digest);
      break;
    case NodeCommand::Kind::kStop:
      out->mutable_stop()->set_service(in.services.at(0));
      out->mutable_stop()->set_reason(in.reason);
      break;
    case NodeCommand::Kind::kRenewNow:
      for (const auto& s : in.services) out->mutable_renew_now()->add_services(s);
      out->mutable_renew_now()->set_window_seconds(static_cast<uint32_t>(in.window.count()));
      break;
    case NodeCommand::Kind::kHeartbeatAck:
      out->set_heartbeat_ack(in.heartbeat);
      break;
  }
}

void ToProto(const RenewalResult& in, v1::IssuedCertificate* out) {
  out->set_service(in.service);
  out->set_code(static_cast<int32_t>(ToGrpcStatus(in.status).error_code()));  // google.rpc.Code
  out->set_message(in.status.message());
  if (in.certificate) out->set_cert_site_der(AsBytes(in.certificate->ToDer()));
  out->set_renew_after(ToUnixSeconds(in.renew_after));
  out->set_renew_before(ToUnixSeconds(in.renew_before));
}

}  // namespace sitechain::slsm
