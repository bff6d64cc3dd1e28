// Tests of SiteService (slsm/site_service.h) without gRPC: a real site CA (slca::SiteCa), a real
// SQLite database and package directory in a temporary directory, a FakeStore serving real
// releases made under a real store root, a RecordingNotifier for the commands sent to nodes, a
// ManualClock and a SeededRandom. Nodes are played by real keys and CSRs; their certificates are
// checked with the shared pki::Verifier the way nlsm will check them.
//
// Every refusal asserts its status code and a piece of its message; refusals that must leave the
// site unchanged check that too.

#include "slsm/site_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "pki/blob_store.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "pki/verifier.h"
#include "slca/site_ca.h"
#include "slsm/site_db.h"
#include "tests/common/temp_dir.h"
#include "tests/slsm/fakes.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm {
namespace {

using fakes::FakeStore;
using fakes::MakeRelease;
using fakes::RecordingNotifier;
using fakes::SentCommand;
using fakes::ServedRelease;
using testutil::EntriesOf;
using testutil::ReadFd;
using testutil::ReadWholeFile;
using testutil::TempDir;
using Bytes = std::vector<uint8_t>;
using Kind = SentCommand::Kind;

constexpr const char* kSite = "site-a";
constexpr const char* kHello = "hello";  // the TestPki release: hello 1.0.0, counter 7

// The status has this code and its message contains every fragment.
::testing::AssertionResult Refused(const Status& s, StatusCode code,
                                   std::initializer_list<std::string_view> fragments = {}) {
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "expected " << StatusCodeName(code) << ", got " << s.ToString();
  }
  for (std::string_view f : fragments) {
    if (s.message().find(f) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks '" << f << "': " << s.ToString();
    }
  }
  return ::testing::AssertionSuccess();
}
template <typename T>
::testing::AssertionResult Refused(const Result<T>& r, StatusCode code,
                                   std::initializer_list<std::string_view> fragments = {}) {
  if (r.ok())
    return ::testing::AssertionFailure() << "expected " << StatusCodeName(code) << ", got OK";
  return Refused(r.status(), code, fragments);
}

std::string SmallExecutable(const std::string& tag) {
  std::string s = "#!/bin/sh\necho " + tag + "\n";
  for (size_t i = 0; s.size() < 4096; ++i)
    s.push_back(static_cast<char>((i * 17 + tag.size()) % 251));
  return s;
}

// A node of the site as the tests play it: its key (made "on the node"), its certificate and
// the record AuthenticateNode returned for it.
struct TestNode {
  std::string name;
  pki::PrivateKey key;
  pki::Certificate cert;
  pki::Certificate site_root;
  NodeRecord record;
};

// What must not change when an install is refused.
struct InstallState {
  std::vector<std::string> releases;  // "name version counter"
  std::vector<std::string> services;  // "name -> version policy"
  std::set<std::string> blobs;
  std::set<std::string> tmp;
  bool operator==(const InstallState&) const = default;
};

class SiteServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(sitechain::testing::TestPki pki,
                                   sitechain::testing::MakeTestPki(clock_, rng_));
    pki_.emplace(std::move(pki));
    // hello 1.0.0 (counter 7) exactly as the TestPki chain has it.
    ServedRelease hello;
    hello.header = {kHello,
                    "1.0.0",
                    7,
                    "alice",
                    "sha256",
                    pki_->executable_digest.Hex(),
                    pki_->options.executable.size(),
                    pki_->cert_dev.ToPem(),
                    pki_->cert_store.ToPem(),
                    pki_->developer_identity.ToPem()};
    hello.executable = pki_->options.executable;
    store_.Add(hello);
    store_.SetChunkSize(7001);

    slca::SiteCa::InitOptions ca;
    ca.dir = CaDir();
    ca.site = kSite;
    SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa site_ca, slca::SiteCa::Init(ca, clock_, rng_));
    ASSERT_NO_FATAL_FAILURE(Open(std::move(site_ca)));
  }

  std::string Dir() const { return tmp_.Path("site"); }
  std::string CaDir() const { return Dir() + "/ca"; }
  std::string DbPath() const { return Dir() + "/slsm.db"; }
  std::string PackagesDir() const { return Dir() + "/packages"; }
  SiteService& service() { return *service_; }
  pki::BuildContext ctx() { return pki::BuildContext{clock_, rng_}; }

  void Open(slca::SiteCa ca) {
    service_.reset();
    SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteDatabase db, SiteDatabase::Open(DbPath()));
    SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::BlobStore packages, pki::BlobStore::Open(PackagesDir()));
    SITECHAIN_ASSERT_OK_AND_ASSIGN(
        service_,
        SiteService::Create(std::move(ca), pki_->store_root, std::move(db), std::move(packages),
                            store_, notifier_, clock_, rng_, options_));
  }

  // What a restart of `slsm serve` does: everything reopened from the directory.
  void Restart() {
    service_.reset();
    SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca, slca::SiteCa::Open(CaDir(), std::nullopt));
    ASSERT_NO_FATAL_FAILURE(Open(std::move(ca)));
  }

  // Restarts with other options.
  void Reconfigure(const SiteOptions& options) {
    options_ = options;
    ASSERT_NO_FATAL_FAILURE(Restart());
  }

  // A release of `name` by the TestPki developer under the TestPki store root.
  ServedRelease Release(const std::string& name, const std::string& version, uint64_t counter,
                        const std::string& executable = "") {
    Result<ServedRelease> r = MakeRelease(
        {name, version, counter}, executable.empty() ? SmallExecutable(name + version) : executable,
        pki_->developer_identity, pki_->developer_key, pki_->store_root, pki_->store_key, ctx());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  void Publish(const std::string& name, const std::string& version, uint64_t counter) {
    store_.Add(Release(name, version, counter));
  }

  // --- nodes
  Result<TestNode> JoinWith(const std::string& token, const std::string& name) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::Create(key, name, rng_));
    SITECHAIN_ASSIGN_OR_RETURN(Enrolled e, service().Enroll(token, name, csr.ToDer()));
    SITECHAIN_ASSIGN_OR_RETURN(NodeRecord record,
                               service().AuthenticateNode(e.node_certificate.ToPem()));
    return TestNode{name, std::move(key), std::move(e.node_certificate), std::move(e.site_root),
                    std::move(record)};
  }
  Result<TestNode> Join(const std::string& name) {
    SITECHAIN_ASSIGN_OR_RETURN(CreatedJoinToken t, service().CreateJoinToken(name, Seconds(0)));
    return JoinWith(t.token, name);
  }
  // Installs hello 1.0.0 and enrolls `nodes` with hello deployed to them.
  void InstallAndDeploy(const std::vector<std::string>& nodes, std::vector<TestNode>* out) {
    ASSERT_TRUE(service().Install(kHello, "1.0.0").ok());
    for (const auto& n : nodes) {
      SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join(n));
      out->push_back(std::move(node));
    }
    ASSERT_TRUE(service().Deploy(kHello, nodes).ok());
  }

  // A renewal entry for a fresh instance key of `service`, as nlsm makes it.
  RenewalRequest Request(const std::string& service) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    Result<pki::CertificateRequest> csr = pki::CertificateRequest::Create(key, service, rng_);
    EXPECT_TRUE(csr.ok()) << csr.status().ToString();
    return {service, csr->ToDer()};
  }
  Result<std::vector<RenewalResult>> Renew(const TestNode& node,
                                           const std::vector<std::string>& services) {
    std::vector<RenewalRequest> requests;
    for (const auto& s : services) requests.push_back(Request(s));
    return service().Renew(node.record, requests);
  }
  // One renewal that must succeed; its certificate.
  Result<pki::Certificate> RenewOne(const TestNode& node, const std::string& service) {
    SITECHAIN_ASSIGN_OR_RETURN(auto results, Renew(node, {service}));
    if (results.size() != 1) return Internal("expected one result");
    SITECHAIN_RETURN_IF_ERROR(results[0].status);
    if (!results[0].certificate) return Internal("OK without a certificate");
    return *results[0].certificate;
  }

  // What nlsm checks before it runs the service: rules 1-8 against the node's own store root,
  // the site root it got at enrollment, the package it fetched and its own node ID.
  pki::Verification VerifyAsNode(const TestNode& node, const pki::Certificate& cert_site,
                                 const std::string& service) {
    pki::Verification failed;
    failed.failure = pki::Failure{0, pki::CertRole::kCertSite, pki::Reason::kMissingInput, "setup"};
    Result<Package> package = this->service().PackageFor(node.record, service);
    EXPECT_TRUE(package.ok()) << package.status().ToString();
    if (!package.ok()) return failed;
    auto dev = pki::Certificate::FromPem(package->release.cert_dev_pem);
    auto store = pki::Certificate::FromPem(package->release.cert_store_pem);
    auto identity = pki::Certificate::FromPem(package->release.developer_certificate_pem);
    if (!dev.ok() || !store.ok() || !identity.ok()) return failed;
    pki::ChainInput in;
    in.store_root = pki_->store_root;
    in.developer_identity = *identity;
    in.cert_dev = *dev;
    in.cert_store = *store;
    in.site_root = node.site_root;
    in.cert_site = cert_site;
    in.executable_fd = package->fd.get();
    in.expected_node_id = pki::NodeSpiffeId(kSite, node.name);
    in.highest_release_counter = package->release.release_counter;
    return pki::Verifier(clock_).Verify(in);
  }

  static std::string PolicyOf(const pki::Certificate& cert) {
    auto ext = cert.FindExtension(pki::SitePolicyOid());
    if (!ext) return "<no sitePolicy>";
    Result<std::string> json = pki::DecodeSitePolicy(ext->value);
    return json.ok() ? *json : json.status().ToString();
  }

  // --- state
  std::vector<ReleaseRecord> Releases() {
    // A second connection to the same WAL database: sees every committed change.
    Result<SiteDatabase> db = SiteDatabase::Open(DbPath());
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return {};
    Result<std::vector<ReleaseRecord>> r = db->ListReleases();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<ReleaseRecord>{};
  }
  std::set<std::string> Blobs() {
    std::set<std::string> names = EntriesOf(PackagesDir());
    names.erase("tmp");
    return names;
  }
  InstallState TakeInstallState() {
    InstallState s;
    for (const auto& r : Releases()) {
      s.releases.push_back(r.name + " " + r.version + " " + std::to_string(r.release_counter));
    }
    Result<std::vector<ServiceView>> services = service().ListServices();
    EXPECT_TRUE(services.ok()) << services.status().ToString();
    if (services.ok()) {
      for (const auto& v : *services) {
        s.services.push_back(v.service.name + " -> " + v.release.version + " " +
                             v.service.policy_json);
      }
    }
    s.blobs = Blobs();
    s.tmp = EntriesOf(PackagesDir() + "/tmp");
    return s;
  }
  // The install was refused and left nothing behind: no release, no blob, no upload in tmp/.
  void ExpectUnchanged(const InstallState& before) {
    const InstallState now = TakeInstallState();
    EXPECT_EQ(now.releases, before.releases);
    EXPECT_EQ(now.services, before.services);
    EXPECT_EQ(now.blobs, before.blobs);
    EXPECT_TRUE(now.tmp.empty()) << "an upload was left in tmp/";
  }

  TempDir tmp_;
  ManualClock clock_{sitechain::testing::kTestEpoch};
  SeededRandom rng_{4242};
  std::optional<sitechain::testing::TestPki> pki_;
  FakeStore store_;
  RecordingNotifier notifier_;
  SiteOptions options_;
  std::unique_ptr<SiteService> service_;
};

// === Options ===================================================================================

