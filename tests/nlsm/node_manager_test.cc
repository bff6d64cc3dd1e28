// NodeManager tests with an injected ManualClock and fakes that wrap real things: FakeSite is an
// in-process site manager with a real site CA (slca::SiteCa) and a real release chain
// (testing::MakeTestPki) that serves the real package bytes and issues real Cert_site; FakeRunner
// records what it is asked to run (nothing is exec'd). Time moves only when a test moves the
// clock and pokes the loop; conditions are polled with a deadline, never waited on with a sleep.
#include "nlsm/node_manager.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/files.h"
#include "common/identity_file.h"
#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/profile.h"
#include "service_identity/service_identity.h"
#include "sitechain/v1/site.grpc.pb.h"
#include "slca/site_ca.h"
#include "tests/support/test_chain.h"

namespace sitechain::nlsm {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::MakeTestPki;
using testing::TempDir;
using testing::TestPki;

constexpr milliseconds kDeadline{10000};
constexpr Seconds kLifetime{5000};  // of every Cert_site the fake issues
const std::string kNode = "node-1";
const std::string kSite = "site-a";

bool WaitFor(const std::function<bool()>& condition, milliseconds deadline = kDeadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return condition();
    std::this_thread::sleep_for(milliseconds(2));
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The key and the Cert_site of an instance's identity file, read in one read as a service would.
struct OnDiskIdentity {
  std::optional<pki::PrivateKey> key;
  std::optional<pki::Certificate> cert_site;
};
OnDiskIdentity IdentityOf(const std::string& instance_dir) {
  OnDiskIdentity out;
  auto pem = ReadIdentityFile(instance_dir + "/identity.pem");
  if (!pem.ok()) {
    ADD_FAILURE() << pem.status().ToString();
    return out;
  }
  if (auto key = pki::PrivateKey::FromPem(pem->key_pem, std::nullopt); key.ok()) {
    out.key = std::move(*key);
  }
  if (auto cert = pki::Certificate::FromPem(pem->chain_pem); cert.ok()) {
    out.cert_site = std::move(*cert);
  }
  EXPECT_TRUE(out.key && out.cert_site) << instance_dir << "/identity.pem does not decode";
  return out;
}

// The permission bits of path, 0 if it does not exist.
mode_t ModeOf(const std::string& path) {
  auto mode = FileMode(path);
  return mode.ok() ? *mode : 0;
}

slca::SiteCa::InitOptions CaOptions(std::string dir) {
  slca::SiteCa::InitOptions o;
  o.dir = std::move(dir);
  o.site = kSite;
  return o;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::optional<InstanceStatusView> Find(const NodeStatusView& view, const std::string& service) {
  for (const auto& i : view.instances) {
    if (i.service == service) return i;
  }
  return std::nullopt;
}

// A package as the slsm keeps it: the bytes and the header that describes them.
struct Package {
  std::string bytes;
  PackageHeader header;
  std::optional<pki::Certificate> cert_store;
};

// The command stream's queue, shared by every stream the fake site hands out, so that commands
// pushed while the node is between connections reach the next stream.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Command> queue;  // guarded by mu
  uint64_t generation = 0;    // guarded by mu: EndStream ends the streams of older generations
};

class FakeStream final : public CommandStream {
 public:
  explicit FakeStream(Channel& channel) : channel_(channel) {
    std::lock_guard lock(channel_.mu);
    generation_ = channel_.generation;
  }

  std::optional<Command> Next() override {
    std::unique_lock lock(channel_.mu);
    channel_.cv.wait(lock, [&] { return Ended() || !channel_.queue.empty(); });
    if (Ended()) return std::nullopt;
    Command c = std::move(channel_.queue.front());
    channel_.queue.pop_front();
    return c;
  }
  bool SendHeartbeat(uint64_t) override { return true; }
  bool SendInstance(const InstanceReport&) override { return true; }
  void Cancel() override {
    std::lock_guard lock(channel_.mu);
    cancelled_ = true;
    channel_.cv.notify_all();
  }
  Status Close() override {
    Cancel();
    return Unavailable("the fake stream ended");
  }

 private:
  bool Ended() const { return cancelled_ || channel_.generation != generation_; }  // needs mu

  Channel& channel_;
  uint64_t generation_ = 0;  // guarded by channel_.mu
  bool cancelled_ = false;   // guarded by channel_.mu
};

// An in-process site manager: a real site CA, real packages, real Cert_site. Thread-safe (the
// node manager calls it from its loop and link threads, the test from its own).
class FakeSite final : public SiteClient {
 public:
  enum class RenewMode {
    kIssue,        // a Cert_site for the requesting node and key
    kUnavailable,  // the whole call fails with UNAVAILABLE (the slsm is down)
    kRefuse,       // each entry is refused with `refusal`
    kWrongNode,    // a valid Cert_site, but for another node
    kWrongSite,    // a Cert_site from another CA whose root looks like the site's
    kOtherKey,     // a valid Cert_site for this node, but for another key
    kBroken,       // bytes that are no certificate
    kNoAnswer,     // an answer without an outcome for any entry
  };

  FakeSite(const Clock& clock, slca::SiteCa& ca, slca::SiteCa& other_ca, pki::Certificate node_cert)
      : clock_(clock),
        ca_(ca),
        other_ca_(other_ca),
        node_cert_(std::move(node_cert)),
        other_key_(pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_)) {}

  void AddPackage(const std::string& service, Package package) {
    std::lock_guard lock(mu_);
    package.header.service = service;
    packages_.insert_or_assign(service, std::move(package));
  }
  void SetPolicy(const std::string& service, std::string json) {
    std::lock_guard lock(mu_);
    policies_[service] = std::move(json);
  }
  void SetRenewMode(RenewMode mode, Status refusal = PermissionDenied("revoked at the store")) {
    std::lock_guard lock(mu_);
    mode_ = mode;
    refusal_ = std::move(refusal);
  }
  // The suggested renewal window, as fractions of the lifetime after the time of issue.
  void SetWindow(double start, double end) {
    std::lock_guard lock(mu_);
    window_start_ = start;
    window_end_ = end;
  }

  void Push(Command command) {
    std::lock_guard lock(channel_.mu);
    channel_.queue.push_back(std::move(command));
    channel_.cv.notify_all();
  }

  std::vector<std::vector<std::string>> renew_calls() const {
    std::lock_guard lock(mu_);
    return renew_calls_;
  }
  std::vector<std::string> fetches() const {
    std::lock_guard lock(mu_);
    return fetches_;
  }
  // The window suggested with the last Cert_site issued for the service.
  std::optional<RenewalWindow> window_given(const std::string& service) const {
    std::lock_guard lock(mu_);
    auto it = windows_.find(service);
    if (it == windows_.end()) return std::nullopt;
    return it->second;
  }

  Result<std::vector<RenewalOutcome>> Renew(const std::vector<RenewalEntry>& entries) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> services;
    for (const auto& e : entries) services.push_back(e.service);
    renew_calls_.push_back(services);
    if (mode_ == RenewMode::kUnavailable) return Unavailable("the site manager is down");
    if (mode_ == RenewMode::kNoAnswer) return std::vector<RenewalOutcome>{};
    std::vector<RenewalOutcome> out;
    const TimePoint now = clock_.Now();
    for (const auto& e : entries) {
      RenewalOutcome o;
      o.service = e.service;
      o.status = Issue(e, now, o);
      out.push_back(std::move(o));
    }
    return out;
  }

  Status FetchPackage(const std::string& service,
                      const std::function<Status(const PackageHeader&)>& on_header,
                      const std::function<Status(std::span<const uint8_t>)>& on_chunk) override {
    std::optional<Package> package;
    {
      std::lock_guard lock(mu_);
      fetches_.push_back(service);
      auto it = packages_.find(service);
      if (it != packages_.end()) package = it->second;
    }
    if (!package) return NotFound("no package for " + service);
    SITECHAIN_RETURN_IF_ERROR(on_header(package->header));
    const auto* data = reinterpret_cast<const uint8_t*>(package->bytes.data());
    constexpr size_t kChunk = 64 << 10;
    for (size_t at = 0; at < package->bytes.size(); at += kChunk) {
      const size_t n = std::min(kChunk, package->bytes.size() - at);
      SITECHAIN_RETURN_IF_ERROR(on_chunk(std::span<const uint8_t>(data + at, n)));
    }
    return Status::Ok();
  }

  Result<pki::Certificate> RenewNode(std::span<const uint8_t>) override {
    std::lock_guard lock(mu_);
    return ca_.RenewNode(node_cert_, Seconds(30 * 86400), {clock_, rng_});
  }

  Result<std::unique_ptr<CommandStream>> Connect(const std::vector<InstanceReport>&) override {
    return std::unique_ptr<CommandStream>(std::make_unique<FakeStream>(channel_));
  }

  void SetNodeCertificate(const pki::Certificate& certificate) override {
    std::lock_guard lock(mu_);
    node_cert_ = certificate;
  }

