// The renewer's pure decisions (renewer.h) on instances built by hand: which renewals are due
// together, and when a running instance must stop because its Cert_site expired. The renewal
// calls themselves, with a site manager, are exercised through NodeManager (node_manager_test).
#include "nlsm/renewer.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sitechain::nlsm {
namespace {

const TimePoint kT0 = TimePoint(Seconds(1767225600));

// A SiteClient the decisions under test never call.
class UnusedSite final : public SiteClient {
 public:
  Result<std::vector<RenewalOutcome>> Renew(const std::vector<RenewalEntry>&) override {
    return Internal("unused");
  }
  Status FetchPackage(const std::string&, const std::function<Status(const PackageHeader&)>&,
                      const std::function<Status(std::span<const uint8_t>)>&) override {
    return Internal("unused");
  }
  Result<pki::Certificate> RenewNode(std::span<const uint8_t>) override {
    return Internal("unused");
  }
  Result<std::unique_ptr<CommandStream>> Connect(const std::vector<InstanceReport>&) override {
    return Internal("unused");
  }
  void SetNodeCertificate(const pki::Certificate&) override {}
};

class RenewerTest : public ::testing::Test {
 protected:
  RenewerTest() : clock_(kT0), rng_(1), renewer_("/nonexistent", site_, clock_, rng_, Options()) {}

  static RenewerOptions Options() {
    RenewerOptions o;
    o.batch_interval = Seconds(5);
    return o;
  }

  void Add(const std::string& service, const char* state, std::optional<TimePoint> next) {
    auto i = std::make_unique<Instance>();
    i->service = service;
    i->state = state;
    i->next_attempt = next;
    i->key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    instances_[service] = std::move(i);
  }

  ManualClock clock_;
  SeededRandom rng_;
  UnusedSite site_;
  Renewer renewer_;
  Instances instances_;
};

TEST_F(RenewerTest, NothingIsDueBeforeTheFirstAttempt) {
  Add("a", instance_state::kRunning, kT0 + Seconds(1));
  Add("b", instance_state::kRunning, kT0 + Seconds(2));
  EXPECT_TRUE(renewer_.Due(instances_, kT0).empty());
}

TEST_F(RenewerTest, ThoseDueWithinTheBatchIntervalShareTheCall) {
  Add("a", instance_state::kRunning, kT0);
  Add("b", instance_state::kExpired, kT0 + Seconds(4));
  Add("c", instance_state::kRunning, kT0 + Seconds(6));
  EXPECT_EQ(renewer_.Due(instances_, kT0), (std::vector<std::string>{"a", "b"}));
}

TEST_F(RenewerTest, RefusedStoppedAndKeylessInstancesDoNotRenew) {
  Add("refused", instance_state::kRefused, kT0);
  Add("stopped", instance_state::kStopped, kT0);
  Add("keyless", instance_state::kRunning, kT0);
  instances_["keyless"]->key.reset();
  EXPECT_TRUE(renewer_.Due(instances_, kT0).empty());
  EXPECT_FALSE(renewer_.RenewSoon(*instances_["refused"], Seconds(10), kT0));
  EXPECT_FALSE(instances_["refused"]->stale);
}

TEST_F(RenewerTest, RenewNowMarksStaleWithinTheWindow) {
  Add("a", instance_state::kRunning, kT0 + Seconds(3600));
  ASSERT_TRUE(renewer_.RenewSoon(*instances_["a"], Seconds(10), kT0));
  EXPECT_TRUE(instances_["a"]->stale);
  EXPECT_GE(*instances_["a"]->next_attempt, kT0);
  EXPECT_LE(*instances_["a"]->next_attempt, kT0 + Seconds(10));
}

TEST_F(RenewerTest, WithoutACertSiteNothingExpires) {
  Add("a", instance_state::kRunning, std::nullopt);
  EXPECT_FALSE(Renewer::MustExpire(*instances_["a"], kT0));  // no Cert_site
}

}  // namespace
}  // namespace sitechain::nlsm
