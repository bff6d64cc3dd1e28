// End-to-end tests of what a caller without credentials can make the store and the site manager
// do (issue 17, points 3 and 6), over the real programs: `store serve` and `slsm serve` as child
// processes on port 0, `devkit register` and raw gRPC clients as the attacker.
//
//   - Registration and enrollment look at the token before the CSR: a bogus token with a CSR that
//     would cost seconds to verify (a 16384-bit RSA key) is refused UNAUTHENTICATED, and so is
//     one with bytes that are no CSR at all (the CSR was never parsed).
//   - With a valid token, a key outside the profile is refused INVALID_ARGUMENT by its
//     parameters, saying what is allowed; the token stays usable.
//   - Revocation watches (no credentials, never ending) are limited per address: the extra one
//     is refused RESOURCE_EXHAUSTED while the others, the site manager's follower among them,
//     are still served, and a closed one frees its place.
//
// No timing: what the refusal saves is measured by bench/key_parameters_bench.cc.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/grpc_tls.h"
#include "common/random.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "sitechain/v1/site.grpc.pb.h"
#include "sitechain/v1/store.grpc.pb.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/site_server.h"
#include "tests/integration/store_server.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/hostile_key_csr.h"

namespace sitechain::testutil {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kExitOk = 0;
constexpr milliseconds kStateDeadline = seconds(15);
constexpr milliseconds kPoll = milliseconds(50);
constexpr size_t kWatchesPerAddress = 3;

::testing::AssertionResult IsRefused(const grpc::Status& status, grpc::StatusCode code,
                                     const std::string& text) {
  if (status.error_code() == code && Contains(status.error_message(), text)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected gRPC code " << static_cast<int>(code) << " with \"" << text << "\", got "
         << static_cast<int>(status.error_code()) << ": " << status.error_message();
}

std::string AsString(const std::vector<uint8_t>& der) {
  return std::string(der.begin(), der.end());
}

// One WatchRevocations stream of the test, open until cancelled.
struct Watch {
  std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
  std::unique_ptr<grpc::ClientReader<v1::Revocation>> reader;

  // The next entry's sequence; nullopt if the stream ended (then Finish says why).
  std::optional<uint64_t> Next() {
    v1::Revocation r;
    if (!reader->Read(&r)) return std::nullopt;
    return r.sequence();
  }
};

// Each test: a fresh directory holding a copy of a store (alice registered; hello 1.0.0 and
// greeter 1.0.0 published), served on a free port with at most kWatchesPerAddress revocation
// watches per address.
class HostileEdgeTest : public ProgramTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProgramTest::SetUp());
    ASSERT_TRUE(std::filesystem::exists(Bin("slsm"))) << "build the slsm target";
    ASSERT_TRUE(template_.CopyInto(dir_, /*node_store_root=*/false));
    ASSERT_OK(world_.ServeStore(
        {"--max-revocation-watchers-per-address", std::to_string(kWatchesPerAddress)}));
    auto root = pki::Certificate::Load(Path("store/root.pem"));
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    store_root_.emplace(*root);
  }

  void TearDown() override {
    site_.reset();
    world_.store().reset();
  }

  static void TearDownTestSuite() { template_.Reset(); }

  StoreServer& store() { return *world_.store(); }

  // A PEM CSR file in the test directory, named `file`: a random `bits`-bit RSA modulus with
  // `exponent`, a random signature.
  void WriteHostileCsr(const std::string& file, size_t bits, const std::vector<uint8_t>& exponent) {
    const std::vector<uint8_t> der = sitechain::testing::CsrDerWithKey(
        sitechain::testing::RandomRsaSpki(bits, exponent, rng_), "mallory", bits / 8, rng_);
    ASSERT_TRUE(
        WriteWholeFile(Path(file), sitechain::testing::der::Pem("CERTIFICATE REQUEST", der)));
  }

  ProcessResult Register(const std::string& token, const std::string& csr) {
    return Devkit({"register", "--token", token, "--csr", csr, "--out", "mallory.pem", "--store",
                   world_.store()->address(), "--store-root", "store/root.pem"});
  }

  std::string StoreToken() const {
    ProcessResult r = Store({"tokens", "create", "--dir", "store"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return Trim(r.out);
  }

  // slsm init + serve in ./site, following this store.
  SiteServer& StartSite() {
    EXPECT_OK(world_.InitSite("site", "site-a"));
    site_ = world_.NewSite("site", {{"store", store().address()}});
    EXPECT_TRUE(site_->Start());
    return *site_;
  }

  ProcessResult Slsm(std::vector<std::string> args) const {
    args.insert(args.end(), {"--dir", "site"});
    return Run(Bin("slsm"), std::move(args));
  }

  std::string LastRevocationAppliedBySite() const {
    ProcessResult r = Slsm({"stats", "--json"});
    const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("last_revocation_sequence", "") : "";
  }

  Watch OpenWatch(v1::Store::Stub& stub, uint64_t after) {
    Watch w;
    // Long enough for the test; bounds a hung test.
    w.context->set_deadline(std::chrono::system_clock::now() + seconds(120));
    v1::WatchRevocationsRequest request;
    request.set_after_sequence(after);
    w.reader = stub.WatchRevocations(w.context.get(), request);
    return w;
  }

  static inline StoreTemplate template_{{"alice"},
                                        {"hello"},
                                        {{.file = "hello", .name = "hello", .version = "1.0.0"},
                                         {.file = "hello", .name = "greeter"}}};

  ProgramWorld world_{dir_.path()};
  std::optional<pki::Certificate> store_root_;
  std::unique_ptr<SiteServer> site_;
  SystemRandom rng_;
};

// --- point 3: the token before the CSR, the key's parameters before its signature -------------

TEST_F(HostileEdgeTest, RegisterLooksAtTheTokenBeforeTheCsrAndAtTheKeyBeforeTheSignature) {
  ASSERT_NO_FATAL_FAILURE(
      WriteHostileCsr("oversized.csr", 16384, sitechain::testing::kExponent65537));
  ASSERT_NO_FATAL_FAILURE(WriteHostileCsr("exponent3.csr", 2048, sitechain::testing::kExponent3));
  ASSERT_TRUE(WriteWholeFile(Path("garbage.csr"), "this is no CSR\n"));

  // Without a valid token nothing is parsed: even bytes that are no CSR get UNAUTHENTICATED.
  for (const char* csr : {"oversized.csr", "garbage.csr"}) {
    EXPECT_TRUE(CliRefused(Register("sct-00000000000000000000000000000000", csr), "UNAUTHENTICATED",
                           "unknown registration token"))
        << csr;
  }
  // With one, the key is refused by its parameters, saying what is allowed.
  const std::string token = StoreToken();
  ASSERT_FALSE(token.empty());
  EXPECT_TRUE(CliRefused(Register(token, "oversized.csr"), "INVALID_ARGUMENT",
                         "16384-bit modulus, more than the 4096 bits"));
  EXPECT_TRUE(CliRefused(Register(token, "exponent3.csr"), "INVALID_ARGUMENT",
                         "public exponent is 3, not 65537"));
  EXPECT_TRUE(CliRefused(Register(token, "exponent3.csr"), "INVALID_ARGUMENT",
                         "RSA of 2048 or 3072 bits with public exponent 65537"));
  EXPECT_TRUE(Contains(store().log(), "Register refused")) << store().log();
  // The token was not spent on the refusals.
  ASSERT_EQ(Devkit({"keygen", "--out", "carol.key", "--type", "ed25519"}).exit_code, kExitOk);
  ASSERT_EQ(
      Devkit({"csr", "--key", "carol.key", "--name", "carol", "--out", "carol.csr"}).exit_code,
      kExitOk);
  ProcessResult ok = Register(token, "carol.csr");
  EXPECT_EQ(ok.exit_code, kExitOk) << ok.Describe();
}

TEST_F(HostileEdgeTest, EnrollLooksAtTheTokenBeforeTheCsrAndAtTheKeyBeforeTheSignature) {
  SiteServer& site = StartSite();
  auto site_root = pki::Certificate::Load(Path("site/root.pem"));
  ASSERT_TRUE(site_root.ok()) << site_root.status().ToString();
  auto stub = v1::Site::NewStub(DialTls(site.address(), {site_root->ToPem(), {}, {}}));
  auto enroll = [&](const std::string& token, const std::string& csr_der) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(30));
    v1::EnrollRequest request;
    request.set_token(token);
    request.set_node("n1");
    request.set_csr_der(csr_der);
    v1::EnrollResponse response;
    return stub->Enroll(&context, request, &response);
  };
  const std::string oversized = AsString(sitechain::testing::CsrDerWithKey(
      sitechain::testing::RandomRsaSpki(16384, sitechain::testing::kExponent65537, rng_), "n1",
      16384 / 8, rng_));
  const std::string garbage = "this is no CSR";

  const std::string unknown =
      "00000000.00000000000000000000000000000000." + site.site_root_sha256();
  for (const std::string& csr : {oversized, garbage}) {
    EXPECT_TRUE(
        IsRefused(enroll(unknown, csr), grpc::StatusCode::UNAUTHENTICATED, "unknown join token"));
  }
  ProcessResult t = Slsm({"tokens", "create", "n1"});
  ASSERT_EQ(t.exit_code, kExitOk) << t.Describe();
  const std::string token = Trim(t.out);
  EXPECT_TRUE(IsRefused(enroll(token, oversized), grpc::StatusCode::INVALID_ARGUMENT,
                        "16384-bit modulus, more than the 4096 bits"));
  EXPECT_TRUE(Contains(site.log(), "Enroll refused")) << site.log();
  // The token still enrolls the node with a proper CSR.
  const pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  auto csr =
      pki::CertificateRequest::FromPem(sitechain::testing::HandMadeCsrPem(key, "n1", {}, rng_));
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  const grpc::Status enrolled = enroll(token, AsString(csr->ToDer()));
  EXPECT_TRUE(enrolled.ok()) << enrolled.error_message();
}

