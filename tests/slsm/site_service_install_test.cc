// SiteService tests: options, and installing releases from the store (rules 1, 2, 4, 6, 7
// before anything is kept).
// The fixture is in site_fixture.h. Every refusal asserts its status code and a piece of its
// message; refusals that must leave the site unchanged check that too.

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tests/slsm/site_fixture.h"

namespace sitechain::slsm::site_test {
namespace {

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
  const std::string blob = storage::BlobStore::BlobName(pki_->executable_digest);
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
  SITECHAIN_ASSERT_OK_AND_ASSIGN(storage::BlobStore blobs, storage::BlobStore::Open(PackagesDir()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(auto writer, blobs.StartUpload(pki::HashAlgorithm::kSha256, 100));
  const std::string orphan = "orphan";
  ASSERT_TRUE(writer.Append({reinterpret_cast<const uint8_t*>(orphan.data()), orphan.size()}).ok());
  ASSERT_TRUE(writer.Finish().ok());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(std::string name, writer.Commit());
  ASSERT_EQ(Blobs().size(), 2u);
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(Blobs(), std::set<std::string>{storage::BlobStore::BlobName(pki_->executable_digest)});
  EXPECT_FALSE(Blobs().contains(name));
}

}  // namespace
}  // namespace sitechain::slsm::site_test