 private:
  // Fills o for one entry as the mode says; needs mu_.
  Status Issue(const RenewalEntry& e, TimePoint now, RenewalOutcome& o) {
    if (mode_ == RenewMode::kRefuse) return refusal_;
    auto package = packages_.find(e.service);
    if (package == packages_.end()) return NotFound("no such service: " + e.service);
    SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::FromDer(e.csr_der));
    pki::SiteBinding binding;
    binding.node = mode_ == RenewMode::kWrongNode ? "node-2" : kNode;
    binding.service = e.service;
    binding.instance_public_key =
        mode_ == RenewMode::kOtherKey ? other_key_.PublicKeyDer() : csr.PublicKeyDer();
    auto policy = policies_.find(e.service);
    binding.site_policy_json = policy == policies_.end() ? "{}" : policy->second;
    const slca::SiteCa& ca = mode_ == RenewMode::kWrongSite ? other_ca_ : ca_;
    SITECHAIN_ASSIGN_OR_RETURN(auto cert, ca.IssueCertSite(*package->second.cert_store, binding,
                                                           kLifetime, {clock_, rng_}));
    o.cert_site_der = cert.ToDer();
    if (mode_ == RenewMode::kBroken) o.cert_site_der.resize(o.cert_site_der.size() / 2);
    const auto lifetime = std::chrono::duration_cast<milliseconds>(kLifetime);
    o.renew_after = now + std::chrono::duration_cast<milliseconds>(lifetime * window_start_);
    o.renew_before = now + std::chrono::duration_cast<milliseconds>(lifetime * window_end_);
    windows_[e.service] = RenewalWindow{o.renew_after, o.renew_before};
    return Status::Ok();
  }

  const Clock& clock_;
  SeededRandom rng_{99};
  Channel channel_;

  mutable std::mutex mu_;
  slca::SiteCa& ca_;                                   // guarded by mu_
  slca::SiteCa& other_ca_;                             // guarded by mu_
  pki::Certificate node_cert_;                         // guarded by mu_
  pki::PrivateKey other_key_;                          // guarded by mu_
  std::map<std::string, Package> packages_;            // guarded by mu_
  std::map<std::string, std::string> policies_;        // guarded by mu_
  RenewMode mode_ = RenewMode::kIssue;                 // guarded by mu_
  Status refusal_;                                     // guarded by mu_
  double window_start_ = 0.5, window_end_ = 0.75;      // guarded by mu_
  std::vector<std::vector<std::string>> renew_calls_;  // guarded by mu_
  std::vector<std::string> fetches_;                   // guarded by mu_
  std::map<std::string, RenewalWindow> windows_;       // guarded by mu_
};

// Records what the node manager asks to run. What a Start names by descriptor is hashed and
// stat'ed at once (the descriptor is only borrowed).
class FakeRunner final : public ProcessRunner {
 public:
  struct Started {
    LaunchSpec spec;
    std::string fd_digest;  // hex SHA-256 of what the descriptor reads
    ino_t inode = 0;
  };

  Status Start(const LaunchSpec& spec) override {
    std::lock_guard lock(mu_);
    Started s{spec, "", 0};
    if (auto d = pki::HashFd(pki::HashAlgorithm::kSha256, spec.executable_fd); d.ok()) {
      s.fd_digest = d->Hex();
    }
    struct stat st {};
    if (::fstat(spec.executable_fd, &st) == 0) s.inode = st.st_ino;
    s.spec.executable_fd = -1;
    starts_.push_back(std::move(s));
    events_.push_back("start " + spec.service);
    ProcessInfo info;
    info.service = spec.service;
    info.state = ProcessState::kRunning;
    info.pid = next_pid_++;
    running_[spec.service] = info;
    return Status::Ok();
  }
  Status Stop(const std::string& service) override {
    std::lock_guard lock(mu_);
    events_.push_back("stop " + service);
    running_.erase(service);
    return Status::Ok();
  }
  std::optional<ProcessInfo> Info(const std::string& service) const override {
    std::lock_guard lock(mu_);
    auto it = running_.find(service);
    if (it == running_.end()) return std::nullopt;
    return it->second;
  }
  Status Signal(const std::string& service, int signal) override {
    std::lock_guard lock(mu_);
    events_.push_back("signal " + std::to_string(signal) + " " + service);
    return running_.count(service) != 0 ? Status::Ok() : FailedPrecondition("not running");
  }

  bool Running(const std::string& service) const { return Info(service).has_value(); }
  std::vector<Started> starts(const std::string& service) const {
    std::lock_guard lock(mu_);
    std::vector<Started> out;
    for (const auto& s : starts_) {
      if (s.spec.service == service) out.push_back(s);
    }
    return out;
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Started> starts_;                 // guarded by mu_
  std::vector<std::string> events_;             // guarded by mu_: "start S", "stop S", "signal N S"
  std::map<std::string, ProcessInfo> running_;  // guarded by mu_
  int next_pid_ = 1000;                         // guarded by mu_
};

class NodeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SITECHAIN_ASSERT_OK_AND_ASSIGN(TestPki pki, MakeTestPki(clock_, rng_));
    pki_.emplace(std::move(pki));
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto ca,
                                   slca::SiteCa::Init(CaOptions(ca_dir_.File("ca")), clock_, rng_));
    ca_.emplace(std::move(ca));
    // A look-alike: another CA with the same site name (what a forger would set up).
    SITECHAIN_ASSERT_OK_AND_ASSIGN(
        auto other, slca::SiteCa::Init(CaOptions(ca_dir_.File("other")), clock_, rng_));
    other_ca_.emplace(std::move(other));

    pki::PrivateKey node_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    node_key_pem_ = node_key.ToPem(std::nullopt, rng_);
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto csr,
                                   pki::CertificateRequest::Create(node_key, kNode, rng_));
    SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate node_cert,
                                   ca_->IssueNode(csr, kNode, Seconds(30 * 86400), {clock_, rng_}));
    node_cert_.emplace(node_cert);
    site_ = std::make_unique<FakeSite>(clock_, *ca_, *other_ca_, node_cert);

    // "hello": the chain's own release.
    hello_ = PackageOf(ReadFile(pki_->executable_path), pki_->cert_dev, pki_->cert_store,
                       pki_->options.release);
    site_->AddPackage("hello", hello_);
    // "other": a second release of the same developer under the same store.
    const std::string other_bytes = testing::DefaultExecutable() + "another release";
    const pki::ServiceRelease other_release{"other", "2.0.0", 3};
    const pki::BuildContext ctx{clock_, rng_};
    SITECHAIN_ASSERT_OK_AND_ASSIGN(
        auto cert_dev,
        pki::BuildCertDev(
            {other_release, pki::HashBytes(pki::HashAlgorithm::kSha256, other_bytes), std::nullopt},
            pki_->developer_identity, pki_->developer_key, pki::kDefaultCertDevLifetime, ctx));
    SITECHAIN_ASSERT_OK_AND_ASSIGN(auto cert_store,
                                   pki::BuildCertStore(cert_dev, pki_->store_root, pki_->store_key,
                                                       pki::kDefaultCertDevLifetime, ctx));
    other_ = PackageOf(other_bytes, cert_dev, cert_store, other_release);
    site_->AddPackage("other", other_);
  }

  Package PackageOf(std::string bytes, const pki::Certificate& cert_dev,
                    const pki::Certificate& cert_store, const pki::ServiceRelease& release) const {
    Package p;
    p.header.name = release.name;
    p.header.version = release.version;
    p.header.release_counter = release.release_counter;
    p.header.digest_algorithm = "sha256";
    p.header.digest = pki::HashBytes(pki::HashAlgorithm::kSha256, bytes).Hex();
    p.header.size = bytes.size();
    p.header.cert_dev_der = cert_dev.ToDer();
    p.header.cert_store_der = cert_store.ToDer();
    p.header.developer_certificate_der = pki_->developer_identity.ToDer();
    p.bytes = std::move(bytes);
    p.cert_store = cert_store;
    return p;
  }

  NodeFiles Files() const {
    return NodeFiles{
        kNode, "fake-slsm:0",
        NodeIdentity{*node_cert_, pki::PrivateKey::FromPem(node_key_pem_, std::nullopt).value(),
                     ca_->root()},
        pki_->store_root};
  }

  static NodeOptions Options() {
    NodeOptions o;
    // The heartbeat would compare the manual clock with acknowledgements the fake never sends.
    o.heartbeat_interval = Seconds(3600);
    return o;
  }

  // A started manager on dir_ (nullptr, with a failure, if Start fails).
  std::unique_ptr<NodeManager> StartManager(FakeRunner& runner) {
    auto m = std::make_unique<NodeManager>(dir_.File("node"), Files(), *site_, runner, clock_,
                                           manager_rng_, Options());
    const Status s = m->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(m) : nullptr;
  }

  std::string InstanceDir(const std::string& service) const {
    return dir_.File("node") + "/instances/" + service;
  }
  std::string PackagePath(const Package& p) const {
    return dir_.File("node") + "/packages/sha256-" + p.header.digest;
  }

  void Deploy(const std::string& service) {
    Command c;
    c.kind = Command::Kind::kDeploy;
    c.services = {service};
    c.digest = service == "other" ? other_.header.digest : hello_.header.digest;
    site_->Push(c);
  }

  // Another release of the name "hello" (version 1.0.<counter>), with bytes of its own, signed
  // by the same developer and store; the header tells the truth until a test makes it lie.
  Package HelloRelease(uint64_t counter) {
    const std::string bytes =
        testing::DefaultExecutable() + "hello release " + std::to_string(counter);
    const pki::ServiceRelease release{"hello", "1.0." + std::to_string(counter), counter};
    const pki::BuildContext ctx{clock_, rng_};
    auto cert_dev = pki::BuildCertDev(
        {release, pki::HashBytes(pki::HashAlgorithm::kSha256, bytes), std::nullopt},
        pki_->developer_identity, pki_->developer_key, pki::kDefaultCertDevLifetime, ctx);
    EXPECT_TRUE(cert_dev.ok()) << cert_dev.status().ToString();
    auto cert_store = pki::BuildCertStore(*cert_dev, pki_->store_root, pki_->store_key,
                                          pki::kDefaultCertDevLifetime, ctx);
    EXPECT_TRUE(cert_store.ok()) << cert_store.status().ToString();
    return PackageOf(bytes, *cert_dev, *cert_store, release);
  }
  // The site serves `p` for the service from now on and tells the node to deploy it.
  void DeployPackage(const std::string& service, const Package& p) {
    site_->AddPackage(service, p);
    Command c;
    c.kind = Command::Kind::kDeploy;
    c.services = {service};
    c.digest = p.header.digest;
    site_->Push(c);
  }
  // Deploys `p` and waits until the node runs it, or refused it.
  InstanceStatusView DeployAndWait(NodeManager& m, const std::string& service, const Package& p) {
    DeployPackage(service, p);
    return WaitFor(m, service, [&](const InstanceStatusView& v) {
      return v.digest == p.header.digest && (v.state == "running" || v.state == "refused");
    });
  }
  // The node refused `v` by rule 7, saying so.
  static void ExpectRollbackRefused(const InstanceStatusView& v, const std::string& counters) {
    EXPECT_EQ(v.state, "refused") << v.last_error;
    EXPECT_TRUE(Contains(v.last_error, "rule 7")) << v.last_error;
    EXPECT_TRUE(Contains(v.last_error, "ROLLBACK")) << v.last_error;
    EXPECT_TRUE(Contains(v.last_error, counters)) << v.last_error;
  }

  // Waits until the service's status satisfies `condition`; returns the status seen last.
  InstanceStatusView WaitFor(NodeManager& m, const std::string& service,
                             const std::function<bool(const InstanceStatusView&)>& condition) {
    std::optional<InstanceStatusView> seen;
    const bool ok = sitechain::nlsm::WaitFor([&] {
      seen = Find(m.Snapshot(), service);
      return seen && condition(*seen);
    });
    EXPECT_TRUE(ok) << service << " did not reach the expected status; last seen: "
                    << (seen ? seen->state + " (" + seen->last_error + ")" : "absent");
    return seen.value_or(InstanceStatusView{});
  }
  InstanceStatusView WaitForState(NodeManager& m, const std::string& service,
                                  const std::string& state) {
    return WaitFor(m, service, [&](const InstanceStatusView& v) { return v.state == state; });
  }

  // Moves the clock to `t` and makes the loop look at it.
  void MoveTo(NodeManager& m, TimePoint t) {
    clock_.Set(t);
    m.Poke();
  }
  // Moves the clock to the service's next renewal and waits until the loop has planned another
  // one (after a success or a failure); returns the status then.
  InstanceStatusView RenewOnce(NodeManager& m, const std::string& service) {
    const auto before = Find(m.Snapshot(), service);
    EXPECT_TRUE(before && before->next_renewal) << service << " has no renewal planned";
    if (!before || !before->next_renewal) return {};
    const TimePoint at = *before->next_renewal;
    MoveTo(m, at);
    return WaitFor(m, service, [&](const InstanceStatusView& v) {
      return v.next_renewal && *v.next_renewal > at;
    });
  }

  ManualClock clock_{testing::kTestEpoch};
  SeededRandom rng_{1};
  SeededRandom manager_rng_{7};
  TempDir ca_dir_, dir_;
  std::optional<TestPki> pki_;
  std::optional<slca::SiteCa> ca_, other_ca_;
  std::string node_key_pem_;
  std::optional<pki::Certificate> node_cert_;
  std::unique_ptr<FakeSite> site_;
  Package hello_, other_;
};

