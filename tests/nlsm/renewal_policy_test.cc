#include "nlsm/renewal_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace sitechain::nlsm {
namespace {

using std::chrono::milliseconds;

const TimePoint kIssued = TimePoint(Seconds(1767225600));
const CertificateTimes kCert{kIssued, kIssued + Seconds(5000), std::nullopt};

RenewalPolicy Policy(RenewalPolicyKind kind) {
  RenewalPolicyConfig c;
  c.kind = kind;
  return RenewalPolicy(c);
}

TEST(RenewalPolicyNames, RoundTrip) {
  for (auto kind : {RenewalPolicyKind::kAtExpiry, RenewalPolicyKind::kPaperBackoff,
                    RenewalPolicyKind::kWindow}) {
    Result<RenewalPolicyKind> parsed = ParseRenewalPolicy(RenewalPolicyName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_FALSE(ParseRenewalPolicy("sometimes").ok());
  for (auto rule : {ReconnectRule::kAll, ReconnectRule::kExpired, ReconnectRule::kDue}) {
    Result<ReconnectRule> parsed = ParseReconnectRule(ReconnectRuleName(rule));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, rule);
  }
  EXPECT_FALSE(ParseReconnectRule("never").ok());
}

TEST(RenewalPolicyConfig, DefaultsAreValidAndBadValuesAreRefused) {
  EXPECT_TRUE(RenewalPolicyConfig{}.Validate().ok());
  RenewalPolicyConfig c;
  c.backoff_fraction = 0;
  EXPECT_EQ(c.Validate().code(), StatusCode::kInvalidArgument);
  c = {};
  c.window_start = 0.8;
  c.window_end = 0.7;
  EXPECT_FALSE(c.Validate().ok());
  c = {};
  c.window_end = 1.0;
  EXPECT_FALSE(c.Validate().ok());
  c = {};
  c.retry_max = Seconds(1);
  EXPECT_FALSE(c.Validate().ok());
  c = {};
  c.backoff = Seconds(-1);
  EXPECT_FALSE(c.Validate().ok());
}

TEST(AtExpiry, RenewsExactlyAtNotAfter) {
  SeededRandom rng(1);
  const RenewalPolicy p = Policy(RenewalPolicyKind::kAtExpiry);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p.FirstAttempt(kCert, rng), kCert.not_after);
}

TEST(PaperBackoff, UniformBetweenBAndOneSecondBeforeExpiry) {
  SeededRandom rng(2);
  const RenewalPolicy p = Policy(RenewalPolicyKind::kPaperBackoff);
  EXPECT_EQ(p.BackoffFor(kCert), milliseconds(1250000));
  TimePoint lo = TimePoint::max(), hi = TimePoint::min();
  double sum = 0;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    const TimePoint t = p.FirstAttempt(kCert, rng);
    ASSERT_GE(t, kCert.not_after - Seconds(1250));
    ASSERT_LE(t, kCert.not_after - Seconds(1));
    lo = std::min(lo, t);
    hi = std::max(hi, t);
    sum += std::chrono::duration<double>(kCert.not_after - t).count();
  }
  // The whole interval is used, evenly (mean 625.5 s before expiry; sd of the mean ~2.5 s).
  EXPECT_LT(lo, kCert.not_after - Seconds(1240));
  EXPECT_GT(hi, kCert.not_after - Seconds(11));
  EXPECT_NEAR(sum / kDraws, 625.5, 15);
}

TEST(PaperBackoff, BackoffInSecondsOverridesTheFractionAndIsClamped) {
  RenewalPolicyConfig c;
  c.kind = RenewalPolicyKind::kPaperBackoff;
  c.backoff = Seconds(100);
  EXPECT_EQ(RenewalPolicy(c).BackoffFor(kCert), milliseconds(100000));
  c.backoff = Seconds(9000);  // more than the lifetime
  EXPECT_EQ(RenewalPolicy(c).BackoffFor(kCert), milliseconds(5000000));
  SeededRandom rng(3);
  const TimePoint t = RenewalPolicy(c).FirstAttempt(kCert, rng);
  EXPECT_GE(t, kCert.not_before);
  EXPECT_LE(t, kCert.not_after - Seconds(1));
}

