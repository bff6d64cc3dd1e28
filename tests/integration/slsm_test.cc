// End-to-end tests of the site manager as it runs: a real `store serve` holding releases that the
// real `devkit` registered, signed and published (the hello example program), a real
// `slsm serve` on port 0 driven by the real `slsm` admin commands, and test nodes that speak to
// it with real gRPC, mutual TLS and certificates (tests/integration/test_node.h). Covers the
// whole flow (install, join token, enrollment, deploy over the command stream, package fetch,
// Cert_site renewal verified by the node for rules 1-8, the issuance log, nodes up and down), a
// policy change, a revocation at the store reaching the site and its nodes, a kill -9 restart
// keeping every piece of state, and each refusal of the issue's "bad input and attacks" list
// with its gRPC code, its message and the state left unchanged.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/grpc_tls.h"
#include "common/status.h"
#include "common/time_format.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "sitechain/v1/site.grpc.pb.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/site_server.h"
#include "tests/integration/store_server.h"
#include "tests/integration/test_node.h"
#include "tests/support/hand_made_csr.h"

namespace sitechain::testutil {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = nlsm::Command::Kind;

constexpr int kExitOk = 0;
constexpr char kSite[] = "site-a";
constexpr milliseconds kCommandDeadline = seconds(15);
constexpr milliseconds kStateDeadline = seconds(15);
constexpr milliseconds kPoll = milliseconds(50);
constexpr milliseconds kHeartbeatInterval = milliseconds(200);

// The gtest message for a Status that is not what a test expected.
::testing::AssertionResult IsRefused(const Status& status, StatusCode code,
                                     const std::string& text) {
  if (status.code() == code && Contains(status.message(), text)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected " << StatusCodeName(code) << " with \"" << text
                                       << "\", got " << status.ToString();
}

::testing::AssertionResult IsRefused(const grpc::Status& status, grpc::StatusCode code,
                                     const std::string& text) {
  if (status.error_code() == code && Contains(status.error_message(), text)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected gRPC code " << static_cast<int>(code) << " with \"" << text << "\", got "
         << static_cast<int>(status.error_code()) << ": " << status.error_message();
}

std::set<int> AllRules() { return {1, 2, 3, 4, 5, 6, 7, 8}; }

// The outcome for `service` among a Renew call's outcomes; nullptr if absent.
const nlsm::RenewalOutcome* OutcomeFor(const std::vector<nlsm::RenewalOutcome>& outcomes,
                                       const std::string& service) {
  for (const auto& o : outcomes) {
    if (o.service == service) return &o;
  }
  return nullptr;
}

// The sitePolicy a Cert_site carries ("" if none or undecodable).
std::string PolicyOf(const pki::Certificate& cert) {
  auto ext = cert.FindExtension(pki::SitePolicyOid());
  if (!ext) return "";
  auto policy = pki::DecodeSitePolicy(ext->value);
  return policy.ok() ? *policy : "";
}

// A raw stub of the node-facing API: TLS verified against site_root, presenting the node's
// certificate and key when `as` is given. For the calls the node's client would never make.
std::unique_ptr<v1::Site::Stub> RawStub(const std::string& address,
                                        const pki::Certificate& site_root, TestNode* as = nullptr) {
  ClientTlsOptions options{site_root.ToPem(), std::nullopt, std::nullopt};
  if (as != nullptr) {
    options.certificate_chain_pem = as->identity().certificate.ToPem();
    options.private_key_pem = as->identity().key.ToPem(std::nullopt, as->rng());
  }
  return v1::Site::NewStub(DialTls(address, options));
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
}

// Opens the command stream over `stub` with an empty hello and returns how the slsm ended it
// (for refusals: a refused stream sends no command).
grpc::Status RawConnect(v1::Site::Stub& stub) {
  grpc::ClientContext context;
  SetDeadline(context);
  auto stream = stub.Connect(&context);
  v1::NodeMessage hello;
  hello.mutable_hello();
  (void)stream->Write(hello);  // may fail if the slsm has already refused: Finish says why
  v1::NodeCommand command;
  while (stream->Read(&command)) {
  }
  return stream->Finish();
}

std::string AsBytes(const std::vector<uint8_t>& der) { return std::string(der.begin(), der.end()); }

// Each test: a fresh directory that is the working directory of every program it runs, holding
// a copy of a store (alice registered; hello 1.0.0 release 1, hello 1.1.0 release 2 and greeter
// 1.0.0 release 1 published, all of the same hello program) served on a free port, and the
// node's own copy of the store root (node-store-root.pem).
class SlsmTest : public ProgramTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProgramTest::SetUp());
    ASSERT_TRUE(std::filesystem::exists(Bin("slsm"))) << "build the slsm target";
    ASSERT_TRUE(template_.CopyInto(dir_));
    auto root = pki::Certificate::Load(Path("node-store-root.pem"));
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    node_store_root_.emplace(*root);
    hello_bytes_ = ReadWholeFile(Path("hello"));
    ASSERT_FALSE(hello_bytes_.empty());
    hello_digest_ = pki::HashBytes(pki::HashAlgorithm::kSha256, hello_bytes_).Hex();
    ASSERT_OK(world_.ServeStore());
  }

  void TearDown() override {
    nodes_.clear();  // before the servers: their streams close first
    sites_.clear();
    store_.reset();
  }

  static void TearDownTestSuite() { template_.Reset(); }

  // --- sites

  // The config keys of every site in these tests: short lifetimes and timeouts, a rate limit
  // that a test never reaches.
  json SiteConfig() const {
    return {{"store", store_->address()},     {"cert_site_lifetime", "60s"},
            {"heartbeat_timeout", "2s"},      {"policy_push_window", "2s"},
            {"max_issuance_per_second", 100}, {"issuance_burst", 100}};
  }

  // slsm init --dir <dir> --site <site>, then serves it. The site is kept by the fixture.
  // `overrides` replace keys of SiteConfig().
  SiteServer& StartSite(const std::string& dir = "site", const std::string& site = kSite,
                        const json& overrides = json::object()) {
    EXPECT_OK(world_.InitSite(dir, site));
    json config = SiteConfig();
    config.update(overrides);
    auto server = world_.NewSite(dir, config);
    EXPECT_TRUE(server->Start());
    sites_.push_back(std::move(server));
    return *sites_.back();
  }

  // `slsm <args> --dir <dir>` in the test directory.
  ProcessResult Slsm(std::vector<std::string> args, const std::string& dir = "site") const {
    args.insert(args.end(), {"--dir", dir});
    return Run(Bin("slsm"), std::move(args));
  }

  // `slsm <args> --json --dir <dir>`, which must succeed, parsed.
  json SlsmJson(std::vector<std::string> args, const std::string& dir = "site") const {
    args.push_back("--json");
    ProcessResult r = Slsm(std::move(args), dir);
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON:\n" << r.Describe();
    return j;
  }

  // The array `key` of `slsm <command> --json`; empty if absent.
  json ListOf(const std::vector<std::string>& command, const std::string& key,
              const std::string& dir = "site") const {
    const json j = SlsmJson(command, dir);
    return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : json::array();
  }
  json Services(const std::string& dir = "site") const {
    return ListOf({"services"}, "services", dir);
  }
  json Nodes(const std::string& dir = "site") const { return ListOf({"nodes"}, "nodes", dir); }
  json Instances(const std::string& dir = "site") const {
    return ListOf({"instances"}, "instances", dir);
  }
  json Issued(const std::string& dir = "site") const { return ListOf({"issued"}, "entries", dir); }