// 1. A deploy command: fetched, certified, verified, started from the verified descriptor with
// the policy's arguments and environment and the service's identity in its runtime directory.
TEST_F(NodeManagerTest, DeployVerifiesAndStartsFromTheVerifiedDescriptor) {
  const std::string policy =
      R"({"args":["--port","8080"],"env":{"GREETING":"hi"},"restart":"always"})";
  site_->SetPolicy("hello", policy);
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  const InstanceStatusView v = WaitForState(*m, "hello", "running");

  EXPECT_EQ(site_->fetches(), std::vector<std::string>{"hello"});
  EXPECT_EQ(site_->renew_calls(), std::vector<std::vector<std::string>>{{"hello"}});
  EXPECT_EQ(v.release, "hello 1.0.0 (release 7)");
  EXPECT_EQ(v.digest, hello_.header.digest);
  EXPECT_EQ(v.policy_json, policy);
  EXPECT_EQ(v.pid, 1000);
  EXPECT_TRUE(v.last_error.empty()) << v.last_error;

  const auto starts = runner.starts("hello");
  ASSERT_EQ(starts.size(), 1u);
  const FakeRunner::Started& s = starts[0];
  // The very file kept by digest, read through the descriptor handed over.
  EXPECT_EQ(s.fd_digest, hello_.header.digest);
  struct stat blob {};
  ASSERT_EQ(::stat(PackagePath(hello_).c_str(), &blob), 0);
  EXPECT_EQ(s.inode, blob.st_ino);
  EXPECT_EQ(s.spec.args, (std::vector<std::string>{"--port", "8080"}));
  EXPECT_EQ(s.spec.restart, RestartPolicy::kAlways);
  const std::string dir = InstanceDir("hello");
  const std::map<std::string, std::string> env = {
      {"GREETING", "hi"},
      {"SITECHAIN_SERVICE", "hello"},
      {"SITECHAIN_SPIFFE_ID", pki::ServiceSpiffeId(kSite, kNode, "hello")},
      {"SITECHAIN_IDENTITY_FILE", dir + "/identity.pem"},
      {"SITECHAIN_CERT_FILE", dir + "/identity.pem"},
      {"SITECHAIN_KEY_FILE", dir + "/identity.pem"},
      {"SITECHAIN_TRUST_BUNDLE_FILE", dir + "/bundle.pem"},
      {"SITECHAIN_FEDERATION_FILE", dir + "/federation.pem"},
      {"SITECHAIN_POLICY_FILE", dir + "/policy.json"},
      {"SITECHAIN_WORK_DIR", dir + "/work"}};
  EXPECT_EQ(s.spec.env, env);
  EXPECT_EQ(s.spec.working_dir, dir);
  EXPECT_EQ(s.spec.stdout_path, dir + "/stdout.log");
  EXPECT_EQ(s.spec.stderr_path, dir + "/stderr.log");

  // The runtime directory: private, with the key only for the service.
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir + "/identity.pem"), 0600u);
  EXPECT_FALSE(PathExists(dir + "/instance.key"));    // never a key apart from its certificate
  EXPECT_FALSE(PathExists(dir + "/federation.pem"));  // no federation configured
  EXPECT_EQ(ModeOf(dir + "/bundle.pem"), 0644u);
  EXPECT_EQ(ModeOf(dir + "/policy.json"), 0644u);
  EXPECT_EQ(ModeOf(PackagePath(hello_)), 0555u);
  EXPECT_EQ(ReadFile(dir + "/policy.json"), policy + "\n");
  // The site root only: a bundle with the store root would trust any developer's forgery.
  EXPECT_EQ(ReadFile(dir + "/bundle.pem"), ca_->root().ToPem());
  OnDiskIdentity identity = IdentityOf(dir);
  ASSERT_TRUE(identity.key && identity.cert_site);
  const pki::Certificate cert_site = *identity.cert_site;
  EXPECT_EQ(cert_site.PublicKeyDer(), identity.key->PublicKeyDer());
  EXPECT_EQ(cert_site.UriSans(),
            std::vector<std::string>{pki::ServiceSpiffeId(kSite, kNode, "hello")});
  EXPECT_EQ(v.not_after, cert_site.NotAfter());
  // The same chain checks out with the shared verifier, from the files the service gets.
  pki::ChainInput input;
  input.store_root = pki_->store_root;
  input.site_root = ca_->root();
  input.developer_identity = pki::Certificate::Load(dir + "/developer.pem").value();
  input.cert_dev = pki::Certificate::Load(dir + "/cert-dev.pem").value();
  input.cert_store = pki::Certificate::Load(dir + "/cert-store.pem").value();
  input.cert_site = cert_site;
  input.executable_path = PackagePath(hello_);
  input.expected_node_id = pki::NodeSpiffeId(kSite, kNode);
  const pki::Verification verification = pki::Verifier(clock_).Verify(input);
  EXPECT_TRUE(verification.ok()) << testing::Describe(verification);
}