TEST(Window, DefaultWindowIsHalfToThreeQuartersOfTheLifetime) {
  SeededRandom rng(4);
  const RenewalPolicy p = Policy(RenewalPolicyKind::kWindow);
  for (int i = 0; i < 5000; ++i) {
    const TimePoint t = p.FirstAttempt(kCert, rng);
    ASSERT_GE(t, kIssued + Seconds(2500));
    ASSERT_LE(t, kIssued + Seconds(3750));
  }
}

TEST(Window, HonoursASaneSuggestedWindowAndIgnoresABadOne) {
  SeededRandom rng(5);
  const RenewalPolicy p = Policy(RenewalPolicyKind::kWindow);
  CertificateTimes cert = kCert;
  cert.suggested = RenewalWindow{kIssued + Seconds(1000), kIssued + Seconds(1010)};
  for (int i = 0; i < 1000; ++i) {
    const TimePoint t = p.FirstAttempt(cert, rng);
    ASSERT_GE(t, kIssued + Seconds(1000));
    ASSERT_LE(t, kIssued + Seconds(1010));
  }
  // Past notAfter, or reversed: the node's own window applies.
  for (RenewalWindow bad : {RenewalWindow{kIssued + Seconds(4000), kIssued + Seconds(6000)},
                            RenewalWindow{kIssued + Seconds(3000), kIssued + Seconds(2000)},
                            RenewalWindow{kIssued - Seconds(10), kIssued + Seconds(10)}}) {
    cert.suggested = bad;
    const TimePoint t = p.FirstAttempt(cert, rng);
    EXPECT_GE(t, kIssued + Seconds(2500));
    EXPECT_LE(t, kIssued + Seconds(3750));
  }
  // A node configured not to listen.
  RenewalPolicyConfig c;
  c.honour_suggested_window = false;
  cert.suggested = RenewalWindow{kIssued + Seconds(1000), kIssued + Seconds(1010)};
  EXPECT_GE(RenewalPolicy(c).FirstAttempt(cert, rng), kIssued + Seconds(2500));
}

TEST(Retry, CappedExponentialBackoffWithJitterUntilExpiry) {
  SeededRandom rng(6);
  const RenewalPolicy p = Policy(RenewalPolicyKind::kWindow);  // 10 s doubling, cap 300 s
  const TimePoint now = kIssued + Seconds(3000);
  const int64_t expected_cap[] = {10, 20, 40, 80, 160, 300, 300, 300};
  for (int failures = 1; failures <= 8; ++failures) {
    const Seconds d(expected_cap[failures - 1]);
    for (int i = 0; i < 200; ++i) {
      std::optional<TimePoint> next = p.NextRetry(kCert, now, failures, rng);
      ASSERT_TRUE(next.has_value());
      ASSERT_GE(*next, now + d / 2) << failures;
      ASSERT_LE(*next, now + d) << failures;
    }
  }
  // Close to expiry: a last try at notAfter, never after it; nothing once expired.
  const TimePoint late = kCert.not_after - Seconds(5);
  EXPECT_EQ(p.NextRetry(kCert, late, 8, rng), kCert.not_after);
  EXPECT_FALSE(p.NextRetry(kCert, kCert.not_after, 1, rng).has_value());
  EXPECT_FALSE(p.NextRetry(kCert, kCert.not_after + Seconds(1), 1, rng).has_value());
  // Huge failure counts do not overflow.
  std::optional<TimePoint> next = p.NextRetry(kCert, now, 1000000, rng);
  ASSERT_TRUE(next.has_value());
  EXPECT_LE(*next, now + Seconds(300));
}

TEST(Jitter, UniformWithinTheWindowAndZeroMeansNow) {
  SeededRandom rng(7);
  EXPECT_EQ(JitteredWithin(kIssued, Seconds(0), rng), kIssued);
  for (int i = 0; i < 1000; ++i) {
    const TimePoint t = JitteredWithin(kIssued, Seconds(60), rng);
    ASSERT_GE(t, kIssued);
    ASSERT_LE(t, kIssued + Seconds(60));
  }
  EXPECT_EQ(UniformBetween(kIssued, kIssued - Seconds(1), rng), kIssued);
}

