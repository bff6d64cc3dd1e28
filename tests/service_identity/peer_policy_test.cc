#include "service_identity/peer_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sitechain::service_identity {
namespace {

TEST(PeerPolicyTest, ExactIdsAndOneSegmentWildcards) {
  auto p = PeerPolicy::FromPatterns(
      {"spiffe://site-a/node/n1/svc/collector", "spiffe://site-a/node/*/svc/sensor"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->Allows("spiffe://site-a/node/n1/svc/collector"));
  EXPECT_TRUE(p->Allows("spiffe://site-a/node/n7/svc/sensor"));
  // "*" is one whole segment, never more, never none, and never another site.
  EXPECT_FALSE(p->Allows("spiffe://site-a/node/n2/svc/collector"));
  EXPECT_FALSE(p->Allows("spiffe://site-a/node/n1/x/svc/sensor"));
  EXPECT_FALSE(p->Allows("spiffe://site-a/node//svc/sensor"));
  EXPECT_FALSE(p->Allows("spiffe://site-b/node/n7/svc/sensor"));
  EXPECT_FALSE(p->Allows("spiffe://site-a/node/n7/svc/sensor/extra"));
  EXPECT_FALSE(p->Allows("spiffe://site-a/node/n7/svc/sensorx"));
  EXPECT_FALSE(p->Allows("https://site-a/node/n7/svc/sensor"));
  // Nothing configured: nobody.
  EXPECT_FALSE(PeerPolicy().Allows("spiffe://site-a/node/n1/svc/collector"));
}

TEST(PeerPolicyTest, RefusesPatternsThatCouldMatchTooMuch) {
  for (const char* bad :
       {"spiffe://*/node/n1/svc/a", "spiffe://site-a", "spiffe://site-a/",
        "spiffe://site-a/node/n*/svc/a", "spiffe://site-a//svc/a", "site-a/node/n1/svc/a", ""}) {
    auto p = PeerPolicy::FromPatterns({bad});
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PeerPolicyTest, ReadsThePeersOfASitePolicy) {
  auto p = PeerPolicy::FromSitePolicy(
      R"({"args":["--x"],"peers":["spiffe://site-a/node/*/svc/collector"]})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->Allows("spiffe://site-a/node/n1/svc/collector"));
  EXPECT_TRUE(PeerPolicy::FromSitePolicy("{}")->patterns().empty());
  EXPECT_TRUE(PeerPolicy::FromSitePolicy("")->patterns().empty());
  for (const char* bad : {R"({"peers":"spiffe://site-a/node/*/svc/a"})", R"({"peers":[1]})",
                          R"({"peers":["spiffe://*/x"]})", "[1]", "{"}) {
    EXPECT_EQ(PeerPolicy::FromSitePolicy(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace sitechain::service_identity