// 2a. The next renewal lies in the window the slsm suggested; when the clock passes it the
// Cert_site is renewed (same policy: the process is not restarted).
TEST_F(NodeManagerTest, RenewsInTheSuggestedWindowWhenTheClockPassesIt) {
  site_->SetWindow(0.2, 0.3);  // outside the node's default window (50 %..75 %)
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  const InstanceStatusView v = WaitForState(*m, "hello", "running");
  auto window = site_->window_given("hello");
  ASSERT_TRUE(window && v.next_renewal && v.not_after);
  EXPECT_GE(*v.next_renewal, window->renew_after);
  EXPECT_LE(*v.next_renewal, window->renew_before);

  const std::string first_cert = ReadFile(InstanceDir("hello") + "/identity.pem");
  const OnDiskIdentity first = IdentityOf(InstanceDir("hello"));
  const InstanceStatusView renewed = RenewOnce(*m, "hello");
  EXPECT_EQ(site_->renew_calls().size(), 2u);
  EXPECT_EQ(renewed.state, "running");
  ASSERT_TRUE(renewed.not_after);
  EXPECT_GT(*renewed.not_after, *v.not_after);
  window = site_->window_given("hello");
  ASSERT_TRUE(window && renewed.next_renewal);
  EXPECT_GE(*renewed.next_renewal, window->renew_after);
  EXPECT_LE(*renewed.next_renewal, window->renew_before);
  EXPECT_NE(ReadFile(InstanceDir("hello") + "/identity.pem"), first_cert);
  // A renewal rotates the key too, and the file holds the new key with the new certificate.
  const OnDiskIdentity on_disk = IdentityOf(InstanceDir("hello"));
  ASSERT_TRUE(on_disk.cert_site && on_disk.key && first.key);
  EXPECT_EQ(on_disk.cert_site->NotAfter(), *renewed.not_after);
  EXPECT_NE(on_disk.key->PublicKeyDer(), first.key->PublicKeyDer());
  EXPECT_EQ(on_disk.cert_site->PublicKeyDer(), on_disk.key->PublicKeyDer());
  EXPECT_EQ(runner.starts("hello").size(), 1u);
  EXPECT_TRUE(runner.Running("hello"));
}

// 2a. A service whose sitePolicy asks for a renewal signal gets it after each renewal, once its
// identity file holds the new key and certificate; without one it gets nothing (and is not
// restarted either way).
TEST_F(NodeManagerTest, RenewalSendsTheSignalThePolicyAsksFor) {
  site_->SetPolicy("hello", R"({"renewal_signal":"SIGHUP"})");
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  WaitForState(*m, "hello", "running");
  const auto signals = [&] {
    const auto events = runner.events();
    return std::count(events.begin(), events.end(), "signal " + std::to_string(SIGHUP) + " hello");
  };
  EXPECT_EQ(signals(), 0);  // not at the start
  const OnDiskIdentity first = IdentityOf(InstanceDir("hello"));
  RenewOnce(*m, "hello");
  EXPECT_EQ(signals(), 1);
  const OnDiskIdentity renewed = IdentityOf(InstanceDir("hello"));
  ASSERT_TRUE(first.cert_site && renewed.cert_site);
  EXPECT_NE(renewed.cert_site->SerialHex(), first.cert_site->SerialHex());
  RenewOnce(*m, "hello");
  EXPECT_EQ(signals(), 2);
  EXPECT_EQ(runner.starts("hello").size(), 1u);
}

// 2b. Instances due within batch_interval of the first one renew in one call; one due later
// does not join it.
TEST_F(NodeManagerTest, InstancesDueWithinTheBatchIntervalRenewInOneCall) {
  site_->SetWindow(0.5, 0.5004);  // 2 s wide: deployed together, due within 2 s
  for (const char* s : {"alpha", "beta", "gamma", "delta"}) site_->AddPackage(s, hello_);
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  for (const char* s : {"alpha", "beta", "gamma"}) Deploy(s);
  for (const char* s : {"alpha", "beta", "gamma"}) WaitForState(*m, s, "running");
  clock_.Advance(Seconds(100));
  Deploy("delta");
  const InstanceStatusView delta = WaitForState(*m, "delta", "running");
  ASSERT_EQ(site_->renew_calls().size(), 4u);

  std::optional<TimePoint> first;
  std::map<std::string, TimePoint> not_after;
  for (const char* s : {"alpha", "beta", "gamma"}) {
    const auto v = Find(m->Snapshot(), s);
    ASSERT_TRUE(v && v->next_renewal && v->not_after);
    if (!first || *v->next_renewal < *first) first = v->next_renewal;
    not_after[s] = *v->not_after;
  }
  MoveTo(*m, *first);
  for (const char* s : {"alpha", "beta", "gamma"}) {
    WaitFor(*m, s, [&](const InstanceStatusView& v) { return v.not_after > not_after[s]; });
  }
  const auto calls = site_->renew_calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls.back(), (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(Find(m->Snapshot(), "delta")->not_after, delta.not_after);
}

// 3. While the slsm is down: retries with capped backoff, never past notAfter; at notAfter the
// service is stopped (fail closed); the first successful renewal starts it again.
TEST_F(NodeManagerTest, FailedRenewalsBackOffUntilExpiryThenStopAndRecover) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  InstanceStatusView v = WaitForState(*m, "hello", "running");
  ASSERT_TRUE(v.not_after && v.next_renewal);
  const TimePoint not_after = *v.not_after;
  const RenewalPolicyConfig config;
  site_->SetRenewMode(FakeSite::RenewMode::kUnavailable);

  bool expired = false;
  int failures = 1;
  for (; failures < 100 && !expired; ++failures) {
    const TimePoint at = *v.next_renewal;
    v = RenewOnce(*m, "hello");
    ASSERT_TRUE(v.next_renewal);
    EXPECT_TRUE(Contains(v.last_error, "renewal failed")) << v.last_error;
    EXPECT_TRUE(Contains(v.last_error, "site manager is down")) << v.last_error;
    if (at < not_after) {
      EXPECT_EQ(v.state, "running");
      EXPECT_TRUE(runner.Running("hello"));
      EXPECT_LE(*v.next_renewal, not_after) << "a retry planned past notAfter";
      // The n-th retry waits a uniform time in [d/2, d], d = min(max, initial * 2^(n-1)) —
      // unless notAfter comes first (the last try is at expiry).
      Seconds d = config.retry_initial;
      for (int i = 1; i < failures && d < config.retry_max; ++i) d *= 2;
      d = std::min(d, config.retry_max);
      if (*v.next_renewal < not_after) {
        EXPECT_GE(*v.next_renewal - at, d / 2) << "retry " << failures;
        EXPECT_LE(*v.next_renewal - at, d) << "retry " << failures;
      }
    } else {
      // Reached notAfter unrenewed: stopped, and still asking.
      EXPECT_EQ(at, not_after);
      expired = true;
    }
  }
  ASSERT_TRUE(expired);
  EXPECT_GE(failures, 6);  // 10 s doubling to the 300 s cap over >= 1250 s before expiry
  v = WaitForState(*m, "hello", "expired");
  EXPECT_FALSE(runner.Running("hello"));
  EXPECT_EQ(runner.events().back(), "stop hello");
  EXPECT_TRUE(Contains(v.last_error, "expired")) << v.last_error;
  ASSERT_TRUE(v.next_renewal);
  EXPECT_GT(*v.next_renewal, not_after);

  // The slsm is back: the next attempt succeeds and the service runs again.
  site_->SetRenewMode(FakeSite::RenewMode::kIssue);
  MoveTo(*m, *v.next_renewal);
  v = WaitForState(*m, "hello", "running");
  EXPECT_TRUE(runner.Running("hello"));
  EXPECT_EQ(runner.starts("hello").size(), 2u);
  ASSERT_TRUE(v.not_after);
  EXPECT_GT(*v.not_after, clock_.Now());
}

// A refusal by the slsm is a failed attempt like any other (retried, the service runs on).
TEST_F(NodeManagerTest, RefusedRenewalIsRetriedAndReported) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  const InstanceStatusView before = WaitForState(*m, "hello", "running");
  site_->SetRenewMode(FakeSite::RenewMode::kRefuse, PermissionDenied("revoked at the store"));
  const InstanceStatusView v = RenewOnce(*m, "hello");
  EXPECT_EQ(v.state, "running");
  EXPECT_TRUE(Contains(v.last_error, "revoked at the store")) << v.last_error;
  EXPECT_EQ(v.not_after, before.not_after);
  ASSERT_TRUE(v.next_renewal && v.not_after);
  EXPECT_LE(*v.next_renewal, *v.not_after);
}

// An answer that leaves an instance out is a failed attempt for it: retried with backoff, not
// asked again at once, over and over.
TEST_F(NodeManagerTest, RenewalAnswerWithoutTheInstanceIsRetriedWithBackoff) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  const InstanceStatusView before = WaitForState(*m, "hello", "running");
  site_->SetRenewMode(FakeSite::RenewMode::kNoAnswer);
  const size_t calls = site_->renew_calls().size();
  const InstanceStatusView v = RenewOnce(*m, "hello");
  EXPECT_EQ(site_->renew_calls().size(), calls + 1);
  EXPECT_EQ(v.state, "running");
  EXPECT_EQ(v.not_after, before.not_after);
  EXPECT_TRUE(Contains(v.last_error, "renewal failed")) << v.last_error;
}

