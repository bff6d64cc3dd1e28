#include "nlsm/admin_service.h"

#include "common/time_format.h"

namespace sitechain::nlsm {

void ToProto(const NodeStatusView& in, v1::NodeStatus* out) {
  out->set_node(in.node);
  out->set_site(in.site);
  out->set_slsm(in.slsm);
  out->set_connected(in.connected);
  out->set_node_certificate_not_after(FormatTime(in.node_certificate_not_after));
  out->set_isolation(in.isolation);
  for (const auto& i : in.instances) {
    auto* v = out->add_instances();
    v->set_service(i.service);
    v->set_state(i.state);
    v->set_pid(i.pid);
    v->set_release(i.release);
    v->set_digest(i.digest);
    if (i.not_after) v->set_certificate_not_after(FormatTime(*i.not_after));
    if (i.next_renewal) v->set_next_renewal(FormatTime(*i.next_renewal));
    v->set_last_error(i.last_error);
    v->set_restarts(i.restarts);
    v->set_policy_json(i.policy_json);
    v->set_uid(i.uid);
    v->set_cgroup(i.cgroup);
  }
}

grpc::Status NodeAdminService::GetNodeStatus(grpc::ServerContext*, const v1::GetNodeStatusRequest*,
                                             v1::NodeStatus* response) {
  ToProto(manager_.Snapshot(), response);
  return grpc::Status::OK;
}

}  // namespace sitechain::nlsm