TEST(SiteOptionsTest, DefaultsAreValidAndNonsenseIsRefused) {
  EXPECT_TRUE(SiteOptions{}.Validate().ok());
  SiteOptions o;
  o.cert_site_lifetime = Seconds(5);
  EXPECT_TRUE(Refused(o.Validate(), StatusCode::kInvalidArgument, {"lifetime"}));
  o = {};
  o.renew_window_start = 0.8;
  EXPECT_TRUE(Refused(o.Validate(), StatusCode::kInvalidArgument, {"renewal window"}));
  o = {};
  o.max_issuance_per_second = 0;
  EXPECT_TRUE(Refused(o.Validate(), StatusCode::kInvalidArgument, {"issuance rate"}));
  o = {};
  o.issuance_burst = 0.5;
  EXPECT_TRUE(Refused(o.Validate(), StatusCode::kInvalidArgument, {"burst"}));
  o = {};
  o.max_token_ttl = Seconds(10);
  EXPECT_TRUE(Refused(o.Validate(), StatusCode::kInvalidArgument, {"TTL"}));
  // A policy limit beyond what a certificate's sitePolicy can carry would accept policies that
  // no Cert_site could then hold: every renewal of the service would fail.
  o = {};
  o.max_policy_bytes = pki::kMaxSitePolicyBytes + 1;
  EXPECT_TRUE(Refused(o.Validate(), StatusCode::kInvalidArgument, {"policy"}));
}

// === Install ===================================================================================

TEST_F(SiteServiceTest, InstallVerifiesAndKeepsTheReleaseByDigest) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord r, service().Install(kHello, "1.0.0"));
  EXPECT_EQ(r.name, kHello);
  EXPECT_EQ(r.version, "1.0.0");
  EXPECT_EQ(r.release_counter, 7u);
  EXPECT_EQ(r.developer, "alice");
  EXPECT_EQ(r.digest_algorithm, "sha256");
  EXPECT_EQ(r.digest, pki_->executable_digest.Hex());
  EXPECT_EQ(r.size, pki_->options.executable.size());
  EXPECT_EQ(r.installed_at, clock_.Now());
  EXPECT_FALSE(r.revoked);
  EXPECT_EQ(r.cert_store_pem, pki_->cert_store.ToPem());

  // The package is on disk under its digest, byte for byte.
  const std::string blob = pki::BlobStore::BlobName(pki_->executable_digest);
  EXPECT_EQ(r.blob, blob);
  EXPECT_EQ(Blobs(), std::set<std::string>{blob});
  EXPECT_EQ(ReadWholeFile(PackagesDir() + "/" + blob), pki_->options.executable);
  EXPECT_TRUE(EntriesOf(PackagesDir() + "/tmp").empty());

  // Its service exists, runs it, and has the empty policy.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto services, service().ListServices());
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].service.name, kHello);
  EXPECT_EQ(services[0].service.policy_json, "{}");
  EXPECT_EQ(services[0].release.id, r.id);
  EXPECT_EQ(services[0].instances, 0u);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts, service().Counts());
  EXPECT_EQ(counts.services, 1u);
}

TEST_F(SiteServiceTest, InstallWithoutAVersionTakesTheNewest) {
  Publish(kHello, "2.0.0", 9);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord r, service().Install(kHello, ""));
  EXPECT_EQ(r.version, "2.0.0");
  EXPECT_EQ(r.release_counter, 9u);
}

TEST_F(SiteServiceTest, InstallRefusesAnExecutableThatDoesNotMatchItsDigest) {
  const InstallState before = TakeInstallState();
  store_.SetTamper([](ReleaseHeader&, std::string& exe) { exe[150000] ^= 0x01; });
  Result<ReleaseRecord> r = service().Install(kHello, "1.0.0");
  EXPECT_TRUE(Refused(r, StatusCode::kInvalidArgument,
                      {"does not verify", "rule 6", "DIGEST_MISMATCH", "nothing was installed"}));
  ExpectUnchanged(before);
  EXPECT_TRUE(Blobs().empty());
  EXPECT_TRUE(Releases().empty());

  // The same release, sent intact, installs: nothing of the failed attempt was in the way.
  store_.SetTamper(nullptr);
  EXPECT_TRUE(service().Install(kHello, "1.0.0").ok());
}