  // The entry of `slsm nodes --json` for node; null if none.
  json NodeEntry(const std::string& node, const std::string& dir = "site") const {
    for (const auto& n : Nodes(dir)) {
      if (n.value("name", "") == node) return n;
    }
    return nullptr;
  }
  bool NodeUp(const std::string& node, const std::string& dir = "site") const {
    const json n = NodeEntry(node, dir);
    return n.is_object() && n.value("connected", false);
  }
  json ServiceEntry(const std::string& service, const std::string& dir = "site") const {
    for (const auto& s : Services(dir)) {
      if (s.value("name", "") == service) return s;
    }
    return nullptr;
  }

  // The complete blobs of the site's package store (tmp/ is not one).
  std::set<std::string> PackageBlobs(const std::string& dir = "site") const {
    std::set<std::string> blobs = EntriesOf(Path(dir + "/packages"));
    blobs.erase("tmp");
    return blobs;
  }

  void Install(const std::string& name, const std::string& version,
               const std::string& dir = "site") {
    ProcessResult r = Slsm({"install", name, version}, dir);
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    ASSERT_TRUE(Contains(r.out, "installed " + name + " " + version)) << r.Describe();
  }

  void Deploy(const std::string& service, const std::string& nodes,
              const std::string& dir = "site") {
    ProcessResult r = Slsm({"deploy", service, "--nodes", nodes}, dir);
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // A join token from `slsm tokens create` (empty, and a failure, if none).
  std::string Token(const std::string& node, const std::string& dir = "site",
                    const std::string& ttl = "") {
    std::vector<std::string> args = {"tokens", "create", node};
    if (!ttl.empty()) args.insert(args.end(), {"--ttl", ttl});
    ProcessResult r = Slsm(args, dir);
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return Trim(r.out);
  }

  // A test node of `site`, kept by the fixture.
  TestNode& NewNode(const std::string& name, const SiteServer& site) {
    nodes_.push_back(std::make_unique<TestNode>(name, site.address(), *node_store_root_));
    return *nodes_.back();
  }

  // A node enrolled with a fresh token at the site in `dir`.
  TestNode& EnrolledNode(const std::string& name, const SiteServer& site) {
    TestNode& node = NewNode(name, site);
    const std::string token = Token(name, site.dir());
    const Status s = node.Enroll(token);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << site.log();
    return node;
  }

  // Opens the node's stream with heartbeats and waits until `slsm nodes` shows it up.
  void ConnectAndWaitUp(TestNode& node, const std::string& dir = "site") {
    const Status s = node.Connect();
    ASSERT_TRUE(s.ok()) << s.ToString();
    node.StartHeartbeats(kHeartbeatInterval);
    ASSERT_TRUE(WaitUntil([&] { return NodeUp(node.name(), dir); }, kStateDeadline, kPoll))
        << Nodes(dir).dump(2);
  }

  // Enrolled, connected, hello 1.0.0 installed and deployed to it, its Deploy received.
  TestNode& NodeRunningHello(SiteServer& site, const std::string& name = "n1") {
    Install("hello", "1.0.0", site.dir());
    TestNode& node = EnrolledNode(name, site);
    ConnectAndWaitUp(node, site.dir());
    Deploy("hello", name, site.dir());
    EXPECT_TRUE(node.WaitForCommand(Kind::kDeploy, "hello", kCommandDeadline).has_value());
    return node;
  }

  // Renews `service` on the node: the outcome must be a certificate.
  std::optional<pki::Certificate> RenewOne(TestNode& node, const std::string& service) {
    auto outcomes = node.Renew({service});
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    if (!outcomes.ok() || outcomes->size() != 1) return std::nullopt;
    const auto& o = outcomes->front();
    EXPECT_TRUE(o.status.ok()) << o.status.ToString();
    if (!o.status.ok()) return std::nullopt;
    auto cert = pki::Certificate::FromDer(o.cert_site_der);
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    if (!cert.ok()) return std::nullopt;
    return *cert;
  }

  // Fetches a package and writes its executable to <test dir>/<file>.
  std::optional<FetchedPackage> FetchTo(TestNode& node, const std::string& service,
                                        const std::string& file) {
    auto package = node.Fetch(service);
    EXPECT_TRUE(package.ok()) << package.status().ToString();
    if (!package.ok()) return std::nullopt;
    EXPECT_TRUE(WriteWholeFile(Path(file), package->bytes));
    return *package;
  }

  // Runs the sqlite3 program on the stopped store's database; its output.
  std::string StoreSql(const std::string& sql) {
    ProcessResult r = Run("sqlite3", {"store/store.db", sql});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return Trim(r.out);
  }

  // The store every test starts from.
  static inline StoreTemplate template_{
      {"alice"},
      {"hello"},
      {{.file = "hello", .name = "hello", .version = "1.0.0"},
       {.file = "hello", .name = "hello", .version = "1.1.0", .release = 2},
       {.file = "hello", .name = "greeter"}}};

  ProgramWorld world_{dir_.path()};  // runs the programs in the test's directory
  std::unique_ptr<StoreServer>& store_ = world_.store();  // the world's store server
  std::vector<std::unique_ptr<SiteServer>> sites_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::optional<pki::Certificate> node_store_root_;
  std::string hello_bytes_, hello_digest_;
};

// --- the whole flow ----------------------------------------------------------------------------

TEST_F(SlsmTest, WholeFlowFromInstallToACertSiteTheNodeVerifies) {
  SiteServer& site = StartSite();
  ASSERT_FALSE(site.address().empty());

  // Install: verified and kept by digest.
  ASSERT_NO_FATAL_FAILURE(Install("hello", "1.0.0"));
  ASSERT_NO_FATAL_FAILURE(Install("greeter", "1.0.0"));
  const json services = Services();
  ASSERT_EQ(services.size(), 2u) << services.dump(2);
  const json hello = ServiceEntry("hello");
  ASSERT_TRUE(hello.is_object()) << services.dump(2);
  EXPECT_EQ(hello["release"].value("name", ""), "hello");
  EXPECT_EQ(hello["release"].value("version", ""), "1.0.0");
  EXPECT_EQ(hello["release"].value("release_counter", ""), "1");
  EXPECT_EQ(hello["release"].value("developer", ""), "alice");
  EXPECT_EQ(hello["release"].value("digest_algorithm", ""), "sha256");
  EXPECT_EQ(hello["release"].value("digest", ""), hello_digest_);
  EXPECT_EQ(hello["release"].value("size", ""), std::to_string(hello_bytes_.size()));
  EXPECT_EQ(hello["release"].value("revoked", true), false);
  EXPECT_EQ(hello.value("policy_json", ""), "{}");
  EXPECT_EQ(PackageBlobs(), std::set<std::string>{"sha256-" + hello_digest_});

  // Enroll: the node authenticates the slsm by the token's fingerprint and gets its identity.
  const std::string token = Token("n1");
  ASSERT_TRUE(Contains(token, "." + site.site_root_sha256())) << token;
  TestNode& node = NewNode("n1", site);
  Status s = node.Enroll(token);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << site.log();
  EXPECT_EQ(node.identity().site_root.Sha256Fingerprint(), site.site_root_sha256());
  EXPECT_EQ(node.identity().site_root.ToPem(), ReadWholeFile(Path("site/root.pem")));
  EXPECT_EQ(node.identity().certificate.UriSans(),
            std::vector<std::string>{pki::NodeSpiffeId(kSite, "n1")});
  EXPECT_EQ(node.identity().certificate.PublicKeyDer(), node.identity().key.PublicKeyDer());

  // The node renews its own certificate for the same key, and only for that key.
  {
    auto csr = pki::CertificateRequest::Create(node.identity().key, "n1", node.rng());
    ASSERT_TRUE(csr.ok());
    auto renewed = node.client().RenewNode(csr->ToDer());
    ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
    EXPECT_EQ(renewed->PublicKeyDer(), node.identity().key.PublicKeyDer());
    EXPECT_TRUE(renewed->SignatureVerifiesWith(node.identity().site_root));
    const pki::PrivateKey other = pki::PrivateKey::Generate(pki::KeyType::kEd25519, node.rng());
    auto other_csr = pki::CertificateRequest::Create(other, "n1", node.rng());
    ASSERT_TRUE(other_csr.ok());
    EXPECT_TRUE(IsRefused(node.client().RenewNode(other_csr->ToDer()).status(),
                          StatusCode::kInvalidArgument, "another key"));
  }

  // Deploy: the stream delivers it.
  ASSERT_NO_FATAL_FAILURE(ConnectAndWaitUp(node));
  ASSERT_NO_FATAL_FAILURE(Deploy("hello", "n1"));
  ASSERT_NO_FATAL_FAILURE(Deploy("greeter", "n1"));
  auto deploy = node.WaitForCommand(Kind::kDeploy, "hello", kCommandDeadline);
  ASSERT_TRUE(deploy.has_value()) << site.log();
  EXPECT_EQ(deploy->digest, hello_digest_);
  ASSERT_TRUE(node.WaitForCommand(Kind::kDeploy, "greeter", kCommandDeadline).has_value());

  // The package: the exact bytes and the certificates that were published.
  auto package = FetchTo(node, "hello", "n1-hello");
  ASSERT_TRUE(package.has_value());
  EXPECT_EQ(package->bytes, hello_bytes_);
  EXPECT_EQ(package->header.service, "hello");
  EXPECT_EQ(package->header.name, "hello");
  EXPECT_EQ(package->header.version, "1.0.0");
  EXPECT_EQ(package->header.release_counter, 1u);
  EXPECT_EQ(package->header.digest_algorithm, "sha256");
  EXPECT_EQ(package->header.digest, hello_digest_);
  EXPECT_EQ(package->header.size, hello_bytes_.size());
  for (const auto& [file, der] :
       {std::pair{"hello-1.0.0.cert.pem", &package->header.cert_dev_der},
        std::pair{"hello-1.0.0.cert.pem.store.pem", &package->header.cert_store_der},
        std::pair{"alice.pem", &package->header.developer_certificate_der}}) {
    auto expected = pki::Certificate::Load(Path(file));
    ASSERT_TRUE(expected.ok()) << file << ": " << expected.status().ToString();
    EXPECT_EQ(*der, expected->ToDer()) << file;
  }
  auto greeter_package = FetchTo(node, "greeter", "n1-greeter");
  ASSERT_TRUE(greeter_package.has_value());
  EXPECT_EQ(greeter_package->header.name, "greeter");

  // Renew: two instances in one call, each a Cert_site the node verifies for rules 1-8.
  const auto before = std::chrono::system_clock::now();
  auto outcomes = node.Renew({"hello", "greeter"});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 2u);
  std::map<std::string, pki::Certificate> certs;
  for (const auto& [service, file, pkg] :
       {std::tuple{"hello", "n1-hello", &*package},
        std::tuple{"greeter", "n1-greeter", &*greeter_package}}) {
    SCOPED_TRACE(service);
    const nlsm::RenewalOutcome* o = OutcomeFor(*outcomes, service);
    ASSERT_NE(o, nullptr);
    ASSERT_TRUE(o->status.ok()) << o->status.ToString();
    auto cert = pki::Certificate::FromDer(o->cert_site_der);
    ASSERT_TRUE(cert.ok()) << cert.status().ToString();
    const pki::Verification v =
        node.Verify(*pkg, *cert, Path(file), pki::NodeSpiffeId(kSite, "n1"), 1);
    ASSERT_TRUE(v.ok()) << v.failure->ToString();
    EXPECT_EQ(std::set<int>(v.rules_checked.begin(), v.rules_checked.end()), AllRules());
    EXPECT_EQ(cert->UriSans(),
              std::vector<std::string>{pki::ServiceSpiffeId(kSite, "n1", service)});
    ASSERT_NE(node.instance_key(service), nullptr);
    EXPECT_EQ(cert->PublicKeyDer(), node.instance_key(service)->PublicKeyDer());
    EXPECT_EQ(PolicyOf(*cert), "{}");
    // The suggested window lies ahead, inside the certificate's life.
    EXPECT_GT(o->renew_after, before);
    EXPECT_LT(o->renew_after, o->renew_before);
    EXPECT_LE(o->renew_before, cert->NotAfter());
    EXPECT_GT(cert->NotAfter(), before);
    certs.emplace(service, *cert);
  }
  // The binding matters: the same certificate is not another node's.
  {
    const pki::Verification v =
        node.Verify(*package, certs.at("hello"), Path("n1-hello"), pki::NodeSpiffeId(kSite, "n2"));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.failure->rule, 5);
    EXPECT_EQ(v.failure->reason, pki::Reason::kWrongNode);
  }

  // The issuance log and the instances name both certificates.
  const json issued = Issued();
  for (const auto& [service, cert] : certs) {
    bool found = false;
    for (const auto& e : issued) {
      if (e.value("serial", "") != cert.SerialHex()) continue;
      found = true;
      EXPECT_EQ(e.value("kind", ""), "site");
      EXPECT_EQ(e.value("node", ""), "n1");
      EXPECT_EQ(e.value("service", ""), service);
      EXPECT_EQ(e.value("not_after", ""), FormatTime(cert.NotAfter()));
    }
    EXPECT_TRUE(found) << service << " " << cert.SerialHex() << " not in\n" << issued.dump(2);
  }
  EXPECT_TRUE(std::any_of(issued.begin(), issued.end(), [&](const json& e) {
    return e.value("kind", "") == "node" && e.value("node", "") == "n1" &&
           e.value("serial", "") == node.identity().certificate.SerialHex();
  })) << issued.dump(2);
  const json instances = Instances();
  ASSERT_EQ(instances.size(), 2u) << instances.dump(2);
  for (const auto& i : instances) {
    EXPECT_EQ(i.value("node", ""), "n1");
    EXPECT_EQ(i.value("certificate_serial", ""), certs.at(i.value("service", "")).SerialHex());
  }
  const json n1 = NodeEntry("n1");
  EXPECT_EQ(n1.value("instances", 0), 2) << n1.dump();
  EXPECT_EQ(n1.value("evicted", true), false) << n1.dump();
}