// A window wider than a signed duration holds (an absurd suggestion from the slsm, saturated
// Unix seconds): the span overflowed (undefined behaviour; found by tests/fuzz/renew_response).
TEST(Jitter, UniformBetweenTheWholeRangeStaysInside) {
  SeededRandom rng(7);
  for (int i = 0; i < 1000; ++i) {
    const TimePoint t = UniformBetween(TimePoint::min(), TimePoint::max(), rng);
    ASSERT_GE(t, TimePoint::min());
    ASSERT_LE(t, TimePoint::max());
  }
  EXPECT_EQ(UniformBetween(TimePoint::max(), TimePoint::max(), rng), TimePoint::max());
  const TimePoint near_end = TimePoint::max() - Seconds(1);
  for (int i = 0; i < 100; ++i)
    ASSERT_GE(UniformBetween(near_end, TimePoint::max(), rng), near_end);
}

std::vector<ReconnectCandidate> Candidates(TimePoint now) {
  return {
      {0, now + Seconds(4000), now + Seconds(1000), false},  // valid, not due
      {1, now - Seconds(10), now - Seconds(700), false},     // expired while offline
      {2, now + Seconds(500), now - Seconds(5), false},      // due (planned attempt passed)
      {3, now + Seconds(4500), now + Seconds(2000), true},   // stale policy
      {4, now + Seconds(20), now - Seconds(1), false},       // due, expires soon
  };
}

std::vector<size_t> Ids(const std::vector<PlannedRenewal>& plan) {
  std::vector<size_t> ids;
  for (const auto& p : plan) ids.push_back(p.id);
  return ids;
}

TEST(PlanReconnect, AllRenewsEverythingAtOnce) {
  SeededRandom rng(8);
  const TimePoint now = kIssued;
  auto plan = PlanReconnect(Candidates(now), now, ReconnectRule::kAll, Seconds(2), rng);
  EXPECT_EQ(plan.size(), 5u);
  for (const auto& p : plan) EXPECT_EQ(p.at, now);
}

TEST(PlanReconnect, ExpiredRenewsExpiredAndStaleAtOnce) {
  SeededRandom rng(9);
  const TimePoint now = kIssued;
  auto plan = PlanReconnect(Candidates(now), now, ReconnectRule::kExpired, Seconds(2), rng);
  std::vector<size_t> ids = Ids(plan);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<size_t>{1, 3}));
  for (const auto& p : plan) EXPECT_EQ(p.at, now);
}

TEST(PlanReconnect, DueSpreadsMostUrgentFirstOneSlotEach) {
  SeededRandom rng(10);
  const TimePoint now = kIssued;
  const milliseconds spacing(2000);
  auto plan = PlanReconnect(Candidates(now), now, ReconnectRule::kDue, spacing, rng);
  // Order by notAfter: 1 (expired), 4 (+20 s), 2 (+500 s), 3 (stale, +4500 s); 0 is not due.
  EXPECT_EQ(Ids(plan), (std::vector<size_t>{1, 4, 2, 3}));
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_GE(plan[i].at, now + spacing * static_cast<int64_t>(i));
    EXPECT_LT(plan[i].at, now + spacing * static_cast<int64_t>(i + 1));
  }
}

TEST(PlanReconnect, DueNeverLetsAValidCertificateExpireWhileWaiting) {
  SeededRandom rng(11);
  const TimePoint now = kIssued;
  std::vector<ReconnectCandidate> many;
  for (size_t i = 0; i < 30; ++i) many.push_back({i, now + Seconds(5), now - Seconds(1), false});
  auto plan = PlanReconnect(many, now, ReconnectRule::kDue, Seconds(1), rng);
  ASSERT_EQ(plan.size(), 30u);
  for (const auto& p : plan) EXPECT_LE(p.at, now + Seconds(5));
  EXPECT_TRUE(std::is_sorted(plan.begin(), plan.end(),
                             [](const auto& a, const auto& b) { return a.at < b.at; }));
}

TEST(PlanReconnect, DeterministicForASeed) {
  SeededRandom a(12), b(12);
  const TimePoint now = kIssued;
  auto pa = PlanReconnect(Candidates(now), now, ReconnectRule::kDue, Seconds(3), a);
  auto pb = PlanReconnect(Candidates(now), now, ReconnectRule::kDue, Seconds(3), b);
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].id, pb[i].id);
    EXPECT_EQ(pa[i].at, pb[i].at);
  }
}

}  // namespace
}  // namespace sitechain::nlsm
