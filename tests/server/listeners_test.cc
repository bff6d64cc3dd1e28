// The listeners and the admin client together: a fake admin service on a real UNIX socket and a
// real TLS port (port 0), as the servers use them.
#include "server/listeners.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/files.h"
#include "common/identity_file.h"
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
  grpc::Status GetNodeStatus(grpc::ServerContext* context, const v1::GetNodeStatusRequest*,
                             v1::NodeStatus* response) override {
    if (!refusal.ok()) return RefuseAdmin("GetNodeStatus", refusal);
    {
      std::lock_guard lock(mu);
      last_peer_certificate = PeerCertificatePem(*context);
    }
    response->set_node("node-1");
    return grpc::Status::OK;
  }
  Status refusal;
  std::mutex mu;
  std::optional<std::string> last_peer_certificate;  // guarded by mu
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

// The serial of the server certificate of the connection a call went over; "" if none.
std::string ServerSerial(const grpc::ClientContext& context) {
  const auto auth = context.auth_context();
  if (auth == nullptr) return "";
  const auto values = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (values.empty()) return "";
  auto cert = pki::Certificate::FromPem(std::string(values.front().data(), values.front().size()));
  return cert.ok() ? cert->SerialHex() : "";
}

// One call on `stub`; the server certificate's serial, "" if the call failed.
std::string CallAndGetServerSerial(v1::NodeAdmin::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::NodeStatus status;
  const grpc::Status rpc = stub.GetNodeStatus(&context, {}, &status);
  EXPECT_TRUE(rpc.ok()) << rpc.error_message();
  return rpc.ok() ? ServerSerial(context) : "";
}

// A renewing identity: the listener reads an identity file and presents what replaces it on the
// handshakes that follow, while a connection made before keeps its certificate (and so its
// streams); a client certificate (kOptional) is still asked for and handed to the handler
// unverified, even one of another root.
TEST_F(ListenersTest, PublicTlsListenerPresentsARenewedIdentityToNewConnections) {
  SystemClock clock;
  SystemRandom rng;
  const pki::PrivateKey root_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  auto root = pki::BuildStoreRoot(root_key, "test store", Seconds(86400), {clock, rng});
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  auto issue = [&]() {
    auto tls = pki::BuildTlsServerIdentity({{"localhost"}, {"127.0.0.1"}}, *root, root_key,
                                           Seconds(86400), {clock, rng});
    EXPECT_TRUE(tls.ok()) << tls.status().ToString();
    return std::move(*tls);
  };
  const std::string identity_file = dir_.path() + "/identity.pem";
  const std::string roots_file = dir_.path() + "/root.pem";
  ASSERT_TRUE(WriteFileAtomic(roots_file, root->ToPem()).ok());
  const pki::TlsServerIdentity first = issue();
  ASSERT_TRUE(WriteIdentityFile(identity_file,
                                {first.key.ToPem(std::nullopt, rng), first.certificate.ToPem()})
                  .ok());

  FakeNodeAdmin public_service;
  const PublicListenerOptions pub{.listen = "127.0.0.1:0",
                                  .tls = {.identity_file = identity_file,
                                          .client_roots_file = roots_file,
                                          .client_certificates = ClientCertificates::kOptional},
                                  .services = {&public_service}};
  auto listeners = Listeners::Start({.public_listener = pub, .admin = {Socket(), {&admin_}}});
  ASSERT_TRUE(listeners.ok()) << listeners.status().ToString();
  const std::string target = "localhost:" + std::to_string((*listeners)->port());

  // A client certificate of another root: asked for, not verified, handed to the handler.
  const pki::PrivateKey other_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  auto other_root = pki::BuildStoreRoot(other_key, "other", Seconds(86400), {clock, rng});
  ASSERT_TRUE(other_root.ok());
  auto before = v1::NodeAdmin::NewStub(
      DialTls(target, {.server_roots_pem = root->ToPem(),
                       .certificate_chain_pem = other_root->ToPem(),
                       .private_key_pem = other_key.ToPem(std::nullopt, rng)}));
  EXPECT_EQ(CallAndGetServerSerial(*before), first.certificate.SerialHex());
  {
    std::lock_guard lock(public_service.mu);
    EXPECT_EQ(public_service.last_peer_certificate, other_root->ToPem());
  }

  const pki::TlsServerIdentity second = issue();
  ASSERT_TRUE(WriteIdentityFile(identity_file,
                                {second.key.ToPem(std::nullopt, rng), second.certificate.ToPem()})
                  .ok());
  // A new connection (a channel of its own, not sharing gRPC's global subchannels) presents
  // the new certificate once the listener has looked at the file (every second).
  auto fresh_serial = [&] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = root->ToPem();
    auto stub =
        v1::NodeAdmin::NewStub(grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args));
    return CallAndGetServerSerial(*stub);
  };
  std::string serial;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((serial = fresh_serial()) != second.certificate.SerialHex() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(serial, second.certificate.SerialHex());
  {
    std::lock_guard lock(public_service.mu);
    EXPECT_EQ(public_service.last_peer_certificate, std::nullopt);  // that client had none
  }
  // The connection made before is still up, on its certificate.
  EXPECT_EQ(CallAndGetServerSerial(*before), first.certificate.SerialHex());

  (*listeners)->Shutdown(std::chrono::milliseconds(100));
  (*listeners)->Wait();
}

}  // namespace
}  // namespace sitechain::server