TEST_F(SlsmTest, NodesShowUpWhileHeartbeatingAndDownAfterTheTimeoutOrADisconnect) {
  SiteServer& site = StartSite();
  TestNode& node = EnrolledNode("n1", site);
  ASSERT_TRUE(node.enrolled());
  EXPECT_FALSE(NodeUp("n1"));  // enrolled, never connected
  ASSERT_NO_FATAL_FAILURE(ConnectAndWaitUp(node));
  EXPECT_TRUE(WaitUntil([&] { return node.heartbeat_acks() > 0; }, kStateDeadline));

  // Silent but connected: down once the heartbeat timeout has passed, up again when it beats.
  node.StopHeartbeats();
  EXPECT_TRUE(WaitUntil([&] { return !NodeUp("n1"); }, kStateDeadline, kPoll)) << Nodes().dump(2);
  EXPECT_TRUE(node.stream_open());
  node.StartHeartbeats(kHeartbeatInterval);
  EXPECT_TRUE(WaitUntil([&] { return NodeUp("n1"); }, kStateDeadline, kPoll)) << Nodes().dump(2);

  // Gone: down, and last seen is set.
  ASSERT_TRUE(node.stream_open());
  (void)node.Disconnect();
  EXPECT_TRUE(WaitUntil([&] { return !NodeUp("n1"); }, kStateDeadline, kPoll)) << Nodes().dump(2);
  const json n1 = NodeEntry("n1");
  EXPECT_FALSE(n1.value("last_seen", "").empty()) << n1.dump();
  EXPECT_EQ(SlsmJson({"stats"}).value("connected_nodes", ""), "0");
  ProcessResult text = Slsm({"nodes"});
  EXPECT_EQ(text.exit_code, kExitOk) << text.Describe();
  EXPECT_TRUE(Contains(text.out, "n1\tdown")) << text.Describe();
}

