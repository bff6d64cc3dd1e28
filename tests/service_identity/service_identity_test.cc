// The helper over real gRPC mutual TLS on loopback: two services that accept each other, the
// attacks of issue 15 presented in real handshakes by a client that does not use the helper
// (an attacker's), and a renewal picked up without a restart.
#include "service_identity/service_identity.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sitechain/v1/site.grpc.pb.h"
#include "tests/service_identity/identities.h"

namespace sitechain::service_identity {
namespace {

using testing::Identity;
using testing::Sites;

// Answers with what the handshake established about the caller: its SPIFFE ID and certificate.
class WhoAmI final : public v1::Site::Service {
 public:
  grpc::Status GetSiteRoot(grpc::ServerContext* context, const v1::GetSiteRootRequest*,
                           v1::GetSiteRootResponse* response) override {
    response->set_site(ServiceIdentity::PeerId(*context).value_or(""));
    const auto pem = context->auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pem.empty()) response->set_site_root_der(std::string(pem[0].data(), pem[0].size()));
    return grpc::Status::OK;
  }
};

// What a log function received, for assertions.
class LogLines {
 public:
  std::function<void(const std::string&)> Sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mu_);
      text_ += line + "\n";
    };
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

class ServiceIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector_id_ = Sites::Id("site-a", "n1", "collector");
    sensor_id_ = Sites::Id("site-a", "n2", "sensor");
    collector_files_ = testing::WriteServiceFiles(
        dir_, "collector", sites_.CertSite(sites_.a(), "n1", "collector"), sites_.a().site_root,
        collector_id_,
        R"({"peers":["spiffe://site-a/node/*/svc/sensor","spiffe://site-b/node/*/svc/sensor"]})",
        sites_.b().site_root.ToPem(), sites_.rng());
    sensor_files_ = testing::WriteServiceFiles(
        dir_, "sensor", sites_.CertSite(sites_.a(), "n2", "sensor"), sites_.a().site_root,
        sensor_id_, R"({"peers":["spiffe://site-a/node/*/svc/collector"]})", "", sites_.rng());
    collector_ = Load(collector_files_, collector_log_);
    ASSERT_NE(collector_, nullptr);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", collector_->ServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  std::shared_ptr<ServiceIdentity> Load(const IdentityFiles& files, LogLines& log) {
    Options options;
    options.files = files;
    options.log = log.Sink();
    auto identity = ServiceIdentity::Load(options);
    EXPECT_TRUE(identity.ok()) << identity.status().ToString();
    return identity.ok() ? *identity : nullptr;
  }

  std::string Target() const { return "127.0.0.1:" + std::to_string(port_); }

  // One call on a fresh channel: the handshake happens in it.
  grpc::Status Call(const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                    v1::GetSiteRootResponse* response) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a new connection, not a shared one
    auto stub = v1::Site::NewStub(grpc::CreateCustomChannel(Target(), credentials, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->GetSiteRoot(&context, {}, response);
  }

  // An attacker's client: plain gRPC TLS presenting `identity`, trusting any server.
  std::shared_ptr<grpc::ChannelCredentials> Attacker(const pki::PrivateKey& key,
                                                     const pki::Certificate& cert) {
    const IdentityPem pem{key.ToPem(std::nullopt, sites_.rng()), cert.ToPem()};
    grpc::experimental::IdentityKeyCertPair pair{pem.key_pem, pem.chain_pem};
    auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
        std::vector<grpc::experimental::IdentityKeyCertPair>{pair});
    grpc::experimental::TlsChannelCredentialsOptions options;
    options.set_certificate_provider(provider);
    options.watch_identity_key_cert_pairs();
    options.set_verify_server_certs(false);
    options.set_check_call_host(false);
    options.set_certificate_verifier(
        std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
    return grpc::experimental::TlsCredentials(options);
  }

  // The attacker's handshake fails and the collector logs why, with `code`.
  void ExpectRefused(const pki::PrivateKey& key, const pki::Certificate& cert,
                     const std::string& code) {
    const uint64_t refused = collector_->refused();
    v1::GetSiteRootResponse response;
    const grpc::Status s = Call(Attacker(key, cert), &response);
    EXPECT_FALSE(s.ok()) << "the collector answered: " << response.site();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_EQ(collector_->refused(), refused + 1);
    EXPECT_NE(collector_log_.text().find(code), std::string::npos)
        << "no " << code << " in the collector's log:\n"
        << collector_log_.text();
  }

  testutil::TempDir dir_;
  Sites sites_;
  std::string collector_id_, sensor_id_;
  IdentityFiles collector_files_, sensor_files_;
  LogLines collector_log_, sensor_log_;
  std::shared_ptr<ServiceIdentity> collector_;
  WhoAmI service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(ServiceIdentityTest, TwoServicesAuthoriseEachOtherBySpiffeId) {
  auto sensor = Load(sensor_files_, sensor_log_);
  ASSERT_NE(sensor, nullptr);
  v1::GetSiteRootResponse response;
  const grpc::Status s = Call(sensor->ChannelCredentials(), &response);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\ncollector:\n"
                      << collector_log_.text() << "sensor:\n"
                      << sensor_log_.text();
  EXPECT_EQ(response.site(), sensor_id_);  // the collector knows who called
  EXPECT_EQ(collector_->accepted(), 1u);
  EXPECT_EQ(sensor->accepted(), 1u);  // and the sensor checked the collector
  EXPECT_EQ(collector_->refused() + sensor->refused(), 0u);

  // The client side sees whom it reached, and with which certificate.
  auto stub = v1::Site::NewStub(grpc::CreateChannel(Target(), sensor->ChannelCredentials()));
  grpc::ClientContext context;
  ASSERT_TRUE(stub->GetSiteRoot(&context, {}, &response).ok());
  const auto collector = ServiceIdentity::PeerOf(*context.auth_context());
  ASSERT_TRUE(collector.has_value());
  EXPECT_EQ(collector->spiffe_id, collector_id_);
  auto pem = ReadIdentityFile(collector_files_.identity);
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(collector->serial, pki::Certificate::FromPem(pem->chain_pem)->SerialHex());
}

// The sensor does not talk to a server that is not a collector, even one of its own site.
TEST_F(ServiceIdentityTest, TheClientRefusesAServerItsPolicyDoesNotName) {
  LogLines printer_log;
  const IdentityFiles printer_files = testing::WriteServiceFiles(
      dir_, "printer", sites_.CertSite(sites_.a(), "n1", "printer"), sites_.a().site_root,
      Sites::Id("site-a", "n1", "printer"), R"({"peers":["spiffe://site-a/node/*/svc/sensor"]})",
      "", sites_.rng());
  auto printer = Load(printer_files, printer_log);
  ASSERT_NE(printer, nullptr);
  int port = 0;
  WhoAmI service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", printer->ServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto sensor = Load(sensor_files_, sensor_log_);
  auto stub = v1::Site::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), sensor->ChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetSiteRootResponse response;
  EXPECT_FALSE(stub->GetSiteRoot(&context, {}, &response).ok());
  EXPECT_EQ(sensor->refused(), 1u);
  EXPECT_NE(sensor_log_.text().find("PEER_NOT_ALLOWED"), std::string::npos) << sensor_log_.text();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

TEST_F(ServiceIdentityTest, TheCollectorRefusesEachForgeryInTheHandshake) {
  const Identity sensor = sites_.CertSite(sites_.a(), "n2", "sensor");
  const auto forge = [&](pki::CertificateSpec spec, const pki::Certificate& issuer,
                         const pki::PrivateKey& issuer_key) {
    auto cert = sites_.Resign(spec, issuer, issuer_key);
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return *cert;
  };
  {
    SCOPED_TRACE("a leaf signed by a developer identity");
    ExpectRefused(sensor.key,
                  forge(testing::SpecFrom(sensor.cert), sites_.a().developer_identity,
                        sites_.a().developer_key),
                  "ISSUER_MISMATCH");
  }
  {
    SCOPED_TRACE("a Cert_site from another site's root, claiming this site");
    ExpectRefused(sensor.key,
                  forge(testing::SpecFrom(sensor.cert), sites_.b().site_root, sites_.b().site_key),
                  "ISSUER_MISMATCH");
  }
  {
    SCOPED_TRACE("a Cert_site of another service");
    const Identity printer = sites_.CertSite(sites_.a(), "n2", "printer");
    ExpectRefused(printer.key, printer.cert, "PEER_NOT_ALLOWED");
  }
  {
    SCOPED_TRACE("an expired Cert_site");
    ManualClock earlier(sites_.clock().Now() - std::chrono::hours(2));
    const Identity old =
        sites_.CertSite(sites_.a(), "n2", "sensor", std::chrono::hours(1), &earlier);
    ExpectRefused(old.key, old.cert, "EXPIRED");
  }
  {
    SCOPED_TRACE("a Cert_site whose subject disagrees with its SAN");
    pki::CertificateSpec spec = testing::SpecFrom(sensor.cert);
    spec.subject_der.clear();
    spec.subject.organizational_unit = "n1";
    ExpectRefused(sensor.key, forge(spec, sites_.a().site_root, sites_.a().site_key),
                  "SUBJECT_MISMATCH");
  }
  {
    SCOPED_TRACE("the store's TLS certificate");
    auto tls = pki::BuildTlsServerIdentity({{"localhost"}, {}}, sites_.a().store_root,
                                           sites_.a().store_key, std::chrono::hours(1),
                                           {sites_.clock(), sites_.rng()});
    ASSERT_TRUE(tls.ok());
    ExpectRefused(tls->key, tls->certificate, "NO_SPIFFE_ID");
  }
  EXPECT_EQ(collector_->accepted(), 0u);
}

TEST_F(ServiceIdentityTest, AFederatedSensorIsAcceptedUnderItsOwnTrustDomainOnly) {
  v1::GetSiteRootResponse response;
  const Identity remote = sites_.CertSite(sites_.b(), "b7", "sensor");
  const grpc::Status s = Call(Attacker(remote.key, remote.cert), &response);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << collector_log_.text();
  EXPECT_EQ(response.site(), "spiffe://site-b/node/b7/svc/sensor");
  // site-b's root vouching for a site-a sensor.
  const Identity local = sites_.CertSite(sites_.a(), "n2", "sensor");
  auto forged =
      sites_.Resign(testing::SpecFrom(local.cert), sites_.b().site_root, sites_.b().site_key);
  ASSERT_TRUE(forged.ok());
  ExpectRefused(local.key, *forged, "ISSUER_MISMATCH");
}

// A renewal replaces the identity file (new key, new Cert_site): the running sensor's new
// handshakes present the new certificate, its established connection goes on working.
TEST_F(ServiceIdentityTest, ARenewedIdentityIsUsedWithoutARestart) {
  auto sensor = Load(sensor_files_, sensor_log_);
  ASSERT_NE(sensor, nullptr);
  auto kept = v1::Site::NewStub(grpc::CreateChannel(Target(), sensor->ChannelCredentials()));
  const auto call_kept = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetSiteRootResponse response;
    const grpc::Status s = kept->GetSiteRoot(&context, {}, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.site_root_der();
  };
  const std::string first_cert = call_kept();
  ASSERT_FALSE(first_cert.empty());

  const Identity renewed = sites_.CertSite(sites_.a(), "n2", "sensor");
  ASSERT_TRUE(WriteIdentityFile(sensor_files_.identity, renewed.Pem(sites_.rng())).ok());
  const std::string want = renewed.cert.ToPem();
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    v1::GetSiteRootResponse response;
    const grpc::Status s = Call(sensor->ChannelCredentials(), &response);
    ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << collector_log_.text();
    seen = response.site_root_der();
    if (seen == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(seen, want) << "the new certificate was never presented";
  EXPECT_EQ(call_kept(), first_cert);  // the established connection goes on
  EXPECT_EQ(collector_->refused(), 0u);
}

TEST_F(ServiceIdentityTest, LoadFailsClearlyOnWhatAServiceCannotUse) {
  Options options;
  options.files = sensor_files_;
  options.files.spiffe_id = Sites::Id("site-a", "n2", "other");
  auto wrong_id = ServiceIdentity::Load(options);
  EXPECT_EQ(wrong_id.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong_id.status().message().find("does not name"), std::string::npos);
  // A key that is not the certificate's (the race a single file rules out).
  const Identity a = sites_.CertSite(sites_.a(), "n2", "sensor");
  const Identity b = sites_.CertSite(sites_.a(), "n2", "sensor");
  ASSERT_TRUE(WriteIdentityFile(sensor_files_.identity,
                                {b.key.ToPem(std::nullopt, sites_.rng()), a.cert.ToPem()})
                  .ok());
  options.files = sensor_files_;
  auto mismatch = ServiceIdentity::Load(options);
  EXPECT_EQ(mismatch.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(mismatch.status().message().find("not the key"), std::string::npos);
  // Not started by an nlsm.
  ::unsetenv("SITECHAIN_IDENTITY_FILE");
  auto env = ServiceIdentity::FromEnvironment();
  EXPECT_EQ(env.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(env.status().message().find("SITECHAIN_IDENTITY_FILE"), std::string::npos);
}

}  // namespace
}  // namespace sitechain::service_identity
