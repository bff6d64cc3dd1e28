// SiteService tests of per-node fairness (issue 17): a node's Renew calls take at most its own
// share of the issuance rate, never the site's whole limit; entries are de-duplicated; what a node
// may not have takes no token and costs no signature work. The fixture is in site_fixture.h.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "slsm/config.h"
#include "tests/slsm/site_fixture.h"

namespace sitechain::slsm::site_test {
namespace {

// A site that issues 1 certificate per second with a burst of 20; a node with one instance may
// take 5 at once and 4 per 50 s (Cert_site lifetime 100 s, renewal from half of it).
SiteOptions FairOptions() {
  SiteOptions o;
  o.max_issuance_per_second = 1;
  o.issuance_burst = 20;
  o.cert_site_lifetime = Seconds(100);
  o.node_issuance_factor = 4;
  o.node_issuance_min_burst = 5;
  return o;
}

// Counts the entries of `results` with `code`.
size_t CountCode(const std::vector<RenewalResult>& results, StatusCode code) {
  size_t n = 0;
  for (const auto& r : results) n += r.status.code() == code ? 1 : 0;
  return n;
}

TEST_F(SiteServiceTest, ANodeOverItsShareCannotDrainTheSiteForTheOthers) {
  ASSERT_NO_FATAL_FAILURE(Reconfigure(FairOptions()));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"hostile", "honest-1", "honest-2"}, &nodes));
  // The hostile node renews its one instance over and over, in calls of one (duplicates are
  // refused whole, see below): after its burst of 5 it is refused, the site's bucket untouched.
  size_t issued = 0, refused = 0;
  for (int i = 0; i < 40; ++i) {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello}));
    ASSERT_EQ(results.size(), 1u);
    if (results[0].status.ok()) {
      ++issued;
    } else {
      ++refused;
      EXPECT_TRUE(Refused(results[0].status, StatusCode::kResourceExhausted,
                          {"node 'hostile'", "its share", "retry after"}));
      EXPECT_GT(results[0].renew_after, clock_.Now());
    }
  }
  EXPECT_EQ(issued, 5u);
  EXPECT_EQ(refused, 35u);
  // The honest nodes renew: the site's bucket still holds 15.
  EXPECT_TRUE(RenewOne(nodes[1], kHello).ok());
  EXPECT_TRUE(RenewOne(nodes[2], kHello).ok());
  // The hostile node's share refills at its rate (4 per 50 s), not at the site's.
  clock_.Advance(Seconds(13));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello}));
  EXPECT_TRUE(results[0].status.ok()) << results[0].status.ToString();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(results, Renew(nodes[0], {kHello}));
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kResourceExhausted, {"its share"}));
}

TEST_F(SiteServiceTest, OverItsShareANodeCostsNoSignatureWork) {
  ASSERT_NO_FATAL_FAILURE(Reconfigure(FairOptions()));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"hostile"}, &nodes));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(RenewOne(nodes[0], kHello).ok());
  // A CSR that would fail its check: refused for the share, before the CSR is looked at.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto results, service().Renew(nodes[0].record, {RenewalRequest{kHello, {1, 2, 3}}}));
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kResourceExhausted, {"its share"}));
}

TEST_F(SiteServiceTest, ARenewalNamingAServiceTwiceIsRefusedWhole) {
  ASSERT_NO_FATAL_FAILURE(Reconfigure(FairOptions()));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto before, service().ListIssued(0));
  std::vector<RenewalRequest> twenty;
  for (int i = 0; i < 20; ++i) twenty.push_back(Request(kHello));
  EXPECT_TRUE(Refused(service().Renew(nodes[0].record, twenty), StatusCode::kInvalidArgument,
                      {"service 'hello' more than once", "name each instance once"}));
  EXPECT_TRUE(Refused(Renew(nodes[0], {"nosuch", kHello, "nosuch"}), StatusCode::kInvalidArgument,
                      {"'nosuch' more than once"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto after, service().ListIssued(0));
  EXPECT_EQ(after.size(), before.size());  // nothing issued
  // Nothing was taken from the node's share either: its whole burst is there.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(RenewOne(nodes[0], kHello).ok()) << i;
}

TEST_F(SiteServiceTest, EntriesANodeMayNotHaveTakeNoTokenAndNoSignatureWork) {
  ASSERT_NO_FATAL_FAILURE(Reconfigure(FairOptions()));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  // 900 services the node does not run, with CSRs that are not even DER, beside its own: each is
  // PERMISSION_DENIED (not a CSR error: the CSR is never parsed), and none takes a token.
  for (int round = 0; round < 5; ++round) {
    std::vector<RenewalRequest> requests;
    for (int i = 0; i < 900; ++i) {
      requests.push_back({"not-mine-" + std::to_string(i), {0xde, 0xad}});
    }
    requests.push_back(Request(kHello));
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, service().Renew(nodes[0].record, requests));
    ASSERT_EQ(results.size(), 901u);
    EXPECT_EQ(CountCode(results, StatusCode::kPermissionDenied), 900u);
    EXPECT_TRUE(results.back().status.ok()) << round << ": " << results.back().status.ToString();
  }
}