// 4. renew-now: the renewal moves to a point within [now, now + window]; a new policy in the new
// Cert_site restarts the process with the new arguments.
TEST_F(NodeManagerTest, RenewNowRenewsWithinTheWindowAndANewPolicyRestarts) {
  site_->SetPolicy("hello", R"({"args":["--port","8080"]})");
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  WaitForState(*m, "hello", "running");
  clock_.Advance(Seconds(30));

  const std::string policy = R"({"args":["--port","9090"],"colour":"blue"})";
  site_->SetPolicy("hello", policy);
  Command c;
  c.kind = Command::Kind::kRenewNow;
  c.services = {"hello", "unknown"};
  c.window = Seconds(60);
  const TimePoint now = clock_.Now();
  site_->Push(c);
  InstanceStatusView v = WaitFor(*m, "hello", [&](const InstanceStatusView& i) {
    return i.next_renewal && *i.next_renewal <= now + Seconds(60);
  });
  ASSERT_TRUE(v.next_renewal);
  EXPECT_GE(*v.next_renewal, now);

  MoveTo(*m, *v.next_renewal);
  v = WaitFor(*m, "hello", [&](const InstanceStatusView& i) { return i.policy_json == policy; });
  EXPECT_EQ(v.state, "running");
  const auto starts = runner.starts("hello");
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[1].spec.args, (std::vector<std::string>{"--port", "9090"}));
  EXPECT_EQ(starts[1].fd_digest, hello_.header.digest);
  const auto events = runner.events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2], "stop hello");
  EXPECT_EQ(events.back(), "start hello");
  EXPECT_EQ(ReadFile(InstanceDir("hello") + "/policy.json"), policy + "\n");
  EXPECT_EQ(site_->renew_calls().back(), std::vector<std::string>{"hello"});
}

// 5. A renewed Cert_site that does not verify is never used: the old one stays on disk and in
// force, and the renewal is retried.
TEST_F(NodeManagerTest, RenewedCertSiteThatDoesNotVerifyIsNotUsed) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  const InstanceStatusView first = WaitForState(*m, "hello", "running");
  const std::string cert_file = InstanceDir("hello") + "/identity.pem";
  const std::string first_cert = ReadFile(cert_file);

  const std::vector<std::pair<FakeSite::RenewMode, std::string>> cases = {
      {FakeSite::RenewMode::kWrongNode, "WRONG_NODE"},
      {FakeSite::RenewMode::kWrongSite, "BAD_SIGNATURE"},
      {FakeSite::RenewMode::kOtherKey, "not for this instance's key"},
      {FakeSite::RenewMode::kBroken, "renewal failed"},
  };
  for (const auto& [mode, reason] : cases) {
    SCOPED_TRACE(reason);
    site_->SetRenewMode(mode);
    const size_t calls = site_->renew_calls().size();
    const InstanceStatusView v = RenewOnce(*m, "hello");
    EXPECT_EQ(site_->renew_calls().size(), calls + 1);
    EXPECT_EQ(v.state, "running");
    EXPECT_TRUE(Contains(v.last_error, reason)) << v.last_error;
    EXPECT_EQ(v.not_after, first.not_after);
    EXPECT_EQ(ReadFile(cert_file), first_cert);
    EXPECT_TRUE(runner.Running("hello"));
    EXPECT_EQ(runner.starts("hello").size(), 1u);
  }
  // A good one is taken.
  site_->SetRenewMode(FakeSite::RenewMode::kIssue);
  const InstanceStatusView v = RenewOnce(*m, "hello");
  EXPECT_GT(v.not_after, first.not_after);
  EXPECT_TRUE(v.last_error.empty()) << v.last_error;
  EXPECT_NE(ReadFile(cert_file), first_cert);
}

// 6. A stop command: the process is stopped, the instance forgotten on disk, the reason shown;
// it is not renewed any more.
TEST_F(NodeManagerTest, StopCommandStopsAndForgetsTheInstance) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  const InstanceStatusView running = WaitForState(*m, "hello", "running");
  ASSERT_TRUE(fs::exists(InstanceDir("hello")));

  Command c;
  c.kind = Command::Kind::kStop;
  c.services = {"hello"};
  c.reason = "undeployed by the operator";
  site_->Push(c);
  const InstanceStatusView v = WaitForState(*m, "hello", "stopped");
  EXPECT_EQ(v.last_error, "undeployed by the operator");
  EXPECT_FALSE(v.next_renewal);
  EXPECT_FALSE(runner.Running("hello"));
  EXPECT_EQ(runner.events().back(), "stop hello");
  EXPECT_FALSE(fs::exists(InstanceDir("hello")));

  // Long past its renewal and expiry: nothing is renewed for it. (The deploy of another service
  // in the same pass of the loop shows that the pass has run.)
  clock_.Set(*running.not_after + Seconds(10));
  m->Poke();
  Deploy("other");
  WaitForState(*m, "other", "running");
  for (const auto& call : site_->renew_calls()) {
    if (call != std::vector<std::string>{"hello"}) {
      EXPECT_EQ(call, std::vector<std::string>{"other"});
    }
  }
  EXPECT_EQ(site_->renew_calls().size(), 2u);
  EXPECT_EQ(runner.starts("hello").size(), 1u);
}

// 7. A restart relaunches what still verifies, without asking the slsm; a package changed on
// disk is refused with DIGEST_MISMATCH, and a fresh copy fetched at the next deploy runs.
TEST_F(NodeManagerTest, RestartRelaunchesWhatVerifiesAndRefusesATamperedPackage) {
  {
    FakeRunner runner;
    auto m = StartManager(runner);
    ASSERT_NE(m, nullptr);
    Deploy("hello");
    Deploy("other");
    WaitForState(*m, "hello", "running");
    WaitForState(*m, "other", "running");
    m->Shutdown(false);
  }
  const auto fetches = site_->fetches().size();
  const auto renewals = site_->renew_calls().size();
  {
    FakeRunner runner;  // the new daemon's supervisor runs nothing yet
    auto m = StartManager(runner);
    ASSERT_NE(m, nullptr);
    const NodeStatusView view = m->Snapshot();  // recovery happens in Start
    for (const auto& [service, p] : {std::pair{"hello", &hello_}, {"other", &other_}}) {
      const auto v = Find(view, service);
      ASSERT_TRUE(v) << service;
      EXPECT_EQ(v->state, "running") << service << ": " << v->last_error;
      const auto starts = runner.starts(service);
      ASSERT_EQ(starts.size(), 1u) << service;
      EXPECT_EQ(starts[0].fd_digest, p->header.digest);
    }
    EXPECT_EQ(site_->fetches().size(), fetches);
    EXPECT_EQ(site_->renew_calls().size(), renewals);
    m->Shutdown(false);
  }

  // Change one byte of hello's kept package (the store keeps packages read-only).
  const std::string path = PackagePath(hello_);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1000);
    char c = 0;
    f.get(c);
    f.seekp(1000);
    f.put(static_cast<char>(c ^ 0x01));
  }
  ASSERT_EQ(::chmod(path.c_str(), 0555), 0);

  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  const NodeStatusView view = m->Snapshot();
  const auto hello = Find(view, "hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->state, "refused");
  EXPECT_TRUE(Contains(hello->last_error, "DIGEST_MISMATCH")) << hello->last_error;
  EXPECT_FALSE(hello->next_renewal);
  EXPECT_TRUE(runner.starts("hello").empty());
  EXPECT_FALSE(runner.Running("hello"));
  const auto other = Find(view, "other");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->state, "running") << other->last_error;

  // The slsm deploys it again: a fresh copy is fetched, verified and run; what went wrong stays
  // in the status.
  Deploy("hello");
  const InstanceStatusView v = WaitForState(*m, "hello", "running");
  EXPECT_TRUE(Contains(v.last_error, "DIGEST_MISMATCH")) << v.last_error;
  const auto starts = runner.starts("hello");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].fd_digest, hello_.header.digest);
  EXPECT_EQ(site_->fetches().size(), fetches + 1);
}

// 8. A policy the node cannot honour is refused with a clear status and never started — at the
// deploy, and when a renewal brings it to a running service.
TEST_F(NodeManagerTest, PolicyTheNodeCannotHonourIsRefused) {
  site_->SetPolicy("hello", R"({"env":{"LD_PRELOAD":"/tmp/evil.so"}})");
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  const InstanceStatusView v = WaitForState(*m, "hello", "refused");
  EXPECT_TRUE(Contains(v.last_error, "cannot be honoured")) << v.last_error;
  EXPECT_TRUE(Contains(v.last_error, "LD_PRELOAD")) << v.last_error;
  EXPECT_TRUE(runner.starts("hello").empty());
  EXPECT_FALSE(runner.Running("hello"));
  // Nothing is planned for it (it waits for a deploy), and renew-now does not change that: a
  // renewal planned for an instance that never renews would keep the loop awake once due.
  EXPECT_FALSE(v.next_renewal);
  Command renew_now;
  renew_now.kind = Command::Kind::kRenewNow;
  renew_now.services = {"hello"};
  site_->Push(renew_now);

  Deploy("other");  // handled after the renew-now
  WaitForState(*m, "other", "running");
  EXPECT_FALSE(Find(m->Snapshot(), "hello")->next_renewal);
  EXPECT_EQ(site_->renew_calls().size(), 2u);
  site_->SetPolicy("other", R"({"restart":"sometimes"})");
  Command c;
  c.kind = Command::Kind::kRenewNow;
  c.services = {"other"};
  site_->Push(c);  // window 0: renewed in the same pass of the loop
  const InstanceStatusView o = WaitForState(*m, "other", "refused");
  EXPECT_TRUE(Contains(o.last_error, "restart")) << o.last_error;
  EXPECT_FALSE(o.next_renewal);
  EXPECT_FALSE(runner.Running("other"));
  EXPECT_EQ(runner.starts("other").size(), 1u);
}

