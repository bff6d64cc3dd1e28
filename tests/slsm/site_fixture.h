#pragma once
// The fixture of the SiteService tests (slsm/site_service.h), shared by the
// site_service_*_test.cc files: a real site CA (slca::SiteCa), a real SQLite database and
// package directory in a temporary directory, a FakeStore serving real releases made under a
// real store root, a RecordingNotifier for the commands sent to nodes, a ManualClock and a
// SeededRandom. Nodes are played by real keys and CSRs; their certificates are checked with the
// shared pki::Verifier the way nlsm checks them.

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
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
#include "slsm/catalog_db.h"
#include "slsm/site_db.h"
#include "slsm/site_service.h"
#include "storage/blob_store.h"
#include "tests/common/temp_dir.h"
#include "tests/slsm/fakes.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm::site_test {

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

inline constexpr const char* kSite = "site-a";
inline constexpr const char* kHello = "hello";  // the TestPki release: hello 1.0.0, counter 7

// The status has this code and its message contains every fragment.
inline ::testing::AssertionResult Refused(const Status& s, StatusCode code,
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
inline ::testing::AssertionResult Refused(const Result<T>& r, StatusCode code,
                                          std::initializer_list<std::string_view> fragments = {}) {
  if (r.ok())
    return ::testing::AssertionFailure() << "expected " << StatusCodeName(code) << ", got OK";
  return Refused(r.status(), code, fragments);
}

inline std::string SmallExecutable(const std::string& tag) {
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
    SITECHAIN_ASSERT_OK_AND_ASSIGN(storage::BlobStore packages,
                                   storage::BlobStore::Open(PackagesDir()));
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
    Result<std::vector<ReleaseRecord>> r = CatalogDb(*db).ListReleases();
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

}  // namespace sitechain::slsm::site_test
