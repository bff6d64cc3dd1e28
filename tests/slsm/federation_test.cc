#include "slsm/federation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/random.h"
#include "pki/builders.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm {
namespace {

using testing::kTestEpoch;
using testing::TempDir;

class FederationTest : public ::testing::Test {
 protected:
  // A site root for `name` written to a file; returns the path.
  std::string Root(const std::string& name, pki::CertRole kind = pki::CertRole::kSiteRoot) {
    const pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    auto root = kind == pki::CertRole::kSiteRoot
                    ? pki::BuildSiteRoot(key, name, pki::kDefaultRootLifetime, {clock_, rng_})
                    : pki::BuildStoreRoot(key, name, pki::kDefaultRootLifetime, {clock_, rng_});
    EXPECT_TRUE(root.ok()) << root.status().ToString();
    const std::string path = dir_.File(name + "-" + std::to_string(++files_) + ".pem");
    EXPECT_TRUE(root->Save(path).ok());
    return path;
  }

  void ExpectRefused(const std::vector<FederatedSite>& sites, const std::string& words) {
    auto roots = LoadFederation(sites, "site-a", clock_);
    EXPECT_EQ(roots.status().code(), StatusCode::kInvalidArgument) << roots.status().ToString();
    EXPECT_NE(roots.status().message().find(words), std::string::npos) << roots.status().ToString();
  }

  ManualClock clock_{kTestEpoch};
  SeededRandom rng_{3};
  TempDir dir_;
  int files_ = 0;
};

TEST_F(FederationTest, TakesTheRootsOfOtherSitesEachUnderItsOwnName) {
  auto roots =
      LoadFederation({{"site-b", Root("site-b")}, {"site-c", Root("site-c")}}, "site-a", clock_);
  ASSERT_TRUE(roots.ok()) << roots.status().ToString();
  ASSERT_EQ(roots->size(), 2u);
  EXPECT_EQ((*roots)[0].Subject().common_name, "site-b");
  EXPECT_EQ((*roots)[1].Subject().common_name, "site-c");
  EXPECT_TRUE(LoadFederation({}, "site-a", clock_)->empty());
}

// Each way a listed root could vouch for identities it must not.
TEST_F(FederationTest, RefusesARootThatCouldVouchForTheWrongSite) {
  ExpectRefused({{"site-b", Root("site-c")}}, "is the root of site \"site-c\"");
  ExpectRefused({{"site-a", Root("site-a")}}, "this site's own");
  ExpectRefused({{"site-b", Root("site-b")}, {"site-b", Root("site-b")}}, "listed twice");
  ExpectRefused({{"site-b", Root("site-b", pki::CertRole::kStoreRoot)}}, "not a site root");
  ExpectRefused({{"Site B", Root("site-b")}}, "trust domain");
  EXPECT_EQ(
      LoadFederation({{"site-b", dir_.File("missing.pem")}}, "site-a", clock_).status().code(),
      StatusCode::kNotFound);
}

}  // namespace
}  // namespace sitechain::slsm
