// SiteService tests: Cert_site renewal, the issuance rate limit and log, revocations from the
// store feed, policy changes and a restart.
// The fixture is in site_fixture.h. Every refusal asserts its status code and a piece of its
// message; refusals that must leave the site unchanged check that too.

#include <gtest/gtest.h>

#include <cstdint>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "tests/slsm/site_fixture.h"

namespace sitechain::slsm::site_test {
namespace {

// === Cert_site renewal ==========================================================================

TEST_F(SiteServiceTest, RenewIssuesACertSiteTheNodeVerifies) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  clock_.Advance(Seconds(10));
  const RenewalRequest request = Request(kHello);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, service().Renew(nodes[0].record, {request}));
  ASSERT_EQ(results.size(), 1u);
  const RenewalResult& r = results[0];
  EXPECT_EQ(r.service, kHello);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(r.certificate);
  const pki::Certificate& cert = *r.certificate;

  // Rules 1-8, as nlsm checks them on node-1.
  const pki::Verification v = VerifyAsNode(nodes[0], cert, kHello);
  ASSERT_TRUE(v.ok()) << sitechain::testing::Describe(v);
  EXPECT_EQ(v.rules_checked, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_TRUE(v.release);
  EXPECT_EQ(v.release->name, kHello);
  EXPECT_EQ(v.release->release_counter, 7u);
  // It is node-1's: node-2 refuses it (rule 5).
  const pki::Verification on_other = VerifyAsNode(nodes[1], cert, kHello);
  ASSERT_FALSE(on_other.ok());
  EXPECT_EQ(on_other.failure->rule, 5);
  EXPECT_EQ(on_other.failure->reason, pki::Reason::kWrongNode);

  // The instance's key, binding, policy and lifetime.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr, pki::CertificateRequest::FromDer(request.csr_der));
  EXPECT_EQ(cert.PublicKeyDer(), csr.PublicKeyDer());
  EXPECT_EQ(cert.UriSans(),
            std::vector<std::string>{pki::ServiceSpiffeId(kSite, "node-1", kHello)});
  EXPECT_EQ(PolicyOf(cert), "{}");
  EXPECT_EQ(cert.NotAfter(), clock_.Now() + options_.cert_site_lifetime);
  EXPECT_EQ(r.renew_after, clock_.Now() + Seconds(2500));
  EXPECT_EQ(r.renew_before, clock_.Now() + Seconds(3750));

  // The instance and the issuance log know it.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances(kHello, "node-1"));
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].certificate_serial, cert.SerialHex());
  ASSERT_TRUE(instances[0].certificate_not_after);
  EXPECT_EQ(*instances[0].certificate_not_after, cert.NotAfter());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(1));
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].serial, cert.SerialHex());
  EXPECT_EQ(issued[0].kind, "site");
  EXPECT_EQ(issued[0].node, "node-1");
  EXPECT_EQ(issued[0].service, kHello);
  EXPECT_EQ(issued[0].not_after, cert.NotAfter());
}

TEST_F(SiteServiceTest, RenewRenewsSeveralInstancesInOneCall) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());
  ASSERT_TRUE(service().Deploy("world", {"node-1"}).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello, "world"}));
  ASSERT_EQ(results.size(), 2u);
  std::set<std::string> serials;
  for (const auto& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.service << ": " << r.status.ToString();
    ASSERT_TRUE(r.certificate);
    const pki::Verification v = VerifyAsNode(nodes[0], *r.certificate, r.service);
    EXPECT_TRUE(v.ok()) << r.service << ": " << sitechain::testing::Describe(v);
    EXPECT_EQ(r.certificate->Subject().common_name, r.service);
    serials.insert(r.certificate->SerialHex());
  }
  EXPECT_EQ(results[0].service, kHello);
  EXPECT_EQ(results[1].service, "world");
  EXPECT_EQ(serials.size(), 2u);
}

