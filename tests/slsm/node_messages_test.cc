// Tests of HandleNodeMessage (slsm/node_messages.h): what the slsm does with each message of a
// node's command stream, on the SiteService fixture (site_fixture.h: what reaches the nodes
// through the site's NodeNotifier is recorded) with a real NodeHub session for the node.

#include "slsm/node_messages.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/slsm/site_fixture.h"

namespace sitechain::slsm::site_test {
namespace {

constexpr std::chrono::milliseconds kNoWait{0};

v1::InstanceStatus Status(const std::string& service, const std::string& state,
                          const std::string& detail) {
  v1::InstanceStatus s;
  s.set_service(service);
  s.set_state(state);
  s.set_detail(detail);
  return s;
}

class NodeMessagesTest : public SiteServiceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SiteServiceTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes_));
    notifier_.Take();
    session_ = hub_.Attach("node-1");
  }
  InstanceRecord Instance() {
    auto instances = service().ListInstances(kHello, "node-1");
    EXPECT_TRUE(instances.ok() && instances->size() == 1);
    return instances.ok() && !instances->empty() ? (*instances)[0] : InstanceRecord{};
  }

  std::vector<TestNode> nodes_;
  NodeHub hub_{clock_, Seconds(15)};
  std::shared_ptr<NodeHub::Session> session_;
};

TEST_F(NodeMessagesTest, AHelloRecordsTheStatesAcknowledgesAndCatchesTheNodeUp) {
  v1::NodeMessage m;
  *m.mutable_hello()->add_instances() = Status(kHello, "running", "pid 7");
  *m.mutable_hello()->add_instances() = Status("gone", "running", "");
  ASSERT_TRUE(HandleNodeMessage(service(), hub_, *session_, m).ok());

  EXPECT_EQ(Instance().node_state, "running");
  EXPECT_EQ(Instance().node_detail, "pid 7");
  std::optional<NodeCommand> ack = hub_.Next(*session_, kNoWait);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->kind, NodeCommand::Kind::kHeartbeatAck);
  EXPECT_EQ(ack->heartbeat, 0u);
  EXPECT_TRUE(hub_.IsUp("node-1"));
  // Reconcile: Deploy what it should run, Stop what it reported and should not.
  const std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].kind, Kind::kDeploy);
  EXPECT_EQ(sent[0].services, std::vector<std::string>{kHello});
  EXPECT_EQ(sent[1].kind, Kind::kStop);
  EXPECT_EQ(sent[1].services, std::vector<std::string>{"gone"});
}

TEST_F(NodeMessagesTest, AnInstanceChangeRecordsItsStateOnly) {
  v1::NodeMessage m;
  *m.mutable_instance() = Status(kHello, "stopped", "exit 1");
  ASSERT_TRUE(HandleNodeMessage(service(), hub_, *session_, m).ok());
  EXPECT_EQ(Instance().node_state, "stopped");
  EXPECT_EQ(Instance().node_detail, "exit 1");
  EXPECT_FALSE(hub_.Next(*session_, kNoWait));
  EXPECT_TRUE(notifier_.Take().empty());
}

TEST_F(NodeMessagesTest, AHeartbeatIsAcknowledgedWithItsCounter) {
  v1::NodeMessage m;
  m.set_heartbeat(42);
  clock_.Advance(Seconds(10));
  ASSERT_TRUE(HandleNodeMessage(service(), hub_, *session_, m).ok());
  std::optional<NodeCommand> ack = hub_.Next(*session_, kNoWait);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->kind, NodeCommand::Kind::kHeartbeatAck);
  EXPECT_EQ(ack->heartbeat, 42u);
  EXPECT_EQ(hub_.LastHeartbeat("node-1"), clock_.Now());
  EXPECT_TRUE(notifier_.Take().empty());
}

TEST_F(NodeMessagesTest, AMessageOfNoKindChangesNothing) {
  ASSERT_TRUE(HandleNodeMessage(service(), hub_, *session_, v1::NodeMessage{}).ok());
  EXPECT_EQ(Instance().node_state, "");
  EXPECT_FALSE(hub_.Next(*session_, kNoWait));
  EXPECT_TRUE(notifier_.Take().empty());
}

}  // namespace
}  // namespace sitechain::slsm::site_test
