#pragma once
// The NodeAdmin gRPC service on the node's admin UNIX socket (mode 0600): `nlsm status`.
// Thread-safe.

#include "nlsm/node_manager.h"
#include "sitechain/v1/node.grpc.pb.h"

namespace sitechain::nlsm {

class NodeAdminService final : public v1::NodeAdmin::Service {
 public:
  explicit NodeAdminService(const NodeManager& manager) : manager_(manager) {}
  grpc::Status GetNodeStatus(grpc::ServerContext*, const v1::GetNodeStatusRequest*,
                             v1::NodeStatus* response) override;

 private:
  const NodeManager& manager_;
};

// NodeStatusView -> message (also used by the status command's tests).
void ToProto(const NodeStatusView& in, v1::NodeStatus* out);

}  // namespace sitechain::nlsm