TEST_F(SiteServiceTest, RenewRefusesEachEntryANodeMayNotHave) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());  // installed, deployed nowhere
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node2, Join("node-2"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued_before, service().ListIssued(0));

  // node-2 asks for node-1's instance, an undeployed service and an unknown one.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(node2, {kHello, "world", "nosuch"}));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied,
                      {"service 'hello' is not deployed to node 'node-2'"}));
  EXPECT_TRUE(Refused(results[1].status, StatusCode::kPermissionDenied,
                      {"service 'world' is not deployed to node 'node-2'"}));
  EXPECT_TRUE(Refused(results[2].status, StatusCode::kPermissionDenied, {"'nosuch'"}));
  for (const auto& r : results) EXPECT_FALSE(r.certificate);

  // Refusals are per entry: node-1's own instance renews beside a refused one.
  RenewalRequest ca_request{kHello, {}};
  {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    SITECHAIN_ASSERT_OK_AND_ASSIGN(
        auto csr, pki::CertificateRequest::FromPem(sitechain::testing::HandMadeCsrPem(
                      key, kHello, {sitechain::testing::CaTrueExtension()}, rng_)));
    ca_request.csr_der = csr.ToDer();
  }
  // (A call names each service once: the bad CSRs go in calls of their own.)
  SITECHAIN_ASSERT_OK_AND_ASSIGN(results, service().Renew(nodes[0].record, {ca_request}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied, {"CA rights"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      results, service().Renew(nodes[0].record, {RenewalRequest{kHello, {1, 2, 3}}}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].status.ok());
  EXPECT_FALSE(results[0].certificate);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      results, service().Renew(nodes[0].record, {Request("world"), Request(kHello)}));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied, {"not deployed"}));
  EXPECT_TRUE(results[1].status.ok()) << results[1].status.ToString();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued_after, service().ListIssued(0));
  EXPECT_EQ(issued_after.size(), issued_before.size() + 1);

  // The whole call: no entries, or too many.
  EXPECT_TRUE(Refused(service().Renew(nodes[0].record, {}), StatusCode::kInvalidArgument,
                      {"at least one"}));
  std::vector<RenewalRequest> many(options_.max_renewals_per_call + 1, Request(kHello));
  EXPECT_TRUE(Refused(service().Renew(nodes[0].record, many), StatusCode::kInvalidArgument,
                      {"at most 1000"}));
}

TEST_F(SiteServiceTest, ARevokedReleaseGetsNoCertificatesAndItsNodesAreStopped) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2", "node-3"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());
  ASSERT_TRUE(service().Deploy("world", {"node-3"}).ok());
  notifier_.Take();

  SiteService::StoreRevocation rev;
  rev.sequence = 5;
  rev.name = kHello;
  rev.version = "1.0.0";
  rev.reason = "key leaked";
  ASSERT_TRUE(service().ApplyRevocation(rev).ok());

  std::vector<SentCommand> sent = notifier_.Take();
  std::set<std::string> stopped;
  for (const auto& c : sent) {
    EXPECT_EQ(c.kind, Kind::kStop);
    EXPECT_EQ(c.services, std::vector<std::string>{kHello});  // world keeps running
    EXPECT_NE(c.detail.find("revoked"), std::string::npos) << c.detail;
    stopped.insert(c.node);
  }
  EXPECT_EQ(sent.size(), 3u);
  EXPECT_EQ(stopped, (std::set<std::string>{"node-1", "node-2", "node-3"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t seq, service().LastFeedSequence());
  EXPECT_EQ(seq, 5u);

  for (const auto& node : nodes) {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(node, {kHello}));
    ASSERT_EQ(results.size(), 1u);
    EXPECT_TRUE(Refused(results[0].status, StatusCode::kFailedPrecondition,
                        {"revoked at the store", "key leaked"}));
    EXPECT_FALSE(results[0].certificate);
  }
  EXPECT_TRUE(Refused(service().PackageFor(nodes[0].record, kHello),
                      StatusCode::kFailedPrecondition, {"revoked"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node4, Join("node-4"));
  EXPECT_TRUE(Refused(service().Deploy(kHello, {"node-4"}), StatusCode::kFailedPrecondition,
                      {"revoked", "install a newer release"}));
  EXPECT_TRUE(RenewOne(nodes[2], "world").ok());

  // A newer release brings the service back.
  Publish(kHello, "1.1.0", 8);
  ASSERT_TRUE(service().Install(kHello, "1.1.0").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, RenewOne(nodes[0], kHello));
  EXPECT_TRUE(VerifyAsNode(nodes[0], cert, kHello).ok());
}

TEST_F(SiteServiceTest, RevokingADeveloperStopsAllItsServices) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());
  ASSERT_TRUE(service().Deploy("world", {"node-1"}).ok());
  notifier_.Take();
  SiteService::StoreRevocation rev;
  rev.sequence = 9;
  rev.developer = true;
  rev.developer_name = "alice";
  rev.reason = "account compromised";
  ASSERT_TRUE(service().ApplyRevocation(rev).ok());
  EXPECT_EQ(notifier_.OfKind(Kind::kStop).size(), 2u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello, "world"}));
  for (const auto& r : results) {
    EXPECT_TRUE(Refused(r.status, StatusCode::kFailedPrecondition, {"account compromised"}));
  }
}

