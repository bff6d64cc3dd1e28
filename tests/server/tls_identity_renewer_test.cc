#include "server/tls_identity_renewer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/identity_file.h"
#include "tests/common/temp_dir.h"

namespace sitechain::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kStart = FromUnixSeconds(1'800'000'000);

// Issues identities numbered 1, 2, ... valid for `lifetime` from the clock's now; fails while
// `fail` is set. (What notBefore the certificate has, backdated or not, is no concern of the
// renewer: life counts from the issue.)
class FakeIssuer {
 public:
  FakeIssuer(const Clock& clock, Seconds lifetime) : clock_(clock), lifetime_(lifetime) {}

  IssueTlsIdentity Callback() {
    return [this]() -> Result<IssuedTlsIdentity> {
      ++calls;
      if (fail) return Unavailable("the CA is unreachable");
      const int n = ++issued;
      const TimePoint now = clock_.Now();
      return IssuedTlsIdentity{.pem = {.key_pem = Pem("PRIVATE KEY", "key" + std::to_string(n)),
                                       .chain_pem = Pem("CERTIFICATE", "cert" + std::to_string(n))},
                               .common_name = "localhost",
                               .serial = std::to_string(n),
                               .not_after = now + lifetime_};
    };
  }

  static std::string Pem(const std::string& label, const std::string& body) {
    return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
  }

  std::atomic<int> calls{0};
  std::atomic<int> issued{0};
  std::atomic<bool> fail{false};

 private:
  const Clock& clock_;
  const Seconds lifetime_;
};

class TlsIdentityRenewerTest : public ::testing::Test {
 protected:
  std::string File() const { return dir_.path() + "/tls/identity.pem"; }
  // The certificate body of the identity file ("cert<n>"); empty if it does not parse.
  std::string FileCertificate() const {
    auto identity = ReadIdentityFile(File());
    if (!identity.ok()) return "";
    const std::string& chain = identity->chain_pem;
    const size_t begin = chain.find('\n') + 1;
    return chain.substr(begin, chain.find('\n', begin) - begin);
  }

  std::unique_ptr<TlsIdentityRenewer> MustCreate(FakeIssuer& issuer) {
    auto renewer = TlsIdentityRenewer::Create(issuer.Callback(), clock_, {.identity_file = File()});
    EXPECT_TRUE(renewer.ok()) << renewer.status().ToString();
    return renewer.ok() ? std::move(*renewer) : nullptr;
  }

  testutil::TempDir dir_;
  ManualClock clock_{kStart};
};

TEST(TlsRenewalScheduleTest, RenewsTwoThirdsIntoTheLifetime) {
  EXPECT_EQ(TlsRenewalTime(kStart, kStart + seconds(90)), kStart + seconds(60));
  EXPECT_EQ(TlsRenewalTime(kStart, kStart + seconds(90 * 86400)), kStart + seconds(60 * 86400));
  EXPECT_EQ(TlsRenewalTime(kStart, kStart + seconds(6)), kStart + seconds(4));
  // A certificate that ends before it starts is due at once.
  EXPECT_EQ(TlsRenewalTime(kStart, kStart - seconds(1)), kStart);
}

TEST(TlsRenewalScheduleTest, RetriesATenthOfTheLifetimeLaterWithinOneSecondAndTheCap) {
  const TimePoint now = kStart + seconds(70);
  const milliseconds cap = seconds(30);
  EXPECT_EQ(TlsRetryTime(now, kStart, kStart + seconds(90), cap), now + seconds(9));
  EXPECT_EQ(TlsRetryTime(now, kStart, kStart + seconds(6), cap), now + seconds(1));
  EXPECT_EQ(TlsRetryTime(now, kStart, kStart + seconds(90 * 86400), cap), now + seconds(30));
}

TEST_F(TlsIdentityRenewerTest, CreateWritesTheFirstIdentityPrivately) {
  FakeIssuer issuer(clock_, seconds(90));
  auto renewer = MustCreate(issuer);
  ASSERT_NE(renewer, nullptr);
  EXPECT_EQ(renewer->identity_file(), File());
  EXPECT_EQ(FileCertificate(), "cert1");
  EXPECT_EQ(testutil::ModeOf(File()), 0600);
  EXPECT_EQ(testutil::ModeOf(dir_.path() + "/tls"), 0700);
  const auto state = renewer->state();
  EXPECT_EQ(state.serial, "1");
  EXPECT_EQ(state.not_after, kStart + seconds(90));
  EXPECT_EQ(state.next_attempt, kStart + seconds(60));
  EXPECT_EQ(state.renewals, 0u);
}

TEST_F(TlsIdentityRenewerTest, CreateFailsWithoutAnIdentity) {
  FakeIssuer issuer(clock_, seconds(90));
  issuer.fail = true;
  auto renewer = TlsIdentityRenewer::Create(issuer.Callback(), clock_, {.identity_file = File()});
  ASSERT_FALSE(renewer.ok());
  EXPECT_EQ(renewer.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(std::filesystem::exists(File()));
}

TEST_F(TlsIdentityRenewerTest, RenewsAtTheTwoThirdsPointAndNotBefore) {
  FakeIssuer issuer(clock_, seconds(90));
  auto renewer = MustCreate(issuer);
  ASSERT_NE(renewer, nullptr);

  clock_.Advance(seconds(59));
  EXPECT_EQ(renewer->RenewIfDue(), kStart + seconds(60));
  EXPECT_EQ(issuer.calls, 1);
  EXPECT_EQ(FileCertificate(), "cert1");

  clock_.Advance(seconds(1));
  EXPECT_EQ(renewer->RenewIfDue(), kStart + seconds(120));  // two thirds of the new one's life
  EXPECT_EQ(issuer.calls, 2);
  EXPECT_EQ(FileCertificate(), "cert2");
  auto state = renewer->state();
  EXPECT_EQ(state.serial, "2");
  EXPECT_EQ(state.not_after, kStart + seconds(150));
  EXPECT_EQ(state.renewals, 1u);

  // And again, at the new certificate's two-thirds point.
  clock_.Advance(seconds(59));
  renewer->RenewIfDue();
  EXPECT_EQ(FileCertificate(), "cert2");
  clock_.Advance(seconds(1));
  renewer->RenewIfDue();
  EXPECT_EQ(FileCertificate(), "cert3");
  EXPECT_EQ(renewer->state().renewals, 2u);
}

TEST_F(TlsIdentityRenewerTest, AFailedRenewalKeepsTheFileAndIsRetriedSoon) {
  FakeIssuer issuer(clock_, seconds(90));
  auto renewer = MustCreate(issuer);
  ASSERT_NE(renewer, nullptr);

  issuer.fail = true;
  clock_.Advance(seconds(60));
  EXPECT_EQ(renewer->RenewIfDue(), kStart + seconds(69));  // a tenth of 90 s later
  EXPECT_EQ(issuer.calls, 2);
  EXPECT_EQ(FileCertificate(), "cert1");
  auto state = renewer->state();
  EXPECT_EQ(state.serial, "1");
  EXPECT_EQ(state.failures, 1u);
  EXPECT_EQ(state.renewals, 0u);

  // Not before the retry time; then again (still failing), then with success.
  clock_.Advance(seconds(8));
  renewer->RenewIfDue();
  EXPECT_EQ(issuer.calls, 2);
  clock_.Advance(seconds(1));
  EXPECT_EQ(renewer->RenewIfDue(), kStart + seconds(78));
  EXPECT_EQ(issuer.calls, 3);
  EXPECT_EQ(renewer->state().failures, 2u);

  issuer.fail = false;
  clock_.Advance(seconds(9));
  renewer->RenewIfDue();
  EXPECT_EQ(FileCertificate(), "cert2");
  state = renewer->state();
  EXPECT_EQ(state.failures, 0u);
  EXPECT_EQ(state.renewals, 1u);
  EXPECT_EQ(state.next_attempt, kStart + seconds(78 + 60));
}

TEST_F(TlsIdentityRenewerTest, ACertificateShorterThanASecondDoesNotMakeItSpin) {
  FakeIssuer issuer(clock_, seconds(0));  // e.g. capped at a root that ends now
  auto renewer = MustCreate(issuer);
  ASSERT_NE(renewer, nullptr);
  EXPECT_EQ(renewer->state().next_attempt, kStart + seconds(1));
  EXPECT_EQ(renewer->RenewIfDue(), kStart + seconds(1));
  EXPECT_EQ(issuer.calls, 1);
}

TEST_F(TlsIdentityRenewerTest, TheThreadRenewsWhenTheClockReachesTheDueTime) {
  FakeIssuer issuer(clock_, seconds(90));
  auto renewer = MustCreate(issuer);
  ASSERT_NE(renewer, nullptr);
  renewer->Start();
  clock_.Advance(seconds(60));
  // The thread looks at the clock at least every second.
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (renewer->state().renewals == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(renewer->state().renewals, 1u);
  EXPECT_EQ(FileCertificate(), "cert2");
  renewer->Stop();
  renewer->Stop();  // idempotent
}

}  // namespace
}  // namespace sitechain::server