TEST_F(SiteServiceTest, InstallRefusesACertStoreOfAnotherRelease) {
  // The store pairs hello 1.0.0's Cert_dev with the Cert_store it issued for another release.
  const ServedRelease other = Release(kHello, "1.0.1", 8);
  const InstallState before = TakeInstallState();
  store_.SetTamper(
      [&](ReleaseHeader& h, std::string&) { h.cert_store_pem = other.header.cert_store_pem; });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kInvalidArgument,
                      {"does not verify", "rule 4"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallRefusesACertStoreThatSwapsTheExecutable) {
  // A store that re-signs Cert_store for an executable of its choice (correctly signed by the
  // real store root) and serves that executable: Cert_dev, which only the developer can sign,
  // still names the original digest.
  const std::string evil = SmallExecutable("evil");
  pki::CertificateSpec spec = sitechain::testing::SpecFrom(pki_->cert_store);
  spec.subject_der = pki_->cert_store.SubjectDnDer();
  ASSERT_TRUE(sitechain::testing::ReplaceExtension(
      spec, pki::ExecutableHashOid(),
      pki::EncodeHashExtension(pki::HashBytes(pki::HashAlgorithm::kSha256, evil))));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate forged,
      pki::IssueCertificate(spec, {&pki_->store_root, pki_->store_key}, rng_));
  const InstallState before = TakeInstallState();
  store_.SetTamper([&](ReleaseHeader& h, std::string& exe) {
    h.cert_store_pem = forged.ToPem();
    exe = evil;
    h.size = evil.size();
  });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kInvalidArgument,
                      {"does not verify", "rule 4", "EXTENSION_MISMATCH"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallRefusesAReleaseSignedUnderAnotherStoreRoot) {
  SeededRandom other_rng(99);
  sitechain::testing::TestPkiOptions opts;
  opts.store_name = "rogue-store";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(sitechain::testing::TestPki rogue,
                                 sitechain::testing::MakeTestPki(clock_, other_rng, opts));
  const InstallState before = TakeInstallState();
  store_.SetTamper([&](ReleaseHeader& h, std::string&) {
    h.cert_dev_pem = rogue.cert_dev.ToPem();
    h.cert_store_pem = rogue.cert_store.ToPem();
    h.developer_certificate_pem = rogue.developer_identity.ToPem();
  });
  Result<ReleaseRecord> r = service().Install(kHello, "1.0.0");
  EXPECT_TRUE(Refused(r, StatusCode::kInvalidArgument, {"does not verify", "rule 1"}));
  ExpectUnchanged(before);

  // Only the Cert_store from the rogue store: rule 2.
  store_.SetTamper(
      [&](ReleaseHeader& h, std::string&) { h.cert_store_pem = rogue.cert_store.ToPem(); });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kInvalidArgument,
                      {"does not verify", "rule 2"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallRefusesARollback) {
  Publish(kHello, "2.0.0", 9);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v2, service().Install(kHello, "2.0.0"));
  const InstallState before = TakeInstallState();
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kInvalidArgument,
                      {"rule 7", "ROLLBACK"}));
  ExpectUnchanged(before);
  EXPECT_EQ(Blobs(), std::set<std::string>{v2.blob});

  // The same counter under another version is refused too: counters name releases.
  Publish(kHello, "2.0.0-again", 9);
  EXPECT_TRUE(Refused(service().Install(kHello, "2.0.0-again"), StatusCode::kFailedPrecondition,
                      {"counter 9", "already installed"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallRefusesADuplicateCounterZero) {
  // 0 is a valid releaseCounter (devkit sign --release 0): a second release with it is refused
  // like any other repeated counter, not recorded beside the first.
  Publish("zero", "0.1", 0);
  Publish("zero", "0.2", 0);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord first, service().Install("zero", "0.1"));
  EXPECT_EQ(first.release_counter, 0u);
  const InstallState before = TakeInstallState();
  EXPECT_TRUE(Refused(service().Install("zero", "0.2"), StatusCode::kFailedPrecondition,
                      {"counter 0", "already installed"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallingTwiceIsAlreadyExists) {
  ASSERT_TRUE(service().Install(kHello, "1.0.0").ok());
  const InstallState before = TakeInstallState();
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kAlreadyExists,
                      {"hello 1.0.0 is already installed"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallRefusesAnOversizedExecutable) {
  SiteOptions o;
  o.max_executable_bytes = 100 * 1024;  // the executable is 200 KiB
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  const InstallState before = TakeInstallState();
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kResourceExhausted,
                      {"at most 102400"}));
  ExpectUnchanged(before);

  // A header that understates the size does not get more than it announced into the site.
  ASSERT_NO_FATAL_FAILURE(Reconfigure(SiteOptions{}));
  store_.SetTamper([](ReleaseHeader& h, std::string&) { h.size = 1000; });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kResourceExhausted, {}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallRefusesATruncatedStream) {
  const InstallState before = TakeInstallState();
  store_.SetTamper([](ReleaseHeader&, std::string& exe) { exe.resize(exe.size() - 1000); });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kDataLoss,
                      {"of " + std::to_string(pki_->options.executable.size()) + " bytes",
                       "nothing was installed"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallRefusesWhatTheStoreSendsInsteadOfTheRelease) {
  const InstallState before = TakeInstallState();
  // Another name than asked for.
  store_.SetTamper([](ReleaseHeader& h, std::string&) { h.name = "evil"; });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kDataLoss,
                      {"the store sent evil 1.0.0 for hello"}));
  // The right name over another release's certificates.
  const ServedRelease world = Release("world", "1.0.0", 7);
  store_.SetTamper([&](ReleaseHeader& h, std::string& exe) {
    h.cert_dev_pem = world.header.cert_dev_pem;
    h.cert_store_pem = world.header.cert_store_pem;
    h.size = world.executable.size();
    exe = world.executable;
  });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kInvalidArgument,
                      {"does not match its certificates"}));
  // A counter that the certificates do not carry.
  store_.SetTamper([](ReleaseHeader& h, std::string&) { h.release_counter = 70; });
  EXPECT_TRUE(Refused(service().Install(kHello, "1.0.0"), StatusCode::kInvalidArgument,
                      {"does not match its certificates"}));
  ExpectUnchanged(before);
  // Garbage for a certificate.
  store_.SetTamper([](ReleaseHeader& h, std::string&) { h.cert_dev_pem = "not a certificate"; });
  EXPECT_FALSE(service().Install(kHello, "1.0.0").ok());
  ExpectUnchanged(before);
  // Names that are not identifiers never reach the store.
  const int downloads = store_.downloads();
  EXPECT_TRUE(Refused(service().Install("../etc", ""), StatusCode::kInvalidArgument, {}));
  EXPECT_EQ(store_.downloads(), downloads);
  EXPECT_TRUE(Refused(service().Install("nosuch", ""), StatusCode::kNotFound, {"nosuch"}));
  ExpectUnchanged(before);
}

TEST_F(SiteServiceTest, InstallingAHigherCounterMovesTheServiceAndTellsItsNodes) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto view, service().SetPolicy(kHello, R"({"x":1})"));
  notifier_.Take();

  Publish(kHello, "2.0.0", 9);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(ReleaseRecord v2, service().Install(kHello, "2.0.0"));
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& c : sent) {
    EXPECT_EQ(c.kind, Kind::kDeploy);
    EXPECT_EQ(c.services, std::vector<std::string>{kHello});
    EXPECT_EQ(c.detail, v2.digest);
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto services, service().ListServices());
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].release.version, "2.0.0");
  EXPECT_EQ(services[0].service.policy_json, R"({"x":1})");  // the policy stays
  EXPECT_EQ(services[0].instances, 2u);

  // The next Cert_site is for 2.0.0 and verifies against the new package.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, RenewOne(nodes[0], kHello));
  const pki::Verification v = VerifyAsNode(nodes[0], cert, kHello);
  ASSERT_TRUE(v.ok()) << sitechain::testing::Describe(v);
  ASSERT_TRUE(v.release);
  EXPECT_EQ(v.release->version, "2.0.0");
  (void)view;
}

