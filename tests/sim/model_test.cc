#include "sim/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sim/policies.h"
#include "sim/sweep.h"

namespace sitechain::sim {
namespace {

// Small Ed25519 messages keep the suite fast; the model does not care about the key type.
const MessageSizes& Sizes() {
  static const MessageSizes* sizes = [] {
    MessageSizeOptions o;
    o.site_key = pki::KeyType::kEd25519;
    o.instance_key = pki::KeyType::kEd25519;
    Result<MessageSizes> r = MessageSizes::Measure(o);
    if (!r.ok()) std::abort();
    return new MessageSizes(std::move(r).value());
  }();
  return *sizes;
}

ModelConfig Preset(std::string_view name, uint32_t services = 90) {
  ModelConfig c;
  c.services = services;
  c.duration = Seconds(30000);
  Result<const PolicyPreset*> p = FindPolicyPreset(name);
  EXPECT_TRUE(p.ok()) << name;
  if (p.ok()) (*p)->apply(c);
  EXPECT_TRUE(c.Validate().ok());
  return c;
}

std::vector<size_t> SecondsWithRenewals(const RunResult& r) {
  std::vector<size_t> out;
  for (size_t s = 0; s < r.renewals.size(); ++s) {
    if (r.renewals[s] > 0) out.push_back(s);
  }
  return out;
}

TEST(ModelConfig, ValidatesItsFields) {
  EXPECT_TRUE(ModelConfig{}.Validate().ok());
  ModelConfig c;
  c.services = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = {};
  c.offline_max = Seconds(0);
  EXPECT_FALSE(c.Validate().ok());
  c = {};
  c.slsm_windows = true;
  c.policy.kind = nlsm::RenewalPolicyKind::kAtExpiry;
  EXPECT_FALSE(c.Validate().ok());
  c = {};
  c.churn_rate = -1;
  EXPECT_FALSE(c.Validate().ok());
  EXPECT_EQ(ModelConfig{}.nodes(), 15u);  // the paper's site
}

TEST(Model, SameSeedSameRunDifferentSeedDifferentRun) {
  const ModelConfig c = Preset("paper-backoff");
  const RunResult a = RunModel(c, Sizes(), 42);
  const RunResult b = RunModel(c, Sizes(), 42);
  const RunResult other = RunModel(c, Sizes(), 43);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.renewals, b.renewals);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.expired_online_ms, b.expired_online_ms);
  EXPECT_NE(a.bytes, other.bytes);
}

TEST(Model, AtExpiryWithoutChurnRenewsEverythingTogetherEveryLifetime) {
  ModelConfig c = Preset("at-expiry", 60);
  c.churn_rate = 0;
  c.start_spread = Seconds(0);
  const RunResult r = RunModel(c, Sizes(), 1);
  // Start at 0, then every 5000 s: 0, 5000, ..., 25000.
  EXPECT_EQ(SecondsWithRenewals(r), (std::vector<size_t>{0, 5000, 10000, 15000, 20000, 25000}));
  for (size_t s : SecondsWithRenewals(r)) EXPECT_EQ(r.renewals[s], 60u);
  EXPECT_EQ(r.expired_online_ms, 0u);
  EXPECT_EQ(r.drops, 0u);
}

TEST(Model, PaperBackoffRenewsBetweenBAndOneSecondBeforeExpiry) {
  ModelConfig c = Preset("paper-backoff", 1);
  c.churn_rate = 0;
  c.start_spread = Seconds(0);
  c.duration = Seconds(200000);
  const RunResult r = RunModel(c, Sizes(), 7);
  const std::vector<size_t> at = SecondsWithRenewals(r);
  ASSERT_GT(at.size(), 40u);
  for (size_t i = 1; i < at.size(); ++i) {
    const size_t gap = at[i] - at[i - 1];
    // Renewal at notAfter - [1 s, 1250 s] of a certificate issued at the previous renewal;
    // whole seconds of ms times, hence the one-second slack.
    EXPECT_GE(gap, 5000u - 1250u - 1u);
    EXPECT_LE(gap, 5000u - 1u + 1u);
  }
}