// 8a. The node does not take the slsm's check of the policy's env for granted (issue 17, point
// 8): a site that lets NODE_OPTIONS or PYTHONPATH through still gets the instance refused.
TEST_F(NodeManagerTest, PolicyThatLoadsCodeAroundTheExecutableIsRefusedByTheNode) {
  site_->SetPolicy("hello", R"({"env":{"NODE_OPTIONS":"--require /tmp/x.js"}})");
  site_->SetPolicy("other", R"({"env":{"PYTHONPATH":"/tmp"}})");
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Deploy("hello");
  Deploy("other");
  for (const auto& [service, name] :
       {std::pair{"hello", "NODE_OPTIONS"}, {"other", "PYTHONPATH"}}) {
    const InstanceStatusView v = WaitForState(*m, service, "refused");
    EXPECT_TRUE(Contains(v.last_error, "cannot be honoured")) << v.last_error;
    EXPECT_TRUE(Contains(v.last_error, name)) << v.last_error;
    EXPECT_TRUE(runner.starts(service).empty());
  }
}

// 8b. Rule 7 on the node (issue 17, point 4): the highest release counter per name comes from
// the verified certificates only, and survives failed deploys, undeploys and restarts.

// The package header's counter is the slsm's word, not the developer's: a header that says 99
// does not block release 2, and one that says 0 does not turn the check off.
TEST_F(NodeManagerTest, RollbackCounterComesFromTheCertificatesNotTheHeader) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  Package r1 = HelloRelease(1);
  r1.header.release_counter = 99;
  InstanceStatusView v = DeployAndWait(*m, "hello", r1);
  EXPECT_EQ(v.state, "running") << v.last_error;
  EXPECT_EQ(v.release, "hello 1.0.1 (release 1)");  // what the certificates say

  Package r2 = HelloRelease(2);
  r2.header.release_counter = 0;
  v = DeployAndWait(*m, "hello", r2);
  EXPECT_EQ(v.state, "running") << v.last_error;
  EXPECT_EQ(v.release, "hello 1.0.2 (release 2)");

  v = DeployAndWait(*m, "hello", HelloRelease(1));
  ExpectRollbackRefused(v, "has counter 1, lower than the 2 already accepted");
  EXPECT_EQ(runner.starts("hello").size(), 2u);  // 1, then 2; never 1 again
}

// A deploy of a newer release that fails (the slsm refuses its Cert_site) replaces the running
// instance with a refused one: the counter of the release that ran must not go with it.
TEST_F(NodeManagerTest, RollbackCounterSurvivesAFailedDeployOfANewerRelease) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(DeployAndWait(*m, "hello", HelloRelease(2)).state, "running");

  site_->SetRenewMode(FakeSite::RenewMode::kRefuse, PermissionDenied("revoked at the store"));
  DeployPackage("hello", HelloRelease(3));
  // (Nothing of release 3 was adopted: the refused instance has no digest.)
  InstanceStatusView v = WaitFor(*m, "hello", [](const InstanceStatusView& i) {
    return i.state == "refused" && Contains(i.last_error, "revoked at the store");
  });
  EXPECT_EQ(v.release, "");

  site_->SetRenewMode(FakeSite::RenewMode::kIssue);
  v = DeployAndWait(*m, "hello", HelloRelease(1));
  ExpectRollbackRefused(v, "has counter 1, lower than the 2 already accepted");
  EXPECT_EQ(runner.starts("hello").size(), 1u);
}

// Undeployed, then the older release deployed again: refused, by the same manager and by a new
// one on the same directory (an nlsm restart), whose instance directory is gone.
TEST_F(NodeManagerTest, RollbackCounterSurvivesUndeployAndRestart) {
  {
    FakeRunner runner;
    auto m = StartManager(runner);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(DeployAndWait(*m, "hello", HelloRelease(2)).state, "running");
    Command stop;
    stop.kind = Command::Kind::kStop;
    stop.services = {"hello"};
    stop.reason = "undeployed by the operator";
    site_->Push(stop);
    WaitForState(*m, "hello", "stopped");
    ASSERT_FALSE(fs::exists(InstanceDir("hello")));
    ExpectRollbackRefused(DeployAndWait(*m, "hello", HelloRelease(1)),
                          "lower than the 2 already accepted");
    // Undeployed again, so that nothing of the service is left on disk for the restart.
    site_->Push(stop);
    WaitFor(*m, "hello", [](const InstanceStatusView& v) {
      return v.state == "stopped" && v.last_error == "undeployed by the operator";
    });
    m->Shutdown(false);
  }
  ASSERT_FALSE(fs::exists(InstanceDir("hello")));
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(Find(m->Snapshot(), "hello"));  // nothing of it was recovered
  ExpectRollbackRefused(DeployAndWait(*m, "hello", HelloRelease(1)),
                        "lower than the 2 already accepted");
  EXPECT_TRUE(runner.starts("hello").empty());
  // The release it ran, and newer ones, still run.
  EXPECT_EQ(DeployAndWait(*m, "hello", HelloRelease(2)).state, "running");
  EXPECT_EQ(DeployAndWait(*m, "hello", HelloRelease(3)).state, "running");
}

// Counter 0 is a release like any other: once 0 ran, 0 is accepted again, and 0 after 1 is
// refused; the counter of a name is kept apart from other names; and a header's counter of 0
// does not switch the check off.
TEST_F(NodeManagerTest, RollbackCounterZeroIsARecordedRelease) {
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(DeployAndWait(*m, "hello", HelloRelease(0)).state, "running");
  EXPECT_EQ(DeployAndWait(*m, "hello", HelloRelease(0)).state, "running");
  EXPECT_EQ(DeployAndWait(*m, "hello", HelloRelease(1)).state, "running");
  ExpectRollbackRefused(DeployAndWait(*m, "hello", HelloRelease(0)),
                        "has counter 0, lower than the 1 already accepted");
  Deploy("other");  // name "other", counter 3: its own
  WaitForState(*m, "other", "running");

  // A header that says 0 for release 2 does not turn the check off for what follows.
  Package r2 = HelloRelease(2);
  r2.header.release_counter = 0;
  EXPECT_EQ(DeployAndWait(*m, "hello", r2).state, "running");
  ExpectRollbackRefused(DeployAndWait(*m, "hello", HelloRelease(1)),
                        "has counter 1, lower than the 2 already accepted");
}

// An instance kept on disk whose release is below the highest the node accepted since (a newer
// release verified, but could not be kept) is not relaunched at a restart.
TEST_F(NodeManagerTest, RestartDoesNotRelaunchAKeptReleaseBelowTheCounter) {
  {
    FakeRunner runner;
    auto m = StartManager(runner);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(DeployAndWait(*m, "hello", HelloRelease(1)).state, "running");
    m->Shutdown(false);
  }
  // Another node manager on the same directory accepted release 2 of "hello" for another
  // service slot, so the name's counter is 2 while hello's directory still holds release 1.
  {
    FakeRunner runner;
    auto m = StartManager(runner);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(DeployAndWait(*m, "hello-2", HelloRelease(2)).state, "running");
    m->Shutdown(false);
  }
  FakeRunner runner;
  auto m = StartManager(runner);
  ASSERT_NE(m, nullptr);
  const auto v = Find(m->Snapshot(), "hello");
  ASSERT_TRUE(v);
  ExpectRollbackRefused(*v, "lower than the 2 already accepted");
  EXPECT_TRUE(runner.starts("hello").empty());
  EXPECT_EQ(Find(m->Snapshot(), "hello-2")->state, "running");
}

// 9. Rotation stress (issue 15, point 4). The node manager's real renewal path replaces the
// identity files of two services (a fresh key each time) over a thousand times, while in this
// process a real gRPC server ("collector") and client ("sensor") use those very files through
// the service-identity helper, and two readers check every identity file they read:
//   - calls go on without a single failure, on a long-lived channel and on fresh channels (each
//     a new handshake, with whatever certificate gRPC has picked up by then), and no handshake is
//     refused by either side;
//   - one read of identity.pem never gives a key that is not the certificate's key;
//   - a reader that reads the file twice as gRPC 1.51's file watcher does (key, then
//     certificate, accepted when the whole-second mtimes before and after are equal) never
//     accepts a torn pair: what the strictly later mtime of every replacement guarantees.
// Progress is interleaved by conditions, not by time: every kStride renewals the main thread
// waits until the caller has made another fresh-channel call and each reader has read both
// files again, so the counts asserted below do not depend on how fast the machine is. How often
// a replacement lands between a reader's two reads does (the "dropped" figure): it is printed,
// not asserted. Breaking the product shows what each check catches (measured on 2 cores):
//   - the new certificate written first with the old key, then the right pair: both readers
//     report mismatches (one read: 100-170 per run, the mtime reader: 3-30); no call failed
//     (each gRPC provider reads the file once a second);
//   - replacements without the later mtime: the mtime reader accepts torn pairs (~300 per run;
//     ~10 without the yield between its reads); no call failed.