TEST_F(SiteServiceTest, RevokingAnOlderReleaseLeavesTheCurrentOneRunning) {
  Publish(kHello, "2.0.0", 9);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  ASSERT_TRUE(service().Install(kHello, "2.0.0").ok());
  notifier_.Take();
  SiteService::StoreRevocation rev;
  rev.sequence = 3;
  rev.name = kHello;
  rev.version = "1.0.0";
  rev.reason = "old bug";
  ASSERT_TRUE(service().ApplyRevocation(rev).ok());
  EXPECT_TRUE(notifier_.Take().empty());
  EXPECT_TRUE(RenewOne(nodes[0], kHello).ok());
  // The feed position never goes back.
  rev.sequence = 2;
  ASSERT_TRUE(service().ApplyRevocation(rev).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t seq, service().LastFeedSequence());
  EXPECT_EQ(seq, 3u);
}

TEST_F(SiteServiceTest, TheIssuanceRateIsLimited) {
  SiteOptions o;
  o.max_issuance_per_second = 1;
  o.issuance_burst = 2;
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  Publish("world", "1.0.0", 1);
  Publish("alpha", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  for (const std::string s : {"world", "alpha"}) {
    ASSERT_TRUE(service().Install(s, "1.0.0").ok());
    ASSERT_TRUE(service().Deploy(s, {"node-1"}).ok());
  }
  // Refused entries take nothing from the bucket: the two real ones fit the burst.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {"nosuch", kHello, "world"}));
  EXPECT_FALSE(results[0].status.ok());
  EXPECT_TRUE(results[1].status.ok()) << results[1].status.ToString();
  EXPECT_TRUE(results[2].status.ok()) << results[2].status.ToString();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(results, Renew(nodes[0], {"alpha"}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kResourceExhausted,
                      {"certificates per second", "retry after"}));
  EXPECT_FALSE(results[0].certificate);
  const TimePoint come_back = results[0].renew_after;
  EXPECT_GT(come_back, clock_.Now());
  EXPECT_GT(results[0].renew_before, come_back);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_EQ(issued.size(), 3u);  // the node certificate and two Cert_site

  clock_.Set(come_back);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(results, Renew(nodes[0], {"alpha"}));
  EXPECT_TRUE(results[0].status.ok()) << results[0].status.ToString();
  EXPECT_TRUE(results[0].certificate);
}

TEST_F(SiteServiceTest, TheIssuanceLogListsEveryIssuance) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());
  ASSERT_TRUE(service().Deploy("world", {"node-1"}).ok());
  std::set<std::string> expected = {nodes[0].cert.SerialHex(), nodes[1].cert.SerialHex()};
  clock_.Advance(Seconds(1));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(nodes[1].key, "node-2", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate renewed,
                                 service().RenewNode(nodes[1].record, csr.ToDer()));
  expected.insert(renewed.SerialHex());
  clock_.Advance(Seconds(1));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello, "world"}));
  for (const auto& r : results) expected.insert(r.certificate->SerialHex());
  clock_.Advance(Seconds(1));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate last, RenewOne(nodes[1], kHello));
  expected.insert(last.SerialHex());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  ASSERT_EQ(issued.size(), 6u);
  std::set<std::string> serials;
  for (const auto& i : issued) serials.insert(i.serial);
  EXPECT_EQ(serials, expected);
  EXPECT_EQ(issued[0].serial, last.SerialHex());  // newest first
  EXPECT_EQ(issued[0].kind, "site");
  EXPECT_EQ(issued[0].node, "node-2");
  EXPECT_EQ(issued[0].subject, last.Subject().ToString());
  EXPECT_EQ(issued[0].issued_at, clock_.Now());
  EXPECT_EQ(issued.back().kind, "node");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto two, service().ListIssued(2));
  EXPECT_EQ(two.size(), 2u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts, service().Counts());
  EXPECT_EQ(counts.issued, 6u);
}