TEST(Model, WindowRenewsBetweenHalfAndThreeQuartersOfTheLifetime) {
  ModelConfig c = Preset("window", 1);
  c.churn_rate = 0;
  c.start_spread = Seconds(0);
  const RunResult r = RunModel(c, Sizes(), 8);
  const std::vector<size_t> at = SecondsWithRenewals(r);
  for (size_t i = 1; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - 1], 2500u - 1u);
    EXPECT_LE(at[i] - at[i - 1], 3750u + 1u);
  }
}

TEST(Model, BytesAreTheRealMessageSizes) {
  ModelConfig c = Preset("paper-backoff");
  c.payload_min = c.payload_max = 100;
  const RunResult r = RunModel(c, Sizes(), 3);
  EXPECT_EQ(r.bytes_total, r.certificates * Sizes().SingleCall(100));
  EXPECT_EQ(r.calls, r.certificates);
  uint64_t sum = 0;
  for (uint64_t b : r.bytes) sum += b;
  EXPECT_EQ(sum, r.bytes_total);
}

TEST(Model, BatchingPutsSeveralCertificatesInOneCall) {
  ModelConfig c = Preset("window-batch");
  const RunResult r = RunModel(c, Sizes(), 3);
  EXPECT_LT(r.calls * 2, r.certificates);
  EXPECT_EQ(r.expired_online_ms, 0u);
}

TEST(Model, ChurnMatchesItsExpectation) {
  // 3000 single-service nodes, 1e-4 drop-outs per online node-second, offline U[1, 2500] s:
  // online fraction 1 / (1 + rate * mean offline) = 1 / 1.12505, so the expected drops are
  // nodes * rate * duration * 0.8889 = 26667 (sd ~ 163 for a Poisson count).
  ModelConfig c = Preset("window", 3000);
  c.services_per_node = 1;
  c.churn_rate = 1e-4;
  c.duration = Seconds(100000);
  const RunResult r = RunModel(c, Sizes(), 11);
  const double expected = 3000 * 1e-4 * 100000 / (1 + 1e-4 * 1250.5);
  EXPECT_NEAR(static_cast<double>(r.drops), expected, 0.03 * expected);
}

TEST(Model, NoChurnNoDrops) {
  ModelConfig c = Preset("window");
  c.churn_rate = 0;
  EXPECT_EQ(RunModel(c, Sizes(), 1).drops, 0u);
}

TEST(Model, GoodPoliciesNeverLeaveAnExpiredCertificateOnAnOnlineNode) {
  for (std::string_view name : {"window", "window-jitter", "window-slsm", "window-slsm-start"}) {
    ModelConfig c = Preset(name, 300);
    c.churn_rate = 1e-4;  // lots of churn
    const RunResult r = RunModel(c, Sizes(), 5);
    EXPECT_GT(r.drops, 0u) << name;
    EXPECT_EQ(r.expired_online_ms, 0u) << name;
  }
}

TEST(Model, ExpiredTimeIsMeasuredWhenRenewalsFail) {
  // At expiry with a slsm that refuses half the calls: certificates expire on online nodes.
  ModelConfig c = Preset("at-expiry");
  c.churn_rate = 0;
  c.renew_failure_prob = 0.5;
  const RunResult r = RunModel(c, Sizes(), 5);
  EXPECT_GT(r.failed_calls, 0u);
  EXPECT_GT(r.expired_online_ms, 0u);
  // The window policy retries before expiry and survives the same slsm.
  ModelConfig w = Preset("window");
  w.churn_rate = 0;
  w.renew_failure_prob = 0.5;
  const RunResult rw = RunModel(w, Sizes(), 5);
  EXPECT_GT(rw.failed_calls, 0u);
  EXPECT_EQ(rw.expired_online_ms, 0u);
}