// Answers with what the handshake established about the caller: its SPIFFE ID and certificate.
class WhoAmI final : public v1::Site::Service {
 public:
  grpc::Status GetSiteRoot(grpc::ServerContext* context, const v1::GetSiteRootRequest*,
                           v1::GetSiteRootResponse* response) override {
    response->set_site(service_identity::ServiceIdentity::PeerId(*context).value_or(""));
    const auto pem = context->auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pem.empty()) response->set_site_root_der(std::string(pem[0].data(), pem[0].size()));
    return grpc::Status::OK;
  }
};

// The first lines the helper logs (refusals, trust reloads), for failure messages.
class BoundedLog {
 public:
  std::function<void(const std::string&)> Sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mu_);
      if (lines_ < 20) text_ += line + "\n";
      ++lines_;
    };
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;  // guarded by mu_
  int lines_ = 0;     // guarded by mu_
};

// Whether `key_pem` is the private key of the leaf of `chain_pem`, as a service using the pair
// needs: an empty `problem` if so. `serial` is the leaf's, when it decodes.
struct PairCheck {
  std::string serial;
  std::string problem;
};
PairCheck CheckPair(const std::string& key_pem, const std::string& chain_pem) {
  auto key = pki::PrivateKey::FromPem(key_pem, std::nullopt);
  auto cert = pki::Certificate::FromPem(chain_pem);
  if (!cert.ok()) return {"", "the certificate does not decode: " + cert.status().ToString()};
  if (!key.ok()) return {cert->SerialHex(), "the key does not decode: " + key.status().ToString()};
  if (key->PublicKeyDer() != cert->PublicKeyDer()) {
    return {cert->SerialHex(), "the key is not the key of certificate " + cert->SerialHex()};
  }
  return {cert->SerialHex(), ""};
}

// What one reader thread saw. `progress` is read by the main thread while the reader runs; the
// rest only after the reader has been joined.
struct ReaderCounts {
  std::atomic<uint64_t> progress{0};  // identity files checked
  uint64_t attempts = 0;              // mtime reader: double reads made
  uint64_t skipped = 0;               // mtime reader: dropped because the mtime moved
  uint64_t torn = 0;                  // mtime reader: accepted, yet the two reads differ
  uint64_t mismatches = 0;            // checked pairs whose key is not the certificate's
  std::set<std::string> serials;      // of every certificate checked
  std::vector<std::string> problems;  // the first few distinct ones, for the failure message

  void Note(const std::string& path, const std::string& problem) {
    const std::string line = path + ": " + problem;
    if (problems.size() < 5 && (problems.empty() || problems.back() != line)) {
      problems.push_back(line);
    }
  }
  void Check(const std::string& path, const std::string& key_pem, const std::string& chain_pem) {
    const PairCheck check = CheckPair(key_pem, chain_pem);
    if (!check.serial.empty()) serials.insert(check.serial);
    if (!check.problem.empty()) {
      ++mismatches;
      Note(path, check.problem);
    }
    progress.fetch_add(1);
  }
};

// What the caller thread saw. `calls` and `fresh` are read by the main thread while the caller
// runs; the rest only after it has been joined.
struct CallerCounts {
  std::atomic<uint64_t> calls{0};  // completed, successful or not
  std::atomic<uint64_t> fresh{0};  // of which on a fresh channel (a new handshake)
  uint64_t failed = 0;
  std::vector<std::string> failures;                 // the first few
  std::set<std::string> client_certs, server_certs;  // PEM presented in the handshakes seen

  void Fail(const std::string& what) {
    ++failed;
    if (failures.size() < 5) failures.push_back(what);
  }
};