TEST_F(SiteServiceTest, ConcurrentRenewalsAllSucceed) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  std::vector<std::vector<RenewalRequest>> batches;
  for (int i = 0; i < 8; ++i) batches.push_back({Request(kHello)});
  std::vector<std::future<Result<std::vector<RenewalResult>>>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(
        std::launch::async, [&, i] { return service().Renew(nodes[i % 2].record, batches[i]); }));
  }
  for (auto& c : calls) {
    Result<std::vector<RenewalResult>> r = c.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_TRUE((*r)[0].status.ok()) << (*r)[0].status.ToString();
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_EQ(issued.size(), 10u);
}

// === Policies ===================================================================================

TEST_F(SiteServiceTest, SetPolicyRefusesWhatIsNotASmallJsonObject) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  notifier_.Take();
  const InstallState before = TakeInstallState();
  for (const std::string bad :
       {"", "[1,2]", "\"text\"", "42", "null", "{", "{\"a\":1} {}", "{'a':1}", "{\"a\":1,}"}) {
    Result<ServiceView> r = service().SetPolicy(kHello, bad);
    EXPECT_TRUE(Refused(r, StatusCode::kInvalidArgument, {"policy"})) << "policy '" << bad << "'";
  }
  std::string large = "{\"pad\":\"" + std::string(options_.max_policy_bytes, 'x') + "\"}";
  EXPECT_TRUE(Refused(service().SetPolicy(kHello, large), StatusCode::kInvalidArgument,
                      {"bytes; at most 4096"}));
  EXPECT_TRUE(Refused(service().SetPolicy("nosuch", "{}"), StatusCode::kNotFound, {"nosuch"}));
  ExpectUnchanged(before);
  EXPECT_TRUE(notifier_.Take().empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, RenewOne(nodes[0], kHello));
  EXPECT_EQ(PolicyOf(cert), "{}");
}

// Issue 17, point 8: an env the nodes would refuse (a variable that loads code around the
// verified executable, a malformed name) is refused when it is set, naming the variable; the
// nodes check again (nlsm/launch_policy.cc).
TEST_F(SiteServiceTest, SetPolicyRefusesEnvironmentVariablesTheNodesRefuse) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  notifier_.Take();
  const InstallState before = TakeInstallState();
  for (const auto& [policy, fragment] : std::vector<std::pair<std::string, std::string>>{
           {R"({"env":{"LD_PRELOAD":"/tmp/x.so"}})", "LD_PRELOAD"},
           {R"({"env":{"NODE_OPTIONS":"--require /tmp/x.js"}})", "NODE_OPTIONS"},
           {R"({"env":{"PYTHONPATH":"/tmp"}})", "PYTHONPATH"},
           {R"({"env":{"JAVA_TOOL_OPTIONS":"-javaagent:/tmp/a.jar"}})", "JAVA_TOOL_OPTIONS"},
           {R"({"env":{"PERL5OPT":"-Mevil"}})", "PERL5OPT"},
           {R"({"env":{"RUBYOPT":"-revil"}})", "RUBYOPT"},
           {R"({"env":{"BASH_ENV":"/tmp/x.sh"}})", "BASH_ENV"},
           {R"({"env":{"SITECHAIN_KEY_FILE":"/tmp/k"}})", "SITECHAIN_KEY_FILE"},
           {R"({"env":{"lower":"x"}})", "[A-Z_][A-Z0-9_]*"},
           {R"({"env":["A=b"]})", "env"},
           {R"({"env":{"PORT":8080}})", "PORT"}}) {
    Result<ServiceView> r = service().SetPolicy(kHello, policy);
    EXPECT_TRUE(Refused(r, StatusCode::kInvalidArgument, {"env", fragment})) << policy;
  }
  ExpectUnchanged(before);
  EXPECT_TRUE(notifier_.Take().empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto view, service().SetPolicy(kHello, R"({"env":{"MODE":"prod","PYTHONUNBUFFERED":"1"}})"));
  EXPECT_EQ(view.service.policy_json, R"({"env":{"MODE":"prod","PYTHONUNBUFFERED":"1"}})");
}