TEST(Model, PolicyChangeReachesEveryOnlineNodeWithinTheRenewNowWindow) {
  ModelConfig c = Preset("window-jitter");
  c.churn_rate = 0;
  c.policy_change_at = Seconds(10000);
  const RunResult r = RunModel(c, Sizes(), 9);
  ASSERT_GE(r.policy_reach_ms, 0);
  EXPECT_LE(r.policy_reach_ms, 300000);
  // Every service renewed once more within the window.
  uint64_t in_window = 0;
  for (size_t s = 10000; s <= 10300; ++s) in_window += r.renewals[s];
  EXPECT_GE(in_window, 90u);
  // The paper's immediate renewal: everything in the same second.
  ModelConfig p = Preset("paper-backoff");
  p.churn_rate = 0;
  p.policy_change_at = Seconds(10000);
  const RunResult rp = RunModel(p, Sizes(), 9);
  EXPECT_EQ(rp.policy_reach_ms, 0);
  EXPECT_GE(rp.renewals[10000], 90u);
  EXPECT_EQ(RunModel(Preset("window"), Sizes(), 9).policy_reach_ms, -1);
}

TEST(Model, ReconnectAllRenewsTheWholeNodeAtOnce) {
  // One node, certain to drop out quickly: its reconnect renews all 30 in one second.
  ModelConfig c = Preset("paper-backoff", 30);
  c.churn_rate = 1e-3;
  c.offline_min = c.offline_max = Seconds(100);
  const RunResult r = RunModel(c, Sizes(), 4);
  ASSERT_GT(r.drops, 3u);
  size_t full = 0;
  for (size_t s = 10; s < r.renewals.size(); ++s) full += r.renewals[s] == 30 ? 1 : 0;
  EXPECT_GE(full, r.drops - 1);  // the last drop may not have reconnected before the end
}

TEST(Model, SlsmWindowsFlattenThePeak) {
  ModelConfig plain = Preset("window-jitter", 600);
  ModelConfig slsm = Preset("window-slsm", 600);
  plain.churn_rate = slsm.churn_rate = 0;
  const RunResult a = RunModel(plain, Sizes(), 2);
  const RunResult b = RunModel(slsm, Sizes(), 2);
  uint32_t peak_a = 0, peak_b = 0;
  for (size_t s = 100; s < a.renewals.size(); ++s) {  // after the start-up burst
    peak_a = std::max(peak_a, a.renewals[s]);
    peak_b = std::max(peak_b, b.renewals[s]);
  }
  EXPECT_LT(peak_b, peak_a);
  EXPECT_LE(peak_b, 2u);
}

TEST(Sweep, ResultsDoNotDependOnTheNumberOfThreads) {
  SweepSpec spec;
  spec.policies = {{"at-expiry", Preset("at-expiry")}, {"paper-backoff", Preset("paper-backoff")}};
  spec.services = {30, 90};
  spec.runs = 3;
  spec.seed = 5;
  spec.threads = 1;
  const std::vector<CellResult> one = RunSweep(spec, Sizes());
  spec.threads = 2;
  size_t calls = 0;
  const std::vector<CellResult> two =
      RunSweep(spec, Sizes(), [&](const CellResult&, size_t done, size_t total) {
        ++calls;
        EXPECT_LE(done, total);
      });
  EXPECT_EQ(calls, 4u);
  ASSERT_EQ(one.size(), 4u);
  ASSERT_EQ(two.size(), 4u);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].policy, two[i].policy);
    EXPECT_EQ(one[i].services, two[i].services);
    EXPECT_EQ(one[i].bytes.count, two[i].bytes.count);
    EXPECT_DOUBLE_EQ(one[i].bytes.median, two[i].bytes.median);
    EXPECT_DOUBLE_EQ(one[i].bytes.max, two[i].bytes.max);
    EXPECT_DOUBLE_EQ(one[i].bytes.mean, two[i].bytes.mean);
    EXPECT_EQ(one[i].bytes_total, two[i].bytes_total);
    EXPECT_EQ(one[i].events, two[i].events);
  }
  EXPECT_EQ(one[0].policy, "at-expiry");
  EXPECT_EQ(one[0].services, 30u);
  EXPECT_EQ(one[3].services, 90u);
}

TEST(Sweep, PoliciesOfACellSeeTheSameChurn) {
  SweepSpec spec;
  spec.policies = {{"at-expiry", Preset("at-expiry")}, {"window", Preset("window")}};
  spec.services = {300};
  spec.runs = 4;
  const std::vector<CellResult> cells = RunSweep(spec, Sizes());
  EXPECT_EQ(cells[0].drops, cells[1].drops);
}

}  // namespace
}  // namespace sitechain::sim