TEST_F(SiteServiceTest, CreateRemovesPackagesNoReleaseRefersTo) {
  ASSERT_TRUE(service().Install(kHello, "1.0.0").ok());
  // What a crash between keeping a blob and recording its release leaves behind.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::BlobStore blobs, pki::BlobStore::Open(PackagesDir()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto writer, blobs.StartUpload(pki::HashAlgorithm::kSha256, 100));
  const std::string orphan = "orphan";
  ASSERT_TRUE(writer.Append({reinterpret_cast<const uint8_t*>(orphan.data()), orphan.size()}).ok());
  ASSERT_TRUE(writer.Finish().ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(std::string name, writer.Commit());
  ASSERT_EQ(Blobs().size(), 2u);
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(Blobs(), std::set<std::string>{pki::BlobStore::BlobName(pki_->executable_digest)});
  EXPECT_FALSE(Blobs().contains(name));
}

// === Join tokens and enrollment =================================================================

TEST_F(SiteServiceTest, AJoinTokenCarriesTheSiteRootFingerprint) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  // <id>.<secret>.<root sha256>
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = t.token.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(t.token.substr(start, dot - start));
  }
  parts.push_back(t.token.substr(start));
  ASSERT_EQ(parts.size(), 3u) << t.token;
  EXPECT_EQ(parts[0], t.record.id);
  EXPECT_EQ(parts[0].size(), 8u);
  EXPECT_EQ(parts[1].size(), 32u);  // 128-bit secret
  SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca, slca::SiteCa::Open(CaDir(), std::nullopt));
  EXPECT_EQ(parts[2], ca.RootFingerprint());
  const Bytes root_der = service().site_root().ToDer();
  EXPECT_EQ(parts[2],
            pki::HashBytes(
                pki::HashAlgorithm::kSha256,
                std::string_view(reinterpret_cast<const char*>(root_der.data()), root_der.size()))
                .Hex());

  EXPECT_EQ(t.record.node, "node-1");
  EXPECT_EQ(t.record.created_at, clock_.Now());
  EXPECT_EQ(t.record.expires_at, clock_.Now() + options_.default_token_ttl);
  EXPECT_FALSE(t.record.used_at);
  // The site keeps a hash, never the secret.
  EXPECT_EQ(t.record.hash.find(parts[1]), std::string::npos);
  const std::string on_disk = ReadWholeFile(DbPath()) + ReadWholeFile(DbPath() + "-wal");
  EXPECT_EQ(on_disk.find(parts[1]), std::string::npos);

  // Two tokens differ.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t2,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  EXPECT_NE(t2.token, t.token);
}

TEST_F(SiteServiceTest, CreateJoinTokenRefusesBadNamesAndLifetimes) {
  EXPECT_TRUE(Refused(service().CreateJoinToken("Node 1", Seconds(0)), StatusCode::kInvalidArgument,
                      {"node name"}));
  EXPECT_TRUE(Refused(service().CreateJoinToken("node-1", Seconds(-5)),
                      StatusCode::kInvalidArgument, {"join token may live"}));
  EXPECT_TRUE(Refused(service().CreateJoinToken("node-1", options_.max_token_ttl + Seconds(1)),
                      StatusCode::kInvalidArgument, {"join token may live"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", options_.max_token_ttl));
  EXPECT_EQ(t.record.expires_at, clock_.Now() + options_.max_token_ttl);
}

TEST_F(SiteServiceTest, EnrollIssuesANodeCertificateAndHandsOverTheSiteRoot) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr, pki::CertificateRequest::Create(key, "node-1", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Enrolled e, service().Enroll(t.token, "node-1", csr.ToDer()));

  EXPECT_EQ(e.site_root, service().site_root());
  EXPECT_NE(e.site_root, pki_->store_root);  // the slsm never hands out a store root
  const pki::Certificate& cert = e.node_certificate;
  EXPECT_EQ(cert.PublicKeyDer(), key.PublicKeyDer());
  EXPECT_EQ(cert.Subject().common_name, "node-1");
  EXPECT_EQ(cert.UriSans(), std::vector<std::string>{pki::NodeSpiffeId(kSite, "node-1")});
  EXPECT_EQ(cert.NotAfter(), clock_.Now() + options_.node_lifetime);
  const pki::Verification v =
      pki::Verifier(clock_).VerifyIssuedBy(cert, pki::CertRole::kNode, e.site_root);
  EXPECT_TRUE(v.ok()) << sitechain::testing::Describe(v);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "node-1");
  EXPECT_EQ(nodes[0].certificate_serial, cert.SerialHex());
  EXPECT_EQ(nodes[0].certificate_not_after, cert.NotAfter());
  EXPECT_EQ(nodes[0].enrolled_at, clock_.Now());
  EXPECT_FALSE(nodes[0].evicted_at);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].serial, cert.SerialHex());
  EXPECT_EQ(issued[0].kind, "node");
  EXPECT_EQ(issued[0].node, "node-1");
}

TEST_F(SiteServiceTest, AJoinTokenIsSingleUse) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode first, JoinWith(t.token, "node-1"));
  clock_.Advance(Seconds(5));
  EXPECT_TRUE(Refused(JoinWith(t.token, "node-1"), StatusCode::kUnauthenticated,
                      {"join token " + t.record.id, "already used"}));
  // The node keeps the key it enrolled with.
  EXPECT_TRUE(service().AuthenticateNode(first.cert.ToPem()).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_EQ(issued.size(), 1u);
}

TEST_F(SiteServiceTest, AJoinTokenUsedByTwoNodesAtOnceEnrollsOne) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  std::vector<Bytes> csrs;
  for (int i = 0; i < 4; ++i) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr, pki::CertificateRequest::Create(key, "node-1", rng_));
    csrs.push_back(csr.ToDer());
  }
  std::vector<std::future<Result<Enrolled>>> attempts;
  for (const auto& der : csrs) {
    attempts.push_back(std::async(std::launch::async,
                                  [&, der] { return service().Enroll(t.token, "node-1", der); }));
  }
  int enrolled = 0;
  for (auto& a : attempts) {
    Result<Enrolled> r = a.get();
    if (r.ok()) {
      ++enrolled;
    } else {
      EXPECT_TRUE(Refused(r, StatusCode::kUnauthenticated, {"already used"}));
    }
  }
  EXPECT_EQ(enrolled, 1);
}

