#include "slsm/admin_service.h"

#include <map>

#include "common/log.h"
#include "common/time_format.h"
#include "server/refusal.h"
#include "slsm/convert.h"

namespace sitechain::slsm {
namespace {

std::vector<std::string> NodesOf(const v1::DeployRequest& request) {
  return {request.nodes().begin(), request.nodes().end()};
}

}  // namespace

grpc::Status SiteAdminService::Install(grpc::ServerContext*, const v1::InstallRequest* request,
                                       v1::InstalledRelease* response) {
  auto release = service_.Install(request->name(), request->version());
  if (!release.ok()) return server::RefuseAdmin("Install", release.status());
  ToProto(*release, response);
  spdlog::info("installed name={} version={} counter={} digest={}:{}", release->name,
               release->version, release->release_counter, release->digest_algorithm,
               release->digest);
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::ListServices(grpc::ServerContext*, const v1::ListServicesRequest*,
                                            v1::ListServicesResponse* response) {
  auto services = service_.ListServices();
  if (!services.ok()) return server::RefuseAdmin("ListServices", services.status());
  for (const auto& s : *services) ToProto(s, response->add_services());
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::SetPolicy(grpc::ServerContext*, const v1::SetPolicyRequest* request,
                                         v1::Service* response) {
  auto view = service_.SetPolicy(request->service(), request->policy_json());
  if (!view.ok()) return server::RefuseAdmin("SetPolicy", view.status());
  ToProto(*view, response);
  spdlog::info("policy of {} set to {}; {} instances renew now", request->service(),
               view->service.policy_json, view->instances);
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::CreateJoinToken(grpc::ServerContext*,
                                               const v1::CreateJoinTokenRequest* request,
                                               v1::CreateJoinTokenResponse* response) {
  auto token = service_.CreateJoinToken(request->node(),
                                        Seconds(static_cast<int64_t>(request->ttl_seconds())));
  if (!token.ok()) return server::RefuseAdmin("CreateJoinToken", token.status());
  response->set_token(token->token);
  response->set_expires_at(FormatTime(token->record.expires_at));
  spdlog::info("join token id={} for node={} expires={}", token->record.id, request->node(),
               FormatTime(token->record.expires_at));
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*,
                                         v1::ListNodesResponse* response) {
  auto nodes = service_.ListNodes();
  if (!nodes.ok()) return server::RefuseAdmin("ListNodes", nodes.status());
  auto instances = service_.ListInstances("", "");
  if (!instances.ok()) return server::RefuseAdmin("ListNodes", instances.status());
  std::map<std::string, uint32_t> count;
  for (const auto& i : *instances) ++count[i.node];
  for (auto n : *nodes) {
    // The database keeps when a stream opened or closed; a live stream's heartbeats are fresher.
    if (auto beat = hub_.LastHeartbeat(n.name); beat && (!n.last_seen || *beat > *n.last_seen)) {
      n.last_seen = beat;
    }
    ToProto(n, hub_.IsUp(n.name), count[n.name], response->add_nodes());
  }
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::EvictNode(grpc::ServerContext*, const v1::EvictNodeRequest* request,
                                         v1::Node* response) {
  auto node = service_.EvictNode(request->node());
  if (!node.ok()) return server::RefuseAdmin("EvictNode", node.status());
  ToProto(*node, hub_.IsUp(node->name), 0, response);
  spdlog::info("evicted node={}", node->name);
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::Deploy(grpc::ServerContext*, const v1::DeployRequest* request,
                                      v1::DeployResponse* response) {
  auto added = service_.Deploy(request->service(), NodesOf(*request));
  if (!added.ok()) return server::RefuseAdmin("Deploy", added.status());
  for (const auto& i : *added) ToProto(i, response->add_instances());
  spdlog::info("deployed {} to {} new nodes", request->service(), added->size());
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::Undeploy(grpc::ServerContext*, const v1::DeployRequest* request,
                                        v1::DeployResponse* response) {
  auto removed = service_.Undeploy(request->service(), NodesOf(*request));
  if (!removed.ok()) return server::RefuseAdmin("Undeploy", removed.status());
  for (const auto& i : *removed) ToProto(i, response->add_instances());
  spdlog::info("undeployed {} from {} nodes", request->service(), removed->size());
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::ListInstances(grpc::ServerContext*,
                                             const v1::ListInstancesRequest* request,
                                             v1::ListInstancesResponse* response) {
  auto instances = service_.ListInstances(request->service(), request->node());
  if (!instances.ok()) return server::RefuseAdmin("ListInstances", instances.status());
  for (const auto& i : *instances) ToProto(i, response->add_instances());
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::ListIssued(grpc::ServerContext*,
                                          const v1::ListIssuedRequest* request,
                                          v1::ListIssuedResponse* response) {
  auto issued = service_.ListIssued(request->limit());
  if (!issued.ok()) return server::RefuseAdmin("ListIssued", issued.status());
  for (const auto& i : *issued) ToProto(i, response->add_entries());
  return grpc::Status::OK;
}

grpc::Status SiteAdminService::GetSiteStats(grpc::ServerContext*, const v1::GetSiteStatsRequest*,
                                            v1::SiteStats* response) {
  auto counts = service_.Counts();
  if (!counts.ok()) return server::RefuseAdmin("GetSiteStats", counts.status());
  response->set_services(counts->services);
  response->set_nodes(counts->nodes);
  response->set_connected_nodes(hub_.UpCount());
  response->set_instances(counts->instances);
  response->set_issued(counts->issued);
  response->set_last_revocation_sequence(counts->last_revocation_sequence);
  return grpc::Status::OK;
}

}  // namespace sitechain::slsm