// --- policy ------------------------------------------------------------------------------------

TEST_F(SlsmTest, PolicyChangePushesRenewNowAndTheNextCertSiteCarriesIt) {
  SiteServer& site = StartSite();
  TestNode& node = NodeRunningHello(site);
  auto first = RenewOne(node, "hello");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(PolicyOf(*first), "{}");

  ASSERT_TRUE(WriteWholeFile(Path("policy.json"), "{ \"max_rps\": 10,\n  \"log\": \"debug\" }\n"));
  const size_t seen = node.commands().size();
  ProcessResult r = Slsm({"policy", "set", "hello", "policy.json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const std::string compact = R"({"log":"debug","max_rps":10})";
  EXPECT_TRUE(Contains(r.out, compact)) << r.Describe();
  auto renew_now = node.WaitForCommand(Kind::kRenewNow, "hello", kCommandDeadline, seen);
  ASSERT_TRUE(renew_now.has_value()) << site.log();
  EXPECT_EQ(renew_now->services, std::vector<std::string>{"hello"});
  EXPECT_EQ(renew_now->window, Seconds(2));  // policy_push_window; one instance needs no more

  auto second = RenewOne(node, "hello");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(PolicyOf(*second), compact);
  EXPECT_NE(second->SerialHex(), first->SerialHex());
  EXPECT_EQ(ServiceEntry("hello").value("policy_json", ""), compact);

  // Refused policies leave the policy and the nodes alone.
  const size_t commands = node.commands().size();
  ASSERT_TRUE(WriteWholeFile(Path("array.json"), "[1, 2, 3]"));
  ASSERT_TRUE(WriteWholeFile(Path("garbage.json"), "{\"unterminated\": "));
  ASSERT_TRUE(
      WriteWholeFile(Path("large.json"), "{\"padding\": \"" + std::string(5000, 'x') + "\"}"));
  EXPECT_TRUE(CliRefused(Slsm({"policy", "set", "hello", "array.json"}), "INVALID_ARGUMENT",
                         "must be a JSON object"));
  EXPECT_TRUE(CliRefused(Slsm({"policy", "set", "hello", "garbage.json"}), "INVALID_ARGUMENT",
                         "not valid JSON"));
  EXPECT_TRUE(CliRefused(Slsm({"policy", "set", "hello", "large.json"}), "INVALID_ARGUMENT",
                         "at most 4096"));
  EXPECT_TRUE(CliRefused(Slsm({"policy", "set", "nope", "policy.json"}), "NOT_FOUND", "nope"));
  EXPECT_EQ(ServiceEntry("hello").value("policy_json", ""), compact);
  auto third = RenewOne(node, "hello");
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(PolicyOf(*third), compact);
  EXPECT_EQ(node.commands().size(), commands);
}

// --- revocation --------------------------------------------------------------------------------

TEST_F(SlsmTest, RevocationAtTheStoreReachesTheSiteAndStopsTheNode) {
  SiteServer& site = StartSite();
  TestNode& node = NodeRunningHello(site);
  ASSERT_TRUE(RenewOne(node, "hello").has_value());
  EXPECT_EQ(SlsmJson({"stats"}).value("last_revocation_sequence", ""), "0");

  ProcessResult r = Store(
      {"revoke", "release", "hello", "1.0.0", "--reason", "malware report", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  auto stop = node.WaitForCommand(Kind::kStop, "hello", kCommandDeadline);
  ASSERT_TRUE(stop.has_value()) << site.log();
  EXPECT_TRUE(Contains(stop->reason, "malware report")) << stop->reason;
  ASSERT_TRUE(WaitUntil([&] { return ServiceEntry("hello")["release"].value("revoked", false); },
                        kStateDeadline, kPoll))
      << Services().dump(2);
  EXPECT_EQ(ServiceEntry("hello")["release"].value("revocation_reason", ""), "malware report");
  EXPECT_EQ(SlsmJson({"stats"}).value("last_revocation_sequence", ""), "1");

  // No more certificates, no package, no new deployment.
  auto outcomes = node.Renew({"hello"});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 1u);
  EXPECT_TRUE(IsRefused(outcomes->front().status, StatusCode::kFailedPrecondition,
                        "was revoked at the store: malware report"));
  EXPECT_TRUE(outcomes->front().cert_site_der.empty());
  EXPECT_TRUE(IsRefused(node.Fetch("hello").status(), StatusCode::kFailedPrecondition,
                        "was revoked at the store"));
  TestNode& other = EnrolledNode("n2", site);
  ASSERT_TRUE(other.enrolled());
  EXPECT_TRUE(
      CliRefused(Slsm({"deploy", "hello", "--nodes", "n2"}), "FAILED_PRECONDITION", "revoked"));

  // A release the store has revoked is not installed.
  r = Store({"revoke", "release", "greeter", "1.0.0", "--reason", "abandoned", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(CliRefused(Slsm({"install", "greeter", "1.0.0"}), "FAILED_PRECONDITION",
                         "is revoked at the store"));
  EXPECT_FALSE(ServiceEntry("greeter").is_object()) << Services().dump(2);

  // A newer release brings the service back: its instances are told to fetch it and renew.
  const size_t seen = node.commands().size();
  ASSERT_NO_FATAL_FAILURE(Install("hello", "1.1.0"));
  EXPECT_EQ(ServiceEntry("hello")["release"].value("version", ""), "1.1.0");
  auto deploy = node.WaitForCommand(Kind::kDeploy, "hello", kCommandDeadline, seen);
  ASSERT_TRUE(deploy.has_value()) << site.log();
  EXPECT_EQ(deploy->digest, hello_digest_);
  auto package = FetchTo(node, "hello", "n1-hello");
  ASSERT_TRUE(package.has_value());
  EXPECT_EQ(package->header.version, "1.1.0");
  auto cert = RenewOne(node, "hello");
  ASSERT_TRUE(cert.has_value());
  const pki::Verification v =
      node.Verify(*package, *cert, Path("n1-hello"), pki::NodeSpiffeId(kSite, "n1"), 1);
  ASSERT_TRUE(v.ok()) << v.failure->ToString();
  EXPECT_EQ(v.release->version, "1.1.0");
  EXPECT_EQ(v.release->release_counter, 2u);
}

TEST_F(SlsmTest, SigtermWithAConnectedNodeShutsDownCleanlyAndTheNodeComesBack) {
  SiteServer& site = StartSite();
  TestNode& node = NodeRunningHello(site);
  ASSERT_TRUE(site.Stop(SIGTERM));  // exit 0, within the deadline
  EXPECT_TRUE(WaitUntil([&] { return !node.stream_open(); }, kStateDeadline));
  ASSERT_TRUE(site.Start());
  EXPECT_FALSE(NodeUp("n1"));
  node.SetAddress(site.address());
  ASSERT_NO_FATAL_FAILURE(ConnectAndWaitUp(node));
  EXPECT_TRUE(RenewOne(node, "hello").has_value());
}

// Commands missed while the node was away (the slsm drops commands for nodes that are not
// connected) reach it when it connects: what it should run, and what it reports but should not.
TEST_F(SlsmTest, CommandsMissedWhileAwayAreSentWhenTheNodeConnects) {
  SiteServer& site = StartSite();
  ASSERT_NO_FATAL_FAILURE(Install("hello", "1.0.0"));
  TestNode& node = EnrolledNode("n1", site);
  ASSERT_NO_FATAL_FAILURE(Deploy("hello", "n1"));  // n1 is not connected
  ASSERT_NO_FATAL_FAILURE(ConnectAndWaitUp(node));
  auto deploy = node.WaitForCommand(Kind::kDeploy, "hello", kCommandDeadline);
  ASSERT_TRUE(deploy.has_value()) << site.log();
  EXPECT_EQ(deploy->digest, hello_digest_);

  // And an undeployment: the node reports what it runs in its hello and is told to stop it.
  (void)node.Disconnect();
  ProcessResult r = Slsm({"undeploy", "hello", "--nodes", "n1"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const size_t seen = node.commands().size();
  const Status s = node.Connect({{"hello", "running", "", std::nullopt}});
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto stop = node.WaitForCommand(Kind::kStop, "hello", kCommandDeadline, seen);
  ASSERT_TRUE(stop.has_value()) << site.log();
  EXPECT_TRUE(Contains(stop->reason, "not deployed")) << stop->reason;
}

TEST_F(SlsmTest, IssuanceBeyondTheRateLimitIsRefusedWithAWindowToComeBack) {
  SiteServer& site =
      StartSite("site", kSite, {{"max_issuance_per_second", 0.01}, {"issuance_burst", 2}});
  ASSERT_NO_FATAL_FAILURE(Install("greeter", "1.0.0"));
  TestNode& node = NodeRunningHello(site);
  ASSERT_NO_FATAL_FAILURE(Deploy("greeter", "n1"));
  const auto before = std::chrono::system_clock::now();
  auto outcomes = node.Renew({"hello", "greeter"});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 2u);
  EXPECT_TRUE((*outcomes)[0].status.ok()) << (*outcomes)[0].status.ToString();
  EXPECT_TRUE((*outcomes)[1].status.ok()) << (*outcomes)[1].status.ToString();
  // A service named twice in one call is refused whole (issue 17); the third in a second call.
  outcomes = node.Renew({"hello"});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 1u);
  const nlsm::RenewalOutcome& refused = (*outcomes)[0];
  EXPECT_TRUE(IsRefused(refused.status, StatusCode::kResourceExhausted, "per second"));
  EXPECT_TRUE(refused.cert_site_der.empty());
  EXPECT_GT(refused.renew_after, before);
  EXPECT_LT(refused.renew_after, refused.renew_before);
  const json issued = Issued();
  EXPECT_EQ(std::count_if(issued.begin(), issued.end(),
                          [](const json& e) { return e.value("kind", "") == "site"; }),
            2)
      << issued.dump(2);
}

// --- restart -----------------------------------------------------------------------------------

TEST_F(SlsmTest, KillNineAndRestartKeepsEveryPieceOfState) {
  SiteServer& site = StartSite();
  ASSERT_NO_FATAL_FAILURE(Install("greeter", "1.0.0"));
  TestNode& node = NodeRunningHello(site);
  ASSERT_NO_FATAL_FAILURE(Deploy("greeter", "n1"));
  ASSERT_TRUE(WriteWholeFile(Path("policy.json"), R"({"tier":"gold"})"));
  ProcessResult r = Slsm({"policy", "set", "hello", "policy.json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  auto outcomes = node.Renew({"hello", "greeter"});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  const std::string used_token = Token("n2");
  TestNode& n2 = NewNode("n2", site);
  ASSERT_TRUE(n2.Enroll(used_token).ok());
  const std::string unused_token = Token("n3");

  // Everything acknowledged, as the admin sees it (connectivity and last_seen aside).
  auto stable_nodes = [&] {
    json out = json::array();
    for (json n : Nodes()) {
      n.erase("connected");
      n.erase("last_seen");
      out.push_back(n);
    }
    return out;
  };
  auto stable_stats = [&] {
    json s = SlsmJson({"stats"});
    s.erase("connected_nodes");
    return s;
  };
  const json services = Services(), nodes = stable_nodes(), instances = Instances(),
             issued = Issued(), stats = stable_stats();
  ASSERT_EQ(services.size(), 2u);
  ASSERT_EQ(nodes.size(), 2u);
  ASSERT_EQ(instances.size(), 2u);
  const std::set<std::string> blobs = PackageBlobs();

  ASSERT_TRUE(site.Stop(SIGKILL));
  ASSERT_TRUE(WaitUntil([&] { return !node.stream_open(); }, kStateDeadline));
  ASSERT_TRUE(site.Start());

  EXPECT_EQ(Services(), services);
  EXPECT_EQ(stable_nodes(), nodes);
  EXPECT_EQ(Instances(), instances);
  EXPECT_EQ(Issued(), issued);
  EXPECT_EQ(stable_stats(), stats);
  EXPECT_EQ(PackageBlobs(), blobs);

  // Used tokens stay used; unused ones still work.
  TestNode& again = NewNode("n2", site);
  EXPECT_TRUE(IsRefused(again.Enroll(used_token), StatusCode::kUnauthenticated, "already used"));
  TestNode& n3 = NewNode("n3", site);
  EXPECT_TRUE(n3.Enroll(unused_token).ok());

  // The node comes back with the certificate it has and renews, under the policy it had.
  node.SetAddress(site.address());
  ASSERT_NO_FATAL_FAILURE(ConnectAndWaitUp(node));
  auto cert = RenewOne(node, "hello");
  ASSERT_TRUE(cert.has_value());
  EXPECT_EQ(PolicyOf(*cert), R"({"tier":"gold"})");
  EXPECT_EQ(Issued().size(), issued.size() + 2);  // n3's node certificate and this Cert_site
  // Commands still reach it.
  r = Slsm({"undeploy", "greeter", "--nodes", "n1"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(node.WaitForCommand(Kind::kStop, "greeter", kCommandDeadline).has_value())
      << site.log();
}

// --- bad input and attacks: join tokens --------------------------------------------------------

TEST_F(SlsmTest, ReusedJoinTokenIsRefused) {
  SiteServer& site = StartSite();
  const std::string token = Token("n1");
  TestNode& first = NewNode("n1", site);
  ASSERT_TRUE(first.Enroll(token).ok());
  const json issued = Issued();

  TestNode& second = NewNode("n1", site);
  EXPECT_TRUE(IsRefused(second.Enroll(token), StatusCode::kUnauthenticated, "already used"));
  EXPECT_FALSE(second.enrolled());
  // Unchanged: one node, with the first key, no new certificate.
  const json nodes = Nodes();
  ASSERT_EQ(nodes.size(), 1u) << nodes.dump(2);
  EXPECT_EQ(Issued(), issued);
  ASSERT_NO_FATAL_FAILURE(ConnectAndWaitUp(first));
}

TEST_F(SlsmTest, ExpiredJoinTokenIsRefused) {
  SiteServer& site = StartSite();
  const json created = SlsmJson({"tokens", "create", "n1", "--ttl", "1s"});
  const std::string token = created.value("token", "");
  ASSERT_FALSE(token.empty()) << created.dump();
  auto expires = ParseTime(created.value("expires_at", ""));
  ASSERT_TRUE(expires.ok()) << created.dump();
  // The token's time passes (one more second: the record keeps whole seconds).
  ASSERT_TRUE(WaitUntil([&] { return std::chrono::system_clock::now() > *expires + seconds(1); },
                        seconds(10), milliseconds(20)));
  TestNode& node = NewNode("n1", site);
  EXPECT_TRUE(IsRefused(node.Enroll(token), StatusCode::kUnauthenticated, "expired"));
  EXPECT_TRUE(Nodes().empty()) << Nodes().dump(2);
  // A token may not live longer than the site allows.
  EXPECT_TRUE(CliRefused(Slsm({"tokens", "create", "n1", "--ttl", "30d"}), "INVALID_ARGUMENT",
                         "join token may live"));
}

TEST_F(SlsmTest, JoinTokenOfAnotherNodeIsRefusedAndStaysUsable) {
  SiteServer& site = StartSite();
  const std::string token = Token("n1");
  TestNode& impostor = NewNode("n2", site);
  EXPECT_TRUE(IsRefused(impostor.Enroll(token), StatusCode::kPermissionDenied,
                        "was made for node 'n1', not 'n2'"));
  EXPECT_TRUE(Nodes().empty()) << Nodes().dump(2);
  TestNode& node = NewNode("n1", site);
  const Status s = node.Enroll(token);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(SlsmTest, TokenWhoseFingerprintIsNotTheServersSendsNothing) {
  SiteServer& site = StartSite();
  SiteServer& other = StartSite("site-b", "site-b");
  ASSERT_NE(site.site_root_sha256(), other.site_root_sha256());

  // A token of site-b used against site-a: site-a presents another root; nothing is sent.
  const std::string token_b = Token("n1", "site-b");
  TestNode& node = NewNode("n1", site);
  const Status s = node.Enroll(token_b);
  EXPECT_TRUE(IsRefused(s, StatusCode::kUnauthenticated, "nothing was sent"));
  EXPECT_TRUE(Contains(s.message(), site.site_root_sha256())) << s.ToString();
  // A token whose fingerprint was changed is refused the same way.
  std::string token_a = Token("n1");
  ASSERT_GT(token_a.size(), 64u);
  const std::string forged = token_a.substr(0, token_a.size() - 64) + std::string(64, '0');
  EXPECT_TRUE(IsRefused(node.Enroll(forged), StatusCode::kUnauthenticated, "nothing was sent"));
  EXPECT_FALSE(node.enrolled());
  // site-a saw no enrollment attempt, and both tokens are still good at their own sites.
  EXPECT_FALSE(Contains(site.log(), "Enroll refused")) << site.log();
  EXPECT_TRUE(Nodes().empty());
  TestNode& at_b = NewNode("n1", other);
  EXPECT_TRUE(at_b.Enroll(token_b).ok());
  EXPECT_TRUE(node.Enroll(token_a).ok());
}

// --- bad input and attacks: CSRs ---------------------------------------------------------------

TEST_F(SlsmTest, CsrAskingForCaRightsOrExtensionsIsRefused) {
  SiteServer& site = StartSite();
  auto root = pki::Certificate::Load(Path("site/root.pem"));
  ASSERT_TRUE(root.ok());
  SystemRandom rng;
  const pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  const pki::RawExtension server_auth{
      "2.5.29.37", false,
      sitechain::testing::der::Tlv(0x30, sitechain::testing::der::Oid("1.3.6.1.5.5.7.3.1"))};
  auto der_of = [&](const std::vector<pki::RawExtension>& extensions, const std::string& cn) {
    auto csr = pki::CertificateRequest::FromPem(
        sitechain::testing::HandMadeCsrPem(key, cn, extensions, rng));
    EXPECT_TRUE(csr.ok()) << csr.status().ToString();
    return csr.ok() ? AsBytes(csr->ToDer()) : std::string();
  };

  // Enrollment, over TLS that verifies the slsm (as Enroll does after the fingerprint check).
  const std::string token = Token("n1");
  auto stub = RawStub(site.address(), *root);
  struct Case {
    std::vector<pki::RawExtension> extensions;
    std::string text;
  };
  for (const Case& c : {Case{{sitechain::testing::CaTrueExtension()}, "asks for CA rights"},
                        Case{{server_auth}, "asks for the extension"}}) {
    SCOPED_TRACE(c.text);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::EnrollRequest request;
    request.set_token(token);
    request.set_node("n1");
    request.set_csr_der(der_of(c.extensions, "n1"));
    v1::EnrollResponse response;
    EXPECT_TRUE(IsRefused(stub->Enroll(&context, request, &response),
                          grpc::StatusCode::PERMISSION_DENIED, c.text));
    EXPECT_TRUE(response.node_certificate_der().empty());
  }
  EXPECT_TRUE(Nodes().empty()) << Nodes().dump(2);
  // The control: the same hand-made CSR without extensions enrolls, with the same token.
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::EnrollRequest request;
    request.set_token(token);
    request.set_node("n1");
    request.set_csr_der(der_of({}, "n1"));
    v1::EnrollResponse response;
    const grpc::Status status = stub->Enroll(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  // Instance CSRs in a Renew, from an enrolled node with hello deployed.
  TestNode& node = NodeRunningHello(site, "n2");
  auto mtls = RawStub(site.address(), *root, &node);
  // One call each: a call names each service once (issue 17).
  v1::RenewResponse response;
  for (const auto& extensions :
       {std::vector<pki::RawExtension>{sitechain::testing::CaTrueExtension()},
        std::vector<pki::RawExtension>{server_auth}, std::vector<pki::RawExtension>{}}) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::RenewRequest request;
    auto* i = request.add_instances();
    i->set_service("hello");
    i->set_csr_der(der_of(extensions, "hello"));
    v1::RenewResponse one;
    const grpc::Status status = mtls->Renew(&context, request, &one);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(one.certificates_size(), 1);
    *response.add_certificates() = one.certificates(0);
  }
  ASSERT_EQ(response.certificates_size(), 3);
  const auto& ca = response.certificates(0);
  EXPECT_EQ(ca.code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)) << ca.message();
  EXPECT_TRUE(Contains(ca.message(), "asks for CA rights")) << ca.message();
  EXPECT_TRUE(ca.cert_site_der().empty());
  const auto& ext = response.certificates(1);
  EXPECT_EQ(ext.code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)) << ext.message();
  EXPECT_TRUE(Contains(ext.message(), "asks for the extension")) << ext.message();
  EXPECT_TRUE(ext.cert_site_der().empty());
  EXPECT_EQ(response.certificates(2).code(), 0) << response.certificates(2).message();
  EXPECT_FALSE(response.certificates(2).cert_site_der().empty());
  // Only the clean one was issued.
  const json issued = Issued();
  EXPECT_EQ(std::count_if(issued.begin(), issued.end(),
                          [](const json& e) { return e.value("kind", "") == "site"; }),
            1)
      << issued.dump(2);
}

// --- bad input and attacks: authorisation ------------------------------------------------------

TEST_F(SlsmTest, NodeAskingForAnotherNodesInstanceOrPackageIsDenied) {
  SiteServer& site = StartSite();
  ASSERT_NO_FATAL_FAILURE(Install("greeter", "1.0.0"));
  TestNode& n1 = NodeRunningHello(site, "n1");
  TestNode& n2 = EnrolledNode("n2", site);
  ASSERT_NO_FATAL_FAILURE(Deploy("greeter", "n2"));

  EXPECT_TRUE(IsRefused(n2.Fetch("hello").status(), StatusCode::kPermissionDenied,
                        "service 'hello' is not deployed to node 'n2'"));
  // Each entry of a call gets its own answer: greeter is n2's, hello is not.
  auto outcomes = n2.Renew({"greeter", "hello"});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 2u);
  const nlsm::RenewalOutcome* greeter = OutcomeFor(*outcomes, "greeter");
  const nlsm::RenewalOutcome* hello = OutcomeFor(*outcomes, "hello");
  ASSERT_TRUE(greeter != nullptr && hello != nullptr);
  EXPECT_TRUE(greeter->status.ok()) << greeter->status.ToString();
  EXPECT_TRUE(IsRefused(hello->status, StatusCode::kPermissionDenied,
                        "service 'hello' is not deployed to node 'n2'"));
  EXPECT_TRUE(hello->cert_site_der.empty());
  // n1's instance is untouched: it renews, and no Cert_site of hello names n2.
  ASSERT_TRUE(RenewOne(n1, "hello").has_value());
  for (const auto& e : Issued()) {
    EXPECT_FALSE(e.value("service", "") == "hello" && e.value("node", "") == "n2") << e.dump();
  }
  // A service nobody deployed, and an empty call.
  EXPECT_TRUE(IsRefused(n1.Fetch("nope").status(), StatusCode::kPermissionDenied, "nope"));
  EXPECT_TRUE(IsRefused(n1.client().Renew({}).status(), StatusCode::kInvalidArgument,
                        "at least one instance"));
}

TEST_F(SlsmTest, CallsWithoutAClientCertificateAreUnauthenticated) {
  SiteServer& site = StartSite();
  TestNode& node = NodeRunningHello(site);
  auto root = pki::Certificate::Load(Path("site/root.pem"));
  ASSERT_TRUE(root.ok());
  auto stub = RawStub(site.address(), *root);  // server-verified TLS, no client certificate
  const std::string text = "needs mutual TLS";
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::RenewRequest request;
    auto* i = request.add_instances();
    i->set_service("hello");
    auto csr = pki::CertificateRequest::Create(node.identity().key, "hello", node.rng());
    ASSERT_TRUE(csr.ok());
    i->set_csr_der(AsBytes(csr->ToDer()));
    v1::RenewResponse response;
    EXPECT_TRUE(IsRefused(stub->Renew(&context, request, &response),
                          grpc::StatusCode::UNAUTHENTICATED, text));
    EXPECT_EQ(response.certificates_size(), 0);
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::FetchPackageRequest request;
    request.set_service("hello");
    auto reader = stub->FetchPackage(&context, request);
    v1::FetchPackageResponse message;
    EXPECT_FALSE(reader->Read(&message));
    EXPECT_TRUE(IsRefused(reader->Finish(), grpc::StatusCode::UNAUTHENTICATED, text));
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::RenewNodeRequest request;
    auto csr = pki::CertificateRequest::Create(node.identity().key, "n1", node.rng());
    ASSERT_TRUE(csr.ok());
    request.set_csr_der(AsBytes(csr->ToDer()));
    v1::RenewNodeResponse response;
    EXPECT_TRUE(IsRefused(stub->RenewNode(&context, request, &response),
                          grpc::StatusCode::UNAUTHENTICATED, text));
  }
  EXPECT_TRUE(IsRefused(RawConnect(*stub), grpc::StatusCode::UNAUTHENTICATED, text));
  // The calls for a node without a certificate need none.
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetSiteRootResponse response;
    const grpc::Status status = stub->GetSiteRoot(&context, {}, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.site_root_der(), AsBytes(root->ToDer()));
    EXPECT_EQ(response.site(), kSite);
  }
  const json instances = Instances();
  ASSERT_EQ(instances.size(), 1u) << instances.dump(2);
  EXPECT_EQ(instances[0].value("certificate_serial", "x"), "");
}

TEST_F(SlsmTest, NodeCertificateOfAnotherSiteIsUnauthenticated) {
  SiteServer& site = StartSite();
  SiteServer& other = StartSite("site-b", "site-b");
  TestNode& node = NodeRunningHello(site, "n1");
  // The same node name, enrolled at site-b: a valid node certificate, of the wrong site.
  TestNode& at_b = EnrolledNode("n1", other);
  ASSERT_TRUE(at_b.enrolled());
  const size_t issued = Issued().size();
  TestNode& forger = NewNode("n1", site);
  {
    // at_b's identity (its key through PEM), presented to site-a, whose root the client trusts
    // for the server.
    auto key = pki::PrivateKey::FromPem(at_b.identity().key.ToPem(std::nullopt, forger.rng()),
                                        std::nullopt);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    forger.SetIdentity({at_b.identity().certificate, std::move(*key), node.identity().site_root});
  }
  const std::string text = "is not a valid node certificate of site 'site-a'";
  auto outcomes = forger.Renew({"hello"});
  EXPECT_TRUE(IsRefused(outcomes.status(), StatusCode::kUnauthenticated, text));
  EXPECT_TRUE(IsRefused(forger.Fetch("hello").status(), StatusCode::kUnauthenticated, text));
  // The stream over a raw stub: the node's client loses the slsm's status (see
  // NodeClientReportsHowTheSlsmEndedTheStream).
  EXPECT_TRUE(IsRefused(RawConnect(*RawStub(site.address(), node.identity().site_root, &forger)),
                        grpc::StatusCode::UNAUTHENTICATED, text));
  // Nothing changed at site-a: n1 with its own certificate, nothing issued; n1 still renews.
  const json nodes = Nodes();
  ASSERT_EQ(nodes.size(), 1u) << nodes.dump(2);
  EXPECT_EQ(nodes[0].value("certificate_not_after", ""),
            FormatTime(node.identity().certificate.NotAfter()));
  EXPECT_EQ(Issued().size(), issued);
  EXPECT_TRUE(RenewOne(node, "hello").has_value());
}

TEST_F(SlsmTest, EvictedNodeIsDenied) {
  SiteServer& site = StartSite();
  TestNode& node = NodeRunningHello(site);
  ASSERT_TRUE(RenewOne(node, "hello").has_value());
  const size_t issued = Issued().size();

  ProcessResult r = Slsm({"nodes", "evict", "n1"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  auto stop = node.WaitForCommand(Kind::kStop, "hello", kCommandDeadline);
  ASSERT_TRUE(stop.has_value()) << site.log();
  EXPECT_TRUE(Contains(stop->reason, "evicted")) << stop->reason;
  const json n1 = NodeEntry("n1");
  EXPECT_EQ(n1.value("evicted", false), true) << n1.dump();
  EXPECT_EQ(n1.value("instances", -1), 0) << n1.dump();
  EXPECT_TRUE(Instances().empty());

  const std::string text = "node 'n1' was evicted";
  EXPECT_TRUE(IsRefused(node.Renew({"hello"}).status(), StatusCode::kPermissionDenied, text));
  EXPECT_TRUE(IsRefused(node.Fetch("hello").status(), StatusCode::kPermissionDenied, text));
  auto csr = pki::CertificateRequest::Create(node.identity().key, "n1", node.rng());
  ASSERT_TRUE(csr.ok());
  EXPECT_TRUE(IsRefused(node.client().RenewNode(csr->ToDer()).status(),
                        StatusCode::kPermissionDenied, text));
  EXPECT_TRUE(IsRefused(RawConnect(*RawStub(site.address(), node.identity().site_root, &node)),
                        grpc::StatusCode::PERMISSION_DENIED, text));
  EXPECT_EQ(Issued().size(), issued);
  EXPECT_TRUE(
      CliRefused(Slsm({"deploy", "hello", "--nodes", "n1"}), "FAILED_PRECONDITION", "is evicted"));
  EXPECT_TRUE(CliRefused(Slsm({"nodes", "evict", "n1"}), "FAILED_PRECONDITION", "n1"));
}

// What nlsm::CommandStream::Close promises ("returns how it ended"): when the slsm ends the
// stream with a refusal, the node learns that refusal, not a cancellation of its own.
TEST_F(SlsmTest, NodeClientReportsHowTheSlsmEndedTheStream) {
  SiteServer& site = StartSite();
  TestNode& node = NodeRunningHello(site);
  ProcessResult r = Slsm({"nodes", "evict", "n1"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  (void)node.Disconnect();
  // Connect itself may see the refusal (the hello could not be written) or the stream may end.
  Status s = node.Connect();
  if (s.ok()) {
    ASSERT_TRUE(WaitUntil([&] { return !node.stream_open(); }, kStateDeadline));
    s = node.Disconnect();
  }
  EXPECT_TRUE(IsRefused(s, StatusCode::kPermissionDenied, "node 'n1' was evicted"));
}

// --- bad input and attacks: releases the store serves wrongly ----------------------------------

TEST_F(SlsmTest, InstallRefusesACertStoreThatDoesNotMatchItsCertDev) {
  // The store's database is changed while it is stopped: hello 1.1.0 is served with the
  // Cert_store of 1.0.0 (a valid store certificate, for another release).
  ASSERT_TRUE(store_->Stop(SIGTERM));
  (void)StoreSql(
      "UPDATE releases SET cert_store_pem = (SELECT cert_store_pem FROM releases WHERE "
      "name = 'hello' AND version = '1.0.0') WHERE name = 'hello' AND version = '1.1.0'");
  ASSERT_EQ(StoreSql("SELECT count(DISTINCT cert_store_pem) FROM releases WHERE name = 'hello'"),
            "1");
  ASSERT_TRUE(store_->Start());
  SiteServer& site = StartSite();
  ASSERT_TRUE(site.running());

  ProcessResult r = Slsm({"install", "hello", "1.1.0"});
  EXPECT_TRUE(CliRefused(r, "INVALID_ARGUMENT", "rule 4, cert-store"));
  EXPECT_TRUE(Contains(r.err, "nothing was installed")) << r.Describe();
  EXPECT_TRUE(Services().empty()) << Services().dump(2);
  EXPECT_TRUE(PackageBlobs().empty());
  // The untouched release still installs.
  ASSERT_NO_FATAL_FAILURE(Install("hello", "1.0.0"));
}

TEST_F(SlsmTest, InstallRefusesAnExecutableThatDoesNotMatchItsDigest) {
  // A store that lies: while it is stopped, its stored executable is swapped for other bytes and
  // its database made to agree (digest and blob name), so that the store itself finds nothing
  // wrong and serves them (a merely damaged blob the store refuses itself: FaultCorruption).
  ASSERT_TRUE(store_->Stop(SIGTERM));
  std::string bytes = hello_bytes_;
  bytes[bytes.size() / 2] ^= 0x01;
  pki::Hasher hasher(pki::HashAlgorithm::kSha256);
  hasher.Update(bytes);
  const std::string digest = hasher.Final().Hex();
  ASSERT_TRUE(WriteWholeFile(Path("store/blobs/sha256-" + digest), bytes));
  StoreSql("UPDATE releases SET digest = '" + digest + "', blob = 'sha256-" + digest +
           "' WHERE name = 'hello'");
  ASSERT_TRUE(store_->Start());
  SiteServer& site = StartSite();
  ASSERT_TRUE(site.running());

  ProcessResult r = Slsm({"install", "hello", "1.0.0"});
  EXPECT_TRUE(CliRefused(r, "INVALID_ARGUMENT", "rule 6"));
  EXPECT_TRUE(Contains(r.err, "DIGEST_MISMATCH")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "nothing was installed")) << r.Describe();
  EXPECT_TRUE(Services().empty()) << Services().dump(2);
  EXPECT_TRUE(PackageBlobs().empty()) << Path("site/packages");
  EXPECT_TRUE(EntriesOf(Path("site/packages/tmp")).empty());
}

// --- the command line --------------------------------------------------------------------------

TEST(SlsmCliTest, HelpOfEveryCommandExitsZero) {
  ASSERT_FALSE(BinDir().empty()) << "SITECHAIN_BIN_DIR is not set; run the tests with ctest";
  const std::string slsm = BinDir() + "/slsm";
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{},
                                             {"init"},
                                             {"serve"},
                                             {"install"},
                                             {"services"},
                                             {"policy"},
                                             {"policy", "set"},
                                             {"tokens"},
                                             {"tokens", "create"},
                                             {"nodes"},
                                             {"nodes", "evict"},
                                             {"deploy"},
                                             {"undeploy"},
                                             {"instances"},
                                             {"issued"},
                                             {"stats"}}) {
    std::vector<std::string> argv = {slsm};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.push_back("--help");
    ProcessResult r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    EXPECT_TRUE(Contains(r.out, "Usage")) << r.Describe();
  }
}

}  // namespace
}  // namespace sitechain::testutil
