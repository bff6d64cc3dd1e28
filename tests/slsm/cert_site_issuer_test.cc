// Tests of CertSiteIssuer (slsm/cert_site_issuer.h) on its own: issuances for different nodes
// run in parallel, because no lock is held across a signature. The site (hello installed,
// node-1 and node-2 enrolled, hello deployed to both) is set up through SiteService
// (site_fixture.h); a second issuer, over a second connection to the same database and the same
// CA, draws its randomness from a GateRandom that holds the first signature until it is opened.
// Deterministic: the test waits on conditions (with a deadline that only a failure reaches),
// never sleeps.

#include "slsm/cert_site_issuer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tests/slsm/site_fixture.h"

namespace sitechain::slsm::site_test {
namespace {

constexpr std::chrono::seconds kDeadline(60);  // reached only when the test fails

// A Random whose next Fill after Arm() stops at the gate until Open().
class GateRandom final : public Random {
 public:
  explicit GateRandom(Random& inner) : inner_(inner) {}
  void Arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  // Whether a Fill reached the gate before the deadline.
  bool WaitHeld() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return held_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Fill(uint8_t* out, size_t n) override {
    {
      std::unique_lock lock(mu_);
      if (armed_) {
        armed_ = false;
        held_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return open_; });
      }
    }
    inner_.Fill(out, n);
  }

 private:
  Random& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;  // guarded by mu_
  bool held_ = false;   // guarded by mu_
  bool open_ = false;   // guarded by mu_
};

class CertSiteIssuerTest : public SiteServiceTest {};

TEST_F(CertSiteIssuerTest, IssuancesForDifferentNodesRunInParallel) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteDatabase db, SiteDatabase::Open(DbPath()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca, slca::SiteCa::Open(CaDir(), std::nullopt));
  GateRandom gate(rng_);
  CertSiteIssuer issuer(ca, db, clock_, gate, options_);
  const RenewalRequest r1 = Request(kHello);
  const RenewalRequest r2 = Request(kHello);

  std::future<Result<std::vector<RenewalResult>>> first, second;
  struct OpenAtExit {  // a failed assertion must not leave node-1's issuance at the gate
    GateRandom& gate;
    ~OpenAtExit() { gate.Open(); }
  } open_at_exit{gate};

  // node-1's issuance stops inside its signature (the CA draws the serial from the gate).
  gate.Arm();
  first = std::async(std::launch::async, [&] { return issuer.Renew(nodes[0].record, {r1}); });
  ASSERT_TRUE(gate.WaitHeld()) << "node-1's issuance never drew randomness";

  // node-2's issuance completes meanwhile: nothing it needs is held by node-1's.
  second = std::async(std::launch::async, [&] { return issuer.Renew(nodes[1].record, {r2}); });
  ASSERT_EQ(second.wait_for(kDeadline), std::future_status::ready)
      << "node-2's issuance waited for node-1's signature";
  EXPECT_NE(first.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  Result<std::vector<RenewalResult>> r = second.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_TRUE((*r)[0].status.ok()) << (*r)[0].status.ToString();
  ASSERT_TRUE((*r)[0].certificate);
  EXPECT_EQ((*r)[0].certificate->Subject().organizational_unit, "node-2");

  gate.Open();
  r = first.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_TRUE((*r)[0].status.ok()) << (*r)[0].status.ToString();
  ASSERT_TRUE((*r)[0].certificate);

  // Both are in the log, each on its own instance.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  std::set<std::string> serials;
  for (const auto& i : issued) serials.insert(i.serial);
  EXPECT_TRUE(serials.contains((*r)[0].certificate->SerialHex()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances(kHello, ""));
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_FALSE(instances[0].certificate_serial.empty());
  EXPECT_FALSE(instances[1].certificate_serial.empty());
}

}  // namespace
}  // namespace sitechain::slsm::site_test