TEST_F(SiteServiceTest, AnExpiredJoinTokenIsRefused) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t1,
                                 service().CreateJoinToken("node-1", Seconds(600)));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t2,
                                 service().CreateJoinToken("node-2", Seconds(600)));
  clock_.Advance(Seconds(599));
  EXPECT_TRUE(JoinWith(t2.token, "node-2").ok());  // one second left
  clock_.Advance(Seconds(1));
  EXPECT_TRUE(Refused(JoinWith(t1.token, "node-1"), StatusCode::kUnauthenticated,
                      {"join token " + t1.record.id, "expired"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "node-2");
}

TEST_F(SiteServiceTest, AJoinTokenIsBoundToItsNode) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  EXPECT_TRUE(Refused(JoinWith(t.token, "node-2"), StatusCode::kPermissionDenied,
                      {"made for node 'node-1'", "not 'node-2'"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  EXPECT_TRUE(nodes.empty());
  // The refusal did not use it up.
  EXPECT_TRUE(JoinWith(t.token, "node-1").ok());
}

TEST_F(SiteServiceTest, EnrollRefusesCsrsAskingForMoreAndKeepsTheToken) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  auto der_of = [&](const std::vector<pki::RawExtension>& exts, const std::string& cn) {
    Result<pki::CertificateRequest> csr =
        pki::CertificateRequest::FromPem(sitechain::testing::HandMadeCsrPem(key, cn, exts, rng_));
    EXPECT_TRUE(csr.ok()) << csr.status().ToString();
    return csr.ok() ? csr->ToDer() : Bytes{};
  };
  // CA rights.
  EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1",
                                       der_of({sitechain::testing::CaTrueExtension()}, "node-1")),
                      StatusCode::kPermissionDenied, {"asks for CA rights"}));
  // Another node's identity as an extra SAN.
  const std::string uri = pki::NodeSpiffeId(kSite, "node-2");
  const pki::RawExtension san{
      pki::kSubjectAltNameOid, false,
      sitechain::testing::der::Tlv(
          0x30, sitechain::testing::der::Tlv(0x86, Bytes(uri.begin(), uri.end())))};
  EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1", der_of({san}, "node-1")),
                      StatusCode::kPermissionDenied, {"asks for the extension"}));
  // A CSR naming another node.
  EXPECT_TRUE(Refused(service().Enroll(t.token, "node-1", der_of({}, "node-2")),
                      StatusCode::kInvalidArgument, {"names node 'node-2'"}));
  // Not a CSR at all.
  EXPECT_FALSE(service().Enroll(t.token, "node-1", Bytes{0x30, 0x03, 0x02, 0x01, 0x00}).ok());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  EXPECT_TRUE(nodes.empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_TRUE(issued.empty());
  // The token is still good for a proper CSR.
  EXPECT_TRUE(JoinWith(t.token, "node-1").ok());
}

TEST_F(SiteServiceTest, EnrollRefusesGarbageTokens) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(CreatedJoinToken t,
                                 service().CreateJoinToken("node-1", Seconds(0)));
  const std::string fp = service().site_root().Sha256Fingerprint();
  const std::string id = t.record.id;
  const std::string secret = t.token.substr(id.size() + 1, 32);
  std::string flipped = secret;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  for (const std::string& bad :
       {std::string(), std::string("garbage"), std::string("a.b"), std::string(".."),
        id + "." + flipped + "." + fp, id + "x." + secret + "." + fp, "." + secret + "." + fp,
        id + "." + secret + std::string(300, 'a') + "." + fp,
        "00000000.00000000000000000000000000000000." + fp}) {
    EXPECT_TRUE(Refused(JoinWith(bad, "node-1"), StatusCode::kUnauthenticated, {"join token"}))
        << "token '" << bad << "'";
  }
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto nodes, service().ListNodes());
  EXPECT_TRUE(nodes.empty());
  EXPECT_TRUE(JoinWith(t.token, "node-1").ok());
}

// === Node authentication ========================================================================