// --- point 6: revocation watches --------------------------------------------------------------

TEST_F(HostileEdgeTest, RevocationWatchesAreLimitedPerAddressAndTheSiteKeepsFollowing) {
  ProcessResult r =
      Store({"revoke", "release", "greeter", "1.0.0", "--reason", "first", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  // The site manager follows the feed: one watch from 127.0.0.1, served.
  StartSite();
  ASSERT_TRUE(
      WaitUntil([&] { return LastRevocationAppliedBySite() == "1"; }, kStateDeadline, kPoll))
      << site_->log();

  // The attacker, from the same address: the watches up to the limit are served (entry 1 comes
  // at once), the next is refused and ends.
  auto stub = v1::Store::NewStub(DialTls(store().address(), {store_root_->ToPem(), {}, {}}));
  std::vector<Watch> served;
  for (size_t i = 0; i + 1 < kWatchesPerAddress; ++i) {
    served.push_back(OpenWatch(*stub, 0));
    EXPECT_EQ(served.back().Next(), std::optional<uint64_t>(1)) << i;
  }
  Watch extra = OpenWatch(*stub, 0);
  EXPECT_EQ(extra.Next(), std::nullopt);
  EXPECT_TRUE(IsRefused(extra.reader->Finish(), grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "too many revocation watches from 127.0.0.1: at most 3 at once per "
                        "address (--max-revocation-watchers-per-address)"));
  EXPECT_TRUE(Contains(store().log(), "WatchRevocations refused")) << store().log();

  // Everyone already served is still served: a new revocation reaches both watches and the site.
  r = Store({"revoke", "release", "hello", "1.0.0", "--reason", "second", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  for (Watch& w : served) EXPECT_EQ(w.Next(), std::optional<uint64_t>(2));
  EXPECT_TRUE(
      WaitUntil([&] { return LastRevocationAppliedBySite() == "2"; }, kStateDeadline, kPoll))
      << site_->log();

  // A closed watch gives its place back (the store notices the cancellation within its wait).
  served.front().context->TryCancel();
  (void)served.front().reader->Finish();
  served.erase(served.begin());
  std::optional<Watch> again;
  ASSERT_TRUE(WaitUntil(
      [&] {
        Watch w = OpenWatch(*stub, 1);
        if (w.Next() != std::optional<uint64_t>(2)) {
          (void)w.reader->Finish();
          return false;
        }
        again.emplace(std::move(w));
        return true;
      },
      kStateDeadline, kPoll));

  for (Watch& w : served) w.context->TryCancel();
  for (Watch& w : served) (void)w.reader->Finish();
  again->context->TryCancel();
  (void)again->reader->Finish();
}

}  // namespace
}  // namespace sitechain::testutil