TEST_F(SiteServiceTest, SetPolicyPushesRenewNowAndTheNextCertSiteCarriesIt) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2", "node-3"}, &nodes));
  notifier_.Take();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ServiceView view,
                                 service().SetPolicy(kHello,
                                                     "{ \"args\" : [ \"--port\", \"9090\" ],\n"
                                                     "  \"env\" : { \"MODE\" : \"prod\" } }"));
  const std::string compact = R"({"args":["--port","9090"],"env":{"MODE":"prod"}})";
  EXPECT_EQ(view.service.policy_json, compact);
  EXPECT_EQ(view.instances, 3u);

  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 3u);
  std::set<std::string> told;
  for (const auto& c : sent) {
    EXPECT_EQ(c.kind, Kind::kRenewNow);
    EXPECT_EQ(c.services, std::vector<std::string>{kHello});
    EXPECT_GE(c.window, options_.policy_push_window);
    EXPECT_GT(c.window, Seconds(0));  // spread, never all at once
    told.insert(c.node);
  }
  EXPECT_EQ(told, (std::set<std::string>{"node-1", "node-2", "node-3"}));

  for (const auto& node : nodes) {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, RenewOne(node, kHello));
    EXPECT_EQ(PolicyOf(cert), compact);
    const pki::Verification v = VerifyAsNode(node, cert, kHello);
    EXPECT_TRUE(v.ok()) << sitechain::testing::Describe(v);
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto services, service().ListServices());
  EXPECT_EQ(services[0].service.policy_json, compact);
}

TEST_F(SiteServiceTest, SetPolicySpreadsThePushToHonourTheRateLimit) {
  SiteOptions o;
  o.max_issuance_per_second = 0.1;  // 3 instances need 30 s
  o.policy_push_window = Seconds(10);
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2", "node-3"}, &nodes));
  notifier_.Take();
  ASSERT_TRUE(service().SetPolicy(kHello, R"({"a":1})").ok());
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 3u);
  for (const auto& c : sent) {
    EXPECT_GE(c.window, Seconds(30)) << c.node;
    EXPECT_GE(c.window, o.policy_push_window);
  }
}

TEST_F(SiteServiceTest, PolicyPushesQueueBehindEachOtherAtTheRateLeft) {
  SiteOptions o;
  o.max_issuance_per_second = 1;  // push rate: 0.9/s minus the regular renewals
  o.policy_push_window = Seconds(1);
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2", "node-3"}, &nodes));
  notifier_.Take();
  const TimePoint now = clock_.Now();
  ASSERT_TRUE(service().SetPolicy(kHello, R"({"a":1})").ok());
  ASSERT_TRUE(service().SetPolicy(kHello, R"({"a":2})").ok());
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 6u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sent[i].not_before, TimePoint{}) << "the first push goes out at once";
    EXPECT_GE(sent[i].window, Seconds(4));  // 3 / 0.9 s
  }
  for (size_t i = 3; i < 6; ++i) {
    // Behind the first push's 3 / 0.9 s, not on top of it.
    EXPECT_GE(sent[i].not_before, now + Seconds(3)) << sent[i].node;
    EXPECT_LE(sent[i].not_before, now + Seconds(4)) << sent[i].node;
    EXPECT_GE(sent[i].window, Seconds(4));
  }
}

TEST_F(SiteServiceTest, ReconcileRenewsNowWhatPredatesThePolicy) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  ASSERT_TRUE(RenewOne(nodes[0], kHello).ok());
  ASSERT_TRUE(RenewOne(nodes[1], kHello).ok());
  clock_.Advance(Seconds(10));
  // node-1 is away when the policy changes: its push is dropped by the hub.
  ASSERT_TRUE(service().SetPolicy(kHello, R"({"a":1})").ok());
  clock_.Advance(Seconds(10));
  ASSERT_TRUE(RenewOne(nodes[1], kHello).ok());  // node-2 got it and renewed
  notifier_.Take();
  ASSERT_TRUE(service().Reconcile("node-1", {kHello}).ok());
  ASSERT_TRUE(service().Reconcile("node-2", {kHello}).ok());
  std::vector<std::string> renew_now;
  for (const auto& c : notifier_.Take()) {
    if (c.kind != Kind::kRenewNow) continue;
    EXPECT_EQ(c.services, std::vector<std::string>{kHello});
    EXPECT_GE(c.window, options_.policy_push_window);
    renew_now.push_back(c.node);
  }
  EXPECT_EQ(renew_now, std::vector<std::string>{"node-1"});
}

