#pragma once
// The SiteAdmin gRPC service on the admin UNIX socket (mode 0600: the file permissions are the
// access control). Translates messages to SiteService calls.
// Thread-safe (gRPC calls these from its own threads).

#include "sitechain/v1/site.grpc.pb.h"
#include "slsm/node_hub.h"
#include "slsm/site_service.h"

namespace sitechain::slsm {

class SiteAdminService final : public v1::SiteAdmin::Service {
 public:
  SiteAdminService(SiteService& service, NodeHub& hub) : service_(service), hub_(hub) {}

  grpc::Status Install(grpc::ServerContext*, const v1::InstallRequest*,
                       v1::InstalledRelease*) override;
  grpc::Status ListServices(grpc::ServerContext*, const v1::ListServicesRequest*,
                            v1::ListServicesResponse*) override;
  grpc::Status SetPolicy(grpc::ServerContext*, const v1::SetPolicyRequest*, v1::Service*) override;
  grpc::Status CreateJoinToken(grpc::ServerContext*, const v1::CreateJoinTokenRequest*,
                               v1::CreateJoinTokenResponse*) override;
  grpc::Status ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*,
                         v1::ListNodesResponse*) override;
  grpc::Status EvictNode(grpc::ServerContext*, const v1::EvictNodeRequest*, v1::Node*) override;
  grpc::Status Deploy(grpc::ServerContext*, const v1::DeployRequest*, v1::DeployResponse*) override;
  grpc::Status Undeploy(grpc::ServerContext*, const v1::DeployRequest*,
                        v1::DeployResponse*) override;
  grpc::Status ListInstances(grpc::ServerContext*, const v1::ListInstancesRequest*,
                             v1::ListInstancesResponse*) override;
  grpc::Status ListIssued(grpc::ServerContext*, const v1::ListIssuedRequest*,
                          v1::ListIssuedResponse*) override;
  grpc::Status GetSiteStats(grpc::ServerContext*, const v1::GetSiteStatsRequest*,
                            v1::SiteStats*) override;

 private:
  SiteService& service_;
  NodeHub& hub_;
};

}  // namespace sitechain::slsm
