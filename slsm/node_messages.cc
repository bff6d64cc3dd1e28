#include "slsm/node_messages.h"

#include <string>
#include <utility>
#include <vector>

namespace sitechain::slsm {

Status HandleNodeMessage(SiteService& service, NodeHub& hub, NodeHub::Session& session,
                         const v1::NodeMessage& message) {
  const std::string& node = session.node();
  switch (message.kind_case()) {
    case v1::NodeMessage::kHello: {
      std::vector<std::string> reported;
      std::vector<InstanceState> states;
      for (const auto& i : message.hello().instances()) {
        states.push_back({i.service(), i.state(), i.detail()});
        reported.push_back(i.service());
      }
      service.ReportInstances(node, std::move(states));
      hub.Heartbeat(session, 0);
      return service.Reconcile(node, reported);
    }
    case v1::NodeMessage::kInstance: {
      const auto& i = message.instance();
      service.ReportInstance(node, i.service(), i.state(), i.detail());
      return Status::Ok();
    }
    case v1::NodeMessage::kHeartbeat:
      hub.Heartbeat(session, message.heartbeat());
      return Status::Ok();
    case v1::NodeMessage::KIND_NOT_SET:
      break;
  }
  return Status::Ok();
}

}  // namespace sitechain::slsm