// === Restart ====================================================================================

TEST_F(SiteServiceTest, ARestartKeepsEverything) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());
  ASSERT_TRUE(service().Deploy("world", {"node-2"}).ok());
  ASSERT_TRUE(service().SetPolicy(kHello, R"({"a":1})").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate before_cert, RenewOne(nodes[0], kHello));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken used,
                                 service().CreateJoinToken("node-3", Seconds(0)));
  ASSERT_TRUE(JoinWith(used.token, "node-3").ok());
  ASSERT_TRUE(service().EvictNode("node-3").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken unused,
                                 service().CreateJoinToken("node-4", Seconds(0)));
  service().ReportInstance("node-1", kHello, "running", "pid 7");
  SiteService::StoreRevocation rev;
  rev.sequence = 12;
  rev.name = "world";
  rev.version = "1.0.0";
  rev.reason = "bad";
  ASSERT_TRUE(service().ApplyRevocation(rev).ok());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes_before, service().ListNodes());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances_before, service().ListInstances("", ""));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued_before, service().ListIssued(0));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts_before, service().Counts());
  const InstallState state_before = TakeInstallState();
  const pki::Certificate root_before = service().site_root();

  clock_.Advance(Seconds(60));
  ASSERT_NO_FATAL_FAILURE(Restart());

  EXPECT_EQ(service().site_root(), root_before);
  EXPECT_EQ(TakeInstallState(), state_before);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes_after, service().ListNodes());
  ASSERT_EQ(nodes_after.size(), nodes_before.size());
  for (size_t i = 0; i < nodes_after.size(); ++i) {
    EXPECT_EQ(nodes_after[i].name, nodes_before[i].name);
    EXPECT_EQ(nodes_after[i].key_fingerprint, nodes_before[i].key_fingerprint);
    EXPECT_EQ(nodes_after[i].certificate_serial, nodes_before[i].certificate_serial);
    EXPECT_EQ(nodes_after[i].evicted_at, nodes_before[i].evicted_at);
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances_after, service().ListInstances("", ""));
  ASSERT_EQ(instances_after.size(), instances_before.size());
  for (size_t i = 0; i < instances_after.size(); ++i) {
    EXPECT_EQ(instances_after[i].service, instances_before[i].service);
    EXPECT_EQ(instances_after[i].node, instances_before[i].node);
    EXPECT_EQ(instances_after[i].certificate_serial, instances_before[i].certificate_serial);
    EXPECT_EQ(instances_after[i].node_state, instances_before[i].node_state);
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued_after, service().ListIssued(0));
  ASSERT_EQ(issued_after.size(), issued_before.size());
  for (size_t i = 0; i < issued_after.size(); ++i) {
    EXPECT_EQ(issued_after[i].serial, issued_before[i].serial);
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts_after, service().Counts());
  EXPECT_EQ(counts_after.services, counts_before.services);
  EXPECT_EQ(counts_after.nodes, counts_before.nodes);
  EXPECT_EQ(counts_after.instances, counts_before.instances);
  EXPECT_EQ(counts_after.issued, counts_before.issued);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(uint64_t seq, service().LastFeedSequence());
  EXPECT_EQ(seq, 12u);

  // And it all still works: nodes authenticate, tokens keep their state, policy and revocation
  // hold, packages are there.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord n1, service().AuthenticateNode(nodes[0].cert.ToPem()));
  EXPECT_TRUE(
      Refused(JoinWith(used.token, "node-3"), StatusCode::kUnauthenticated, {"already used"}));
  EXPECT_TRUE(JoinWith(unused.token, "node-4").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate after_cert, RenewOne(nodes[0], kHello));
  EXPECT_EQ(PolicyOf(after_cert), R"({"a":1})");
  EXPECT_TRUE(VerifyAsNode(nodes[0], after_cert, kHello).ok());
  EXPECT_NE(after_cert.SerialHex(), before_cert.SerialHex());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[1], {"world"}));
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kFailedPrecondition, {"revoked"}));
  (void)n1;
}

}  // namespace
}  // namespace sitechain::slsm::site_test