// A fresh directory on tmpfs (/dev/shm) when there is one, else under $TMPDIR (or /tmp);
// removed with everything in it on destruction. As in the load test: a renewal writes ~8 files,
// each with an fsync, which on a shared disk would make a thousand renewals a test of the disk.
// What the readers rely on (rename replaces the file as a whole; mtimes) is the same on tmpfs.
class FastTempDir final {
 public:
  FastTempDir() {
    const char* tmp = std::getenv("TMPDIR");
    const std::string base = fs::is_directory("/dev/shm")     ? "/dev/shm"
                             : tmp != nullptr && *tmp != '\0' ? tmp
                                                              : "/tmp";
    std::string tmpl = base + "/sitechain-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~FastTempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  FastTempDir(const FastTempDir&) = delete;
  FastTempDir& operator=(const FastTempDir&) = delete;

  const std::string& path() const { return path_; }  // empty if it could not be made

 private:
  std::string path_;
};

TEST_F(NodeManagerTest, RotationStressThousandRenewalsUnderLoadFailNoCallAndTearNoIdentity) {
  constexpr int kRenewals = 1000;  // at least, over both services
  constexpr int kStride = 10;      // renewals between two waits for the other threads
  constexpr int kFreshEvery = 4;   // one call in kFreshEvery on a fresh channel
  const auto started = std::chrono::steady_clock::now();

  // Each renews 5 to 6 s (of the manual clock) after its issue: 1000 renewals take ~2800 s, less
  // than one lifetime (5000 s), so no certificate issued during the test, however stale the one
  // gRPC presents, expires at the manual clock, at which the helper checks its peers.
  site_->SetWindow(0.001, 0.0012);
  const std::map<std::string, std::string> peer_of = {{"collector", "sensor"},
                                                      {"sensor", "collector"}};
  for (const auto& [service, peer] : peer_of) {
    site_->AddPackage(service, hello_);
    site_->SetPolicy(service, R"({"peers":["spiffe://site-a/node/*/svc/)" + peer + R"("]})");
  }
  FastTempDir node_dir;
  ASSERT_FALSE(node_dir.path().empty()) << "cannot make a temporary directory";
  const auto instance_dir = [&](const std::string& service) {
    return node_dir.path() + "/instances/" + service;
  };
  FakeRunner runner;
  auto m = std::make_unique<NodeManager>(node_dir.path(), Files(), *site_, runner, clock_,
                                         manager_rng_, Options());
  const Status start = m->Start();
  ASSERT_TRUE(start.ok()) << start.ToString();
  std::map<std::string, TimePoint> not_after;
  for (const auto& [service, peer] : peer_of) Deploy(service);
  for (const auto& [service, peer] : peer_of) {
    const InstanceStatusView v = WaitForState(*m, service, "running");
    ASSERT_TRUE(v.not_after && v.next_renewal);
    not_after[service] = *v.not_after;
  }
  const TimePoint clock_start = clock_.Now();
  const std::string collector_file = instance_dir("collector") + "/identity.pem";
  const std::string sensor_file = instance_dir("sensor") + "/identity.pem";

  // The two services as they would run on the node: the files the node manager gives them.
  BoundedLog collector_log, sensor_log;
  const auto load = [&](const std::string& service, BoundedLog& log) {
    const std::string dir = instance_dir(service);
    service_identity::Options options;
    options.files = {dir + "/identity.pem", dir + "/bundle.pem", dir + "/federation.pem",
                     dir + "/policy.json", pki::ServiceSpiffeId(kSite, kNode, service)};
    options.log = log.Sink();
    options.clock = &clock_;
    options.refresh_seconds = 1;
    auto identity = service_identity::ServiceIdentity::Load(options);
    EXPECT_TRUE(identity.ok()) << service << ": " << identity.status().ToString();
    return identity.ok() ? *identity : nullptr;
  };
  auto collector = load("collector", collector_log);
  auto sensor = load("sensor", sensor_log);
  ASSERT_TRUE(collector && sensor);
  WhoAmI who_am_i;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", collector->ServerCredentials(), &port);
  builder.RegisterService(&who_am_i);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  const std::string target = "127.0.0.1:" + std::to_string(port);
  const std::shared_ptr<grpc::ChannelCredentials> credentials = sensor->ChannelCredentials();
  const std::string sensor_id = pki::ServiceSpiffeId(kSite, kNode, "sensor");

  // One call; on a fresh channel (its own subchannel pool: a new connection and handshake)
  // unless `kept` is given.
  CallerCounts caller_counts;
  const auto call = [&](v1::Site::Stub* kept) {
    std::unique_ptr<v1::Site::Stub> fresh;
    if (kept == nullptr) {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      fresh = v1::Site::NewStub(grpc::CreateCustomChannel(target, credentials, args));
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetSiteRootResponse response;
    const grpc::Status s =
        (kept != nullptr ? kept : fresh.get())->GetSiteRoot(&context, {}, &response);
    const char* channel = kept != nullptr ? "long-lived channel" : "fresh channel";
    if (!s.ok()) {
      caller_counts.Fail(std::string(channel) + ": status " + std::to_string(s.error_code()) + " " +
                         s.error_message());
    } else if (response.site() != sensor_id) {
      caller_counts.Fail(std::string(channel) + ": the collector saw the caller as '" +
                         response.site() + "'");
    }
    if (s.ok()) {
      caller_counts.client_certs.insert(response.site_root_der());
      const auto server_pem =
          context.auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
      if (!server_pem.empty()) {
        caller_counts.server_certs.insert(std::string(server_pem[0].data(), server_pem[0].size()));
      }
    }
    if (kept == nullptr) caller_counts.fresh.fetch_add(1);
    caller_counts.calls.fetch_add(1);
  };

  // The checks need the threads gone: jthreads, declared last, are stopped and joined first,
  // also when an ASSERT returns early.
  ReaderCounts one_read, two_reads;
  std::jthread caller([&](std::stop_token stop) {
    auto kept = v1::Site::NewStub(grpc::CreateChannel(target, credentials));
    for (uint64_t n = 0; !stop.stop_requested(); ++n) {
      call(n % kFreshEvery == 0 ? nullptr : kept.get());
    }
  });
  // A service that reads its identity file once per use.
  std::jthread reader([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      for (const std::string& path : {collector_file, sensor_file}) {
        auto pem = ReadIdentityFile(path);
        if (!pem.ok()) {
          ++one_read.mismatches;
          one_read.Note(path, pem.status().ToString());
          one_read.progress.fetch_add(1);
          continue;
        }
        one_read.Check(path, pem->key_pem, pem->chain_pem);
      }
    }
  });
  // gRPC 1.51's FileWatcherCertificateProvider: mtime, the file read as the key, read again as
  // the certificate, mtime again; the pair is used only when the two mtimes (whole seconds) are
  // equal.
  std::jthread watcher([&](std::stop_token stop) {
    const auto mtime = [](const std::string& path) -> time_t {
      struct stat st {};
      return ::stat(path.c_str(), &st) == 0 ? st.st_mtime : -1;
    };
    while (!stop.stop_requested()) {
      for (const std::string& path : {collector_file, sensor_file}) {
        ++two_reads.attempts;
        const time_t before = mtime(path);
        auto as_key = ReadSmallFile(path, 64 << 10);
        std::this_thread::yield();  // a watcher may lose its core between the two reads
        auto as_cert = ReadSmallFile(path, 64 << 10);
        const time_t after = mtime(path);
        if (before != after || before == -1) {
          ++two_reads.skipped;
          continue;
        }
        if (!as_key.ok() || !as_cert.ok()) {
          ++two_reads.mismatches;
          two_reads.Note(path, (as_key.ok() ? as_cert : as_key).status().ToString());
          two_reads.progress.fetch_add(1);
          continue;
        }
        if (*as_key != *as_cert) ++two_reads.torn;
        auto key = ParseIdentityPem(*as_key);
        auto cert = ParseIdentityPem(*as_cert);
        if (!key.ok() || !cert.ok()) {
          ++two_reads.mismatches;
          two_reads.Note(path, (key.ok() ? cert : key).status().ToString());
          two_reads.progress.fetch_add(1);
          continue;
        }
        two_reads.Check(path, key->key_pem, cert->chain_pem);
      }
    }
  });
  // Until each thread has done `more` units of work after this call (both files for a reader).
  const auto let_others_work = [&](uint64_t more) {
    const uint64_t fresh = caller_counts.fresh.load(), read = one_read.progress.load(),
                   read_twice = two_reads.progress.load();
    EXPECT_TRUE(sitechain::nlsm::WaitFor([&] {
      return caller_counts.fresh.load() >= fresh + 1 && one_read.progress.load() >= read + more &&
             two_reads.progress.load() >= read_twice + more;
    })) << "the caller or a reader made no progress in "
        << kDeadline.count() << " ms";
  };
  let_others_work(2);  // each has seen the first identities

  // Renew whichever is due first, so that neither certificate ever goes past its renewal.
  int renewals = 0;
  int next_wait = kStride;  // the next multiple of kStride
  std::map<std::string, int> renewals_of;
  while (renewals < kRenewals) {
    const NodeStatusView view = m->Snapshot();
    std::string due;
    TimePoint due_at = TimePoint::max();
    for (const auto& [service, peer] : peer_of) {
      const auto v = Find(view, service);
      ASSERT_TRUE(v && v->next_renewal) << service << " has no renewal planned";
      if (*v->next_renewal < due_at) {
        due = service;
        due_at = *v->next_renewal;
      }
    }
    const InstanceStatusView renewed = RenewOnce(*m, due);
    ASSERT_EQ(renewed.state, "running") << renewed.last_error;
    ASSERT_EQ(renewed.last_error, "");
    // Both may have renewed in one call (due within the batch interval).
    const NodeStatusView after = m->Snapshot();
    for (const auto& [service, peer] : peer_of) {
      const auto v = Find(after, service);
      ASSERT_TRUE(v && v->not_after);
      if (*v->not_after > not_after[service]) {
        not_after[service] = *v->not_after;
        ++renewals;
        ++renewals_of[service];
      }
    }
    if (renewals >= next_wait) {
      let_others_work(2);
      next_wait = (renewals / kStride + 1) * kStride;
    }
  }
  let_others_work(2);  // each has seen the last identities
  const Seconds manual_time = std::chrono::duration_cast<Seconds>(clock_.Now() - clock_start);
  caller.request_stop();
  reader.request_stop();
  watcher.request_stop();
  caller.join();
  reader.join();
  watcher.join();

  // New handshakes present the last certificates, once gRPC has re-read the files.
  const OnDiskIdentity last_collector = IdentityOf(instance_dir("collector"));
  const OnDiskIdentity last_sensor = IdentityOf(instance_dir("sensor"));
  ASSERT_TRUE(last_collector.cert_site && last_sensor.cert_site);
  const auto presents_last = [&] {
    call(nullptr);
    return caller_counts.client_certs.count(last_sensor.cert_site->ToPem()) != 0 &&
           caller_counts.server_certs.count(last_collector.cert_site->ToPem()) != 0;
  };
  EXPECT_TRUE(sitechain::nlsm::WaitFor(presents_last, milliseconds(30000)))
      << "the last renewed certificates were never presented in a handshake";
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::cout << "[figure] rotation stress: " << renewals << " renewals (collector "
            << renewals_of["collector"] << ", sensor " << renewals_of["sensor"] << ") over "
            << manual_time.count() << " s of the manual clock, in " << elapsed << " s\n"
            << "[figure] rotation stress: " << caller_counts.calls.load() << " calls ("
            << caller_counts.fresh.load() << " on fresh channels), " << caller_counts.failed
            << " failed; handshakes checked by the collector " << collector->accepted()
            << " (refused " << collector->refused() << "), by the sensor " << sensor->accepted()
            << " (refused " << sensor->refused() << "); distinct certificates presented: sensor "
            << caller_counts.client_certs.size() << ", collector "
            << caller_counts.server_certs.size() << "\n"
            << "[figure] rotation stress: one-read reader " << one_read.progress.load()
            << " identity files read, " << one_read.serials.size() << " distinct serials, "
            << one_read.mismatches << " mismatched\n"
            << "[figure] rotation stress: mtime reader " << two_reads.attempts << " double reads, "
            << two_reads.skipped << " dropped (mtime moved), " << two_reads.progress
            << " accepted, " << two_reads.torn << " torn, " << two_reads.mismatches
            << " mismatched, " << two_reads.serials.size() << " distinct serials\n";

  const auto listed = [](const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "\n  " + l;
    return out;
  };
  EXPECT_GE(renewals, kRenewals);
  EXPECT_GE(renewals_of["collector"], kRenewals / 4);
  EXPECT_GE(renewals_of["sensor"], kRenewals / 4);
  // The premise of "no failure": nothing issued in the test lapsed at the manual clock.
  EXPECT_LT(manual_time.count(), kLifetime.count());
  EXPECT_EQ(caller_counts.failed, 0u) << listed(caller_counts.failures) << "\ncollector:\n"
                                      << collector_log.text() << "sensor:\n"
                                      << sensor_log.text();
  EXPECT_EQ(collector->refused(), 0u) << collector_log.text();
  EXPECT_EQ(sensor->refused(), 0u) << sensor_log.text();
  EXPECT_GT(caller_counts.calls.load(), caller_counts.fresh.load());
  EXPECT_GE(caller_counts.fresh.load(), static_cast<uint64_t>(kRenewals / kStride));
  EXPECT_GE(collector->accepted(), caller_counts.fresh.load());  // one per fresh channel
  EXPECT_GE(caller_counts.client_certs.size(), 2u);
  EXPECT_GE(caller_counts.server_certs.size(), 2u);
  EXPECT_EQ(one_read.mismatches, 0u) << listed(one_read.problems);
  EXPECT_GT(one_read.progress.load(), 0u);
  EXPECT_GE(one_read.serials.size(), 4u);  // the first and the last of each file
  EXPECT_EQ(two_reads.torn, 0u) << "pairs the watcher would have used from two different files";
  EXPECT_EQ(two_reads.mismatches, 0u) << listed(two_reads.problems);
  EXPECT_GT(two_reads.progress.load(), 0u);
  EXPECT_GE(two_reads.serials.size(), 4u);
  EXPECT_EQ(runner.starts("collector").size(), 1u);  // renewed in place, never restarted
  EXPECT_EQ(runner.starts("sensor").size(), 1u);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace
}  // namespace sitechain::nlsm