TEST_F(SiteServiceTest, AuthenticateNodeAcceptsAnEnrolledNode) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  EXPECT_EQ(node.record.name, "node-1");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord again, service().AuthenticateNode(node.cert.ToPem()));
  EXPECT_EQ(again.key_fingerprint, node.record.key_fingerprint);
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesACallWithoutACertificate) {
  EXPECT_TRUE(Refused(service().AuthenticateNode(std::nullopt), StatusCode::kUnauthenticated,
                      {"mutual TLS", "site 'site-a'"}));
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesAnotherSitesNodes) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  // A site of the same name with its own root: same issuer name, another key.
  ASSERT_EQ(pki_->site_root.Subject().common_name, kSite);
  ASSERT_EQ(pki_->node_cert.Subject().common_name, "node-1");
  EXPECT_TRUE(Refused(service().AuthenticateNode(pki_->node_cert.ToPem()),
                      StatusCode::kUnauthenticated,
                      {"not a valid node certificate of site 'site-a'", "rule 3"}));
  // A site of another name.
  slca::SiteCa::InitOptions other;
  other.dir = tmp_.Path("other-ca");
  other.site = "site-b";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca_b, slca::SiteCa::Init(other, clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(node.key, "node-1", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate foreign,
                                 ca_b.IssueNode(csr, "node-1", Seconds(3600), ctx()));
  EXPECT_TRUE(Refused(service().AuthenticateNode(foreign.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate"}));
  // A forgery of node-1's own certificate under a look-alike of the site root.
  pki::PrivateKey wrong = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate forged,
      sitechain::testing::SignWithWrongKey(sitechain::testing::SpecFrom(node.cert),
                                           service().site_root(), wrong, rng_));
  EXPECT_TRUE(Refused(service().AuthenticateNode(forged.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate", "BAD_SIGNATURE"}));
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesAnExpiredNodeCertificate) {
  SiteOptions o;
  o.node_lifetime = Seconds(3600);
  ASSERT_NO_FATAL_FAILURE(Reconfigure(o));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  clock_.Advance(Seconds(3600));
  EXPECT_TRUE(service().AuthenticateNode(node.cert.ToPem()).ok());  // the last second
  clock_.Advance(Seconds(1));
  EXPECT_TRUE(Refused(service().AuthenticateNode(node.cert.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate", "EXPIRED"}));
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesCertificatesOfOtherRoles) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert_site, RenewOne(nodes[0], kHello));
  // The instance's Cert_site, issued by this very site root for node-1.
  EXPECT_TRUE(Refused(service().AuthenticateNode(cert_site.ToPem()), StatusCode::kUnauthenticated,
                      {"not a valid node certificate"}));
  // The site root itself, and certificates of the store's chain.
  const std::vector<pki::Certificate> others = {service().site_root(), pki_->store_root,
                                                pki_->developer_identity, pki_->cert_dev,
                                                pki_->cert_store};
  for (const pki::Certificate& c : others) {
    EXPECT_TRUE(Refused(service().AuthenticateNode(c.ToPem()), StatusCode::kUnauthenticated,
                        {"not a valid node certificate"}))
        << c.Subject().ToString();
  }
}

TEST_F(SiteServiceTest, AuthenticateNodeRefusesAKeyTheSiteNoLongerKnows) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode old_node, Join("node-1"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode new_node, Join("node-1"));  // re-enrolled, new key
  EXPECT_TRUE(service().AuthenticateNode(new_node.cert.ToPem()).ok());
  EXPECT_TRUE(Refused(service().AuthenticateNode(old_node.cert.ToPem()),
                      StatusCode::kUnauthenticated, {"no longer knows"}));
  // A certificate of this CA for a node the site has no record of (a restored backup, say).
  SITECHAIN_ASSERT_OK_AND_ASSIGN(slca::SiteCa ca, slca::SiteCa::Open(CaDir(), std::nullopt));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(old_node.key, "ghost", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate ghost,
                                 ca.IssueNode(csr, "ghost", Seconds(3600), ctx()));
  EXPECT_TRUE(Refused(service().AuthenticateNode(ghost.ToPem()), StatusCode::kUnauthenticated,
                      {"node 'ghost' is not enrolled"}));
}

TEST_F(SiteServiceTest, RenewNodeKeepsTheKeyAndRefusesAnother) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode node, Join("node-1"));
  clock_.Advance(Seconds(3600));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                 pki::CertificateRequest::Create(node.key, "node-1", rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate renewed,
                                 service().RenewNode(node.record, csr.ToDer()));
  EXPECT_EQ(renewed.PublicKeyDer(), node.key.PublicKeyDer());
  EXPECT_NE(renewed.SerialHex(), node.cert.SerialHex());
  EXPECT_EQ(renewed.NotAfter(), clock_.Now() + options_.node_lifetime);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord record, service().AuthenticateNode(renewed.ToPem()));
  EXPECT_EQ(record.certificate_serial, renewed.SerialHex());

  pki::PrivateKey other = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto other_csr,
                                 pki::CertificateRequest::Create(other, "node-1", rng_));
  EXPECT_TRUE(Refused(service().RenewNode(node.record, other_csr.ToDer()),
                      StatusCode::kInvalidArgument, {"another key", "new join token"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      auto ca_csr, pki::CertificateRequest::FromPem(sitechain::testing::HandMadeCsrPem(
                       node.key, "node-1", {sitechain::testing::CaTrueExtension()}, rng_)));
  EXPECT_TRUE(Refused(service().RenewNode(node.record, ca_csr.ToDer()),
                      StatusCode::kPermissionDenied, {"CA rights"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto issued, service().ListIssued(0));
  EXPECT_EQ(issued.size(), 2u);
}

// === Deployments and packages ===================================================================

TEST_F(SiteServiceTest, DeployAddsInstancesAndTellsTheNodes) {
  ASSERT_TRUE(service().Install(kHello, "1.0.0").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n1, Join("node-1"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n2, Join("node-2"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto added, service().Deploy(kHello, {"node-1", "node-2"}));
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0].node, "node-1");
  EXPECT_EQ(added[0].deployed_at, clock_.Now());
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].kind, Kind::kDeploy);
  EXPECT_EQ(sent[0].node, "node-1");
  EXPECT_EQ(sent[0].detail, pki_->executable_digest.Hex());
  EXPECT_EQ(sent[1].node, "node-2");

  // Deploying again skips the nodes that run it.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(added, service().Deploy(kHello, {"node-1", "node-2"}));
  EXPECT_TRUE(added.empty());
  EXPECT_TRUE(notifier_.Take().empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances(kHello, ""));
  EXPECT_EQ(instances.size(), 2u);
}

TEST_F(SiteServiceTest, DeployIsAllOrNothing) {
  ASSERT_TRUE(service().Install(kHello, "1.0.0").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n1, Join("node-1"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode n2, Join("node-2"));
  ASSERT_TRUE(service().EvictNode("node-2").ok());
  notifier_.Take();
  EXPECT_TRUE(
      Refused(service().Deploy(kHello, {"node-1", "node-9"}), StatusCode::kNotFound, {"node-9"}));
  EXPECT_TRUE(Refused(service().Deploy(kHello, {"node-1", "node-2"}),
                      StatusCode::kFailedPrecondition, {"node 'node-2' is evicted"}));
  EXPECT_TRUE(Refused(service().Deploy("nosuch", {"node-1"}), StatusCode::kNotFound, {"nosuch"}));
  EXPECT_TRUE(
      Refused(service().Deploy(kHello, {}), StatusCode::kInvalidArgument, {"at least one"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances("", ""));
  EXPECT_TRUE(instances.empty());
  EXPECT_TRUE(notifier_.Take().empty());
}

TEST_F(SiteServiceTest, UndeployStopsTheInstanceAndEndsItsCertificates) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  notifier_.Take();
  // All or nothing: one node that does not run it refuses the whole call.
  EXPECT_TRUE(Refused(service().Undeploy(kHello, {"node-1", "node-9"}), StatusCode::kNotFound,
                      {"not deployed to node 'node-9'"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances(kHello, ""));
  EXPECT_EQ(instances.size(), 2u);
  EXPECT_TRUE(notifier_.Take().empty());

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto removed, service().Undeploy(kHello, {"node-1"}));
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].node, "node-1");
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kStop);
  EXPECT_EQ(sent[0].node, "node-1");
  EXPECT_NE(sent[0].detail.find("undeployed"), std::string::npos);

  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied,
                      {"service 'hello' is not deployed to node 'node-1'"}));
  EXPECT_FALSE(results[0].certificate);
  EXPECT_TRUE(Refused(service().PackageFor(nodes[0].record, kHello), StatusCode::kPermissionDenied,
                      {"not deployed to node 'node-1'"}));
  EXPECT_TRUE(RenewOne(nodes[1], kHello).ok());  // node-2 still runs it
}

TEST_F(SiteServiceTest, ANodeFetchesOnlyPackagesDeployedToIt) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode other, Join("node-2"));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Package p, service().PackageFor(nodes[0].record, kHello));
  EXPECT_EQ(p.release.version, "1.0.0");
  EXPECT_EQ(ReadFd(p.fd.get()), pki_->options.executable);

  EXPECT_TRUE(Refused(service().PackageFor(other.record, kHello), StatusCode::kPermissionDenied,
                      {"service 'hello' is not deployed to node 'node-2'"}));
  EXPECT_TRUE(Refused(service().PackageFor(nodes[0].record, "nosuch"),
                      StatusCode::kPermissionDenied, {"not deployed"}));
}