TEST_F(SiteServiceTest, ASiteRefusalGivesTheNodesTokenBack) {
  SiteOptions o = FairOptions();
  o.issuance_burst = 1;
  o.max_issuance_per_second = 1;
  o.cert_site_lifetime = Seconds(1000);
  o.node_issuance_factor = 1;
  o.node_issuance_min_burst = 2;  // the node: 2 at once, then one per 500 s
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  ASSERT_TRUE(RenewOne(nodes[0], kHello).ok());
  // The site's bucket is empty: each retry is refused by the site, never by the node's share
  // (the node got nothing for the token it took, and has it back).
  for (int i = 0; i < 10; ++i) {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello}));
    EXPECT_TRUE(
        Refused(results[0].status, StatusCode::kResourceExhausted, {"the site issues at most"}))
        << i;
  }
  clock_.Advance(Seconds(2));
  EXPECT_TRUE(RenewOne(nodes[0], kHello).ok());
}

TEST_F(SiteServiceTest, ANodeReconnectingOverAndOverCannotDelayTheOthersPushes) {
  SiteOptions o;
  o.max_issuance_per_second = 1;  // push rate 0.9/s: 3 instances need 4 s
  o.policy_push_window = Seconds(1);
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"hostile", "node-2", "node-3"}, &nodes));
  for (const auto& n : nodes) ASSERT_TRUE(RenewOne(n, kHello).ok());
  clock_.Advance(Seconds(10));
  ASSERT_TRUE(service().SetPolicy(kHello, R"({"a":1})").ok());
  // The hostile node never renews and says hello 200 times: each hello finds its instance
  // older than the policy and gets a catch-up renew-now, which must not move the schedule.
  notifier_.Take();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(service().Reconcile("hostile", {kHello}).ok());
  for (const auto& c : notifier_.Take()) {
    if (c.kind != Kind::kRenewNow) continue;
    EXPECT_LE(c.not_before, clock_.Now() + Seconds(4)) << "behind the admin's push only";
    EXPECT_GE(c.window, Seconds(4)) << "spread as the whole site's instances would be";
  }
  // The admin's next push goes out right behind the first one, not 200 catch-ups later.
  const TimePoint now = clock_.Now();
  ASSERT_TRUE(service().SetPolicy(kHello, R"({"a":2})").ok());
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 3u);
  for (const auto& c : sent) {
    EXPECT_EQ(c.kind, Kind::kRenewNow);
    EXPECT_LE(c.not_before, now + Seconds(4)) << c.node;
  }
  // And another node's catch-up is not delayed by the hostile one's either.
  ASSERT_TRUE(service().Reconcile("node-2", {kHello}).ok());
  for (const auto& c : notifier_.Take()) {
    if (c.kind == Kind::kRenewNow) {
      EXPECT_LE(c.not_before, now + Seconds(8)) << c.node;
    }
  }
}

TEST(PerNodeOptionsTest, AreReadFromTheConfigAndValidated) {
  Result<SlsmConfig> c =
      ParseConfig({"slsm.json", R"({"store": "localhost:1", "node_issuance_factor": 2,
                        "node_issuance_min_burst": 3, "max_node_commands": 64})"},
                  std::nullopt);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->site_options.node_issuance_factor, 2);
  EXPECT_EQ(c->site_options.node_issuance_min_burst, 3);
  EXPECT_EQ(c->site_options.max_node_commands, 64u);
  // The defaults.
  const SiteOptions defaults;
  EXPECT_EQ(defaults.node_issuance_factor, 4);
  EXPECT_EQ(defaults.node_issuance_min_burst, 10);
  EXPECT_EQ(defaults.max_node_commands, 1024u);
  for (const char* bad : {R"({"store": "localhost:1", "node_issuance_factor": 0.5})",
                          R"({"store": "localhost:1", "node_issuance_min_burst": 0})",
                          R"({"store": "localhost:1", "max_node_commands": 8})"}) {
    EXPECT_TRUE(Refused(ParseConfig({"slsm.json", bad}, std::nullopt).status(),
                        StatusCode::kInvalidArgument))
        << bad;
  }
}

}  // namespace
}  // namespace sitechain::slsm::site_test
