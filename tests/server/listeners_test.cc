// The listeners and the admin client together: a fake admin service on a real UNIX socket and a
// real TLS port (port 0), as the servers use them.
#include "server/listeners.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "common/clock.h"
#include "common/random.h"
#include "pki/builders.h"
#include "server/admin_client.h"
#include "server/refusal.h"
#include "sitechain/v1/node.grpc.pb.h"
#include "tests/common/temp_dir.h"

namespace sitechain::server {
namespace {

class FakeNodeAdmin final : public v1::NodeAdmin::Service {
 public:
  grpc::Status GetNodeStatus(grpc::ServerContext*, const v1::GetNodeStatusRequest*,
                             v1::NodeStatus* response) override {
    if (!refusal.ok()) return RefuseAdmin("GetNodeStatus", refusal);
    response->set_node("node-1");
    return grpc::Status::OK;
  }
  Status refusal;
};

const AdminPeer kPeer{.name = "the node manager",
                      .serve_command = "nlsm serve",
                      .deadline = std::chrono::seconds(10)};

class ListenersTest : public ::testing::Test {
 protected:
  std::string Socket() const { return dir_.path() + "/admin.sock"; }
  Result<std::unique_ptr<Listeners>> StartAdmin(grpc::Service& service) {
    return Listeners::Start({.admin = {.socket = Socket(), .services = {&service}}});
  }

  testutil::TempDir dir_;
  FakeNodeAdmin admin_;
};

TEST_F(ListenersTest, AdminSocketIsPrivateAndAnswers) {
  auto listeners = StartAdmin(admin_);
  ASSERT_TRUE(listeners.ok()) << listeners.status().ToString();
  EXPECT_EQ((*listeners)->port(), 0);
  EXPECT_EQ((*listeners)->address(), "");
  EXPECT_EQ((*listeners)->admin_socket(), Socket());
  EXPECT_EQ(testutil::ModeOf(Socket()), 0600);

  const AdminClient client(Socket(), kPeer);
  auto status = client.Call(&v1::NodeAdmin::Stub::GetNodeStatus, {});
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->node(), "node-1");

  std::ostringstream text, json;
  EXPECT_TRUE(PrintAdminResponse(status, false, text, [&](const v1::NodeStatus& s) {
                text << "node " << s.node() << "\n";
              }).ok());
  EXPECT_EQ(text.str(), "node node-1\n");
  EXPECT_TRUE(PrintAdminResponse(status, true, json, [](const v1::NodeStatus&) {}).ok());
  EXPECT_NE(json.str().find("\"node\": \"node-1\""), std::string::npos) << json.str();

  (*listeners)->Shutdown(std::nullopt);
  (*listeners)->Wait();
}

TEST_F(ListenersTest, RefusalsPassThroughWithTheirCode) {
  admin_.refusal = NotFound("no such service 'echo'");
  auto listeners = StartAdmin(admin_);
  ASSERT_TRUE(listeners.ok()) << listeners.status().ToString();
  auto status = AdminClient(Socket(), kPeer).Call(&v1::NodeAdmin::Stub::GetNodeStatus, {});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(status.status().message(), "no such service 'echo'");
  std::ostringstream out;
  EXPECT_EQ(PrintAdminResponse(status, true, out, [](const v1::NodeStatus&) {}).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(out.str(), "");
}

TEST_F(ListenersTest, NoServerSaysHowToStartIt) {
  AdminPeer quiet = kPeer;
  quiet.with_transport_error = false;
  auto status = AdminClient(Socket(), quiet).Call(&v1::NodeAdmin::Stub::GetNodeStatus, {});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.status().message(), "cannot reach the node manager's admin socket " + Socket() +
                                           " (is 'nlsm serve' running?)");

  status = AdminClient(Socket(), kPeer).Call(&v1::NodeAdmin::Stub::GetNodeStatus, {});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message().rfind("cannot reach the node manager's admin socket " +
                                                Socket() + " (is 'nlsm serve' running?): ",
                                            0),
            0u)
      << status.status().message();
}

TEST_F(ListenersTest, ALiveSocketIsNotTakenOver) {
  auto first = StartAdmin(admin_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  FakeNodeAdmin other;
  auto second = StartAdmin(other);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  // The first still answers.
  EXPECT_TRUE(AdminClient(Socket(), kPeer).Call(&v1::NodeAdmin::Stub::GetNodeStatus, {}).ok());
}

TEST_F(ListenersTest, AStaleSocketIsReplaced) {
  // A socket file whose server is gone (a killed process leaves it behind).
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, Socket().c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);

  auto listeners = StartAdmin(admin_);
  ASSERT_TRUE(listeners.ok()) << listeners.status().ToString();
  EXPECT_TRUE(AdminClient(Socket(), kPeer).Call(&v1::NodeAdmin::Stub::GetNodeStatus, {}).ok());
}

TEST_F(ListenersTest, AFileThatIsNotASocketIsRefused) {
  ASSERT_TRUE(testutil::WriteWholeFile(Socket(), "precious"));
  auto listeners = StartAdmin(admin_);
  ASSERT_FALSE(listeners.ok());
  EXPECT_EQ(listeners.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(testutil::ReadWholeFile(Socket()), "precious");
}

TEST_F(ListenersTest, PublicTlsListenerOnPortZero) {
  SystemClock clock;
  SystemRandom rng;
  const pki::PrivateKey root_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  auto root = pki::BuildStoreRoot(root_key, "test store", Seconds(86400), {clock, rng});
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  auto tls = pki::BuildTlsServerIdentity({{"localhost"}, {"127.0.0.1"}}, *root, root_key,
                                         Seconds(86400), {clock, rng});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();

  FakeNodeAdmin public_service;
  const PublicListenerOptions pub{.listen = "127.0.0.1:0",
                                  .tls = {.certificate_chain_pem = tls->certificate.ToPem(),
                                          .private_key_pem = tls->key.ToPem(std::nullopt, rng),
                                          .client_roots_pem = "",
                                          .client_certificates = ClientCertificates::kNone},
                                  .min_ping_interval_without_data = std::chrono::seconds(1),
                                  .services = {&public_service}};
  auto listeners = Listeners::Start({.public_listener = pub, .admin = {Socket(), {&admin_}}});
  ASSERT_TRUE(listeners.ok()) << listeners.status().ToString();
  const int port = (*listeners)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ((*listeners)->address(), "127.0.0.1:" + std::to_string(port));

  auto stub = v1::NodeAdmin::NewStub(
      DialTls("localhost:" + std::to_string(port), {.server_roots_pem = root->ToPem(),
                                                    .certificate_chain_pem = std::nullopt,
                                                    .private_key_pem = std::nullopt}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::NodeStatus status;
  const grpc::Status rpc = stub->GetNodeStatus(&context, {}, &status);
  ASSERT_TRUE(rpc.ok()) << rpc.error_message();
  EXPECT_EQ(status.node(), "node-1");

  // No second server on the same port (no SO_REUSEPORT); the admin socket is checked after it.
  PublicListenerOptions same_port = pub;
  FakeNodeAdmin other_public, other_admin;
  same_port.listen = "127.0.0.1:" + std::to_string(port);
  same_port.services = {&other_public};
  auto second = Listeners::Start(
      {.public_listener = same_port, .admin = {dir_.path() + "/other.sock", {&other_admin}}});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);

  (*listeners)->Shutdown(std::chrono::milliseconds(100));
  (*listeners)->Wait();
}

}  // namespace
}  // namespace sitechain::server