TEST_F(SiteServiceTest, NodeReportsAreRecorded) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  service().ReportInstance("node-1", kHello, "running" + std::string(100, '!'), "pid 42");
  service().ReportInstance("node-1", "nosuch", "running", "");  // ignored
  clock_.Advance(Seconds(30));
  service().NodeSeen("node-1");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances("", "node-1"));
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].node_state.size(), 64u);  // capped
  EXPECT_EQ(instances[0].node_detail, "pid 42");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto listed, service().ListNodes());
  ASSERT_EQ(listed.size(), 1u);
  ASSERT_TRUE(listed[0].last_seen);
  EXPECT_EQ(*listed[0].last_seen, clock_.Now());
}

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
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      results,
      service().Renew(nodes[0].record, {Request("world"), ca_request,
                                        RenewalRequest{kHello, {1, 2, 3}}, Request(kHello)}));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied, {"not deployed"}));
  EXPECT_TRUE(Refused(results[1].status, StatusCode::kPermissionDenied, {"CA rights"}));
  EXPECT_FALSE(results[2].status.ok());
  EXPECT_FALSE(results[2].certificate);
  EXPECT_TRUE(results[3].status.ok()) << results[3].status.ToString();

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

// === Eviction ===================================================================================

TEST_F(SiteServiceTest, EvictingANodeStopsItsServicesAndLocksItOut) {
  Publish("world", "1.0.0", 1);
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1", "node-2"}, &nodes));
  ASSERT_TRUE(service().Install("world", "1.0.0").ok());
  ASSERT_TRUE(service().Deploy("world", {"node-1"}).ok());
  notifier_.Take();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(NodeRecord evicted, service().EvictNode("node-1"));
  ASSERT_TRUE(evicted.evicted_at);
  EXPECT_EQ(*evicted.evicted_at, clock_.Now());
  std::vector<SentCommand> sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 2u);
  std::set<std::string> stopped;
  for (const auto& c : sent) {
    EXPECT_EQ(c.kind, Kind::kStop);
    EXPECT_EQ(c.node, "node-1");
    EXPECT_NE(c.detail.find("evicted"), std::string::npos);
    stopped.insert(c.services.at(0));
  }
  EXPECT_EQ(stopped, (std::set<std::string>{kHello, "world"}));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto instances, service().ListInstances("", "node-1"));
  EXPECT_TRUE(instances.empty());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts, service().Counts());
  EXPECT_EQ(counts.nodes, 1u);
  EXPECT_EQ(counts.instances, 1u);

  EXPECT_TRUE(Refused(service().AuthenticateNode(nodes[0].cert.ToPem()),
                      StatusCode::kPermissionDenied,
                      {"node 'node-1' was evicted", "new join token"}));
  // A call already past authentication gets nothing either.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto results, Renew(nodes[0], {kHello}));
  EXPECT_TRUE(Refused(results[0].status, StatusCode::kPermissionDenied, {"not deployed"}));
  EXPECT_TRUE(Refused(service().PackageFor(nodes[0].record, kHello), StatusCode::kPermissionDenied,
                      {"not deployed"}));
  EXPECT_TRUE(
      Refused(service().Deploy(kHello, {"node-1"}), StatusCode::kFailedPrecondition, {"evicted"}));
  EXPECT_TRUE(
      Refused(service().EvictNode("node-1"), StatusCode::kFailedPrecondition, {"already evicted"}));
  EXPECT_TRUE(Refused(service().EvictNode("ghost"), StatusCode::kNotFound, {"ghost"}));
  // The other node is untouched.
  EXPECT_TRUE(service().AuthenticateNode(nodes[1].cert.ToPem()).ok());
  EXPECT_TRUE(RenewOne(nodes[1], kHello).ok());
}

TEST_F(SiteServiceTest, AnEvictedNodeReEnrollsWithANewToken) {
  std::vector<TestNode> nodes;
  ASSERT_NO_FATAL_FAILURE(InstallAndDeploy({"node-1"}, &nodes));
  ASSERT_TRUE(service().EvictNode("node-1").ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(TestNode again, Join("node-1"));
  EXPECT_FALSE(again.record.evicted_at);
  EXPECT_TRUE(Refused(service().AuthenticateNode(nodes[0].cert.ToPem()),
                      StatusCode::kUnauthenticated, {"no longer knows"}));
  ASSERT_TRUE(service().Deploy(kHello, {"node-1"}).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, RenewOne(again, kHello));
  EXPECT_TRUE(VerifyAsNode(again, cert, kHello).ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCounts counts, service().Counts());
  EXPECT_EQ(counts.nodes, 1u);
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
}  // namespace sitechain::slsm
