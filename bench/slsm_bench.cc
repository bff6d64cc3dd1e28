// slsm_bench: how fast a site manager issues Cert_site, in-process and over mutual TLS, beside
// the raw signing rate of the site key measured in the same run.
//
//   BM_RawSign/<key>         pki::SignMessage over 300 bytes with the site CA's own key (loaded
//                            from root.key): the signing limit of issuance.
//   BM_RawVerify/<key>       one Cert_site signature check with the site root's already-parsed
//                            key: what the CA's self-check of each certificate costs at least.
//   BM_CaIssueCertSite/<key> slca::SiteCa::IssueCertSite (pki::BuildCertSite): one signature,
//                            the builder's check of what it signed, and the DER work around them.
//   BM_SqliteCommit          one transaction of a row like the issuance log's (INSERT plus
//                            UPDATE) in a fresh database opened as the slsm opens its own (WAL,
//                            synchronous=FULL), in the same temporary directory: the disk's
//                            limit of issuance, which commits one transaction per certificate.
//   BM_Issue/<key>           SiteService::Renew for one instance, in-process: the instance and
//                            release lookups (SQLite), the CSR's parse and signature check, the
//                            rate limiter, IssueCertSite and the issuance log, one committed
//                            SQLite transaction (WAL, synchronous=FULL: an fsync).
//   BM_RenewTls/<key>/threads:N  nlsm::GrpcSiteClient::Renew for one instance over mutual TLS
//                            to an SlsmServer in this process, N clients at once, each a node of
//                            its own with its own kept channel (N = 1, 8, 64).
//
// <key> is the site key type: ed25519 (the default of `slsm init`) and rsa-2048 (the paper's).
// Node and instance keys are Ed25519 whatever the site key.
//
// In-process, everything is deterministic: fixed seeds and a ManualClock at 2026-01-01. Over TLS
// the clock is the system's (the TLS handshakes check certificates against the real time): a
// store (store::StoreServer) and a site manager (slsm::SlsmServer) run in this process on
// 127.0.0.1 with port 0 (testutil::InProcessWorld, tests/support/in_process), the release is
// published with devkit and installed over the admin socket, and the nodes enroll with
// nlsm::Enroll (join tokens from the admin socket). Each site is made on first use, outside the
// timed loops, in a temporary directory removed at exit. The rate
// limiter is opened wide (SiteOptions::max_issuance_per_second and issuance_burst) so that it
// never refuses: the benchmarks time issuance, not the limit.
//
// Times are wall-clock (real_time): issuance waits for the disk and the TLS benchmarks spread the
// work over client and server threads. The CPU column is the whole process's (process_time), so
// CPU / wall in the summary counts how many cores were busy. The summary divides each rate by
// BM_RawSign's of the same key type.

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bench_main.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/random.h"
#include "common/result.h"
#include "common/status.h"
#include "devkit/store_commands.h"
#include "nlsm/grpc_site_client.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "pki/verifier.h"
#include "slca/site_ca.h"
#include "slsm/server.h"
#include "slsm/site_db.h"
#include "slsm/site_service.h"
#include "storage/blob_store.h"
#include "storage/sqlite.h"
#include "tests/support/in_process/in_process_world.h"

namespace sitechain::slsm {
namespace {

// 2026-01-01T00:00:00Z: the in-process site issues everything at this instant.
constexpr TimePoint kBenchTime{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}};
constexpr uint64_t kSeed = 0x5157'b3c0'0000'0001;
constexpr size_t kMessageBytes = 300;
constexpr size_t kExecutableBytes = size_t{64} << 10;

constexpr pki::KeyType kKeyTypes[] = {pki::KeyType::kEd25519, pki::KeyType::kRsa2048};
constexpr int kClientCounts[] = {1, 8, 64};
constexpr int kMaxClients = 64;

constexpr std::string_view kSite = "bench-site";
constexpr std::string_view kService = "bench-svc";
constexpr std::string_view kVersion = "1.0.0";
constexpr std::string_view kDeveloperName = "bench-developer";
constexpr std::string_view kInProcessNode = "node-1";

// The default options with the issuance rate limit opened wide: the benchmarks time issuance.
SiteOptions UnlimitedIssuance() {
  SiteOptions options;
  options.max_issuance_per_second = 1e12;
  options.issuance_burst = 1e12;
  return options;
}

std::string NodeName(int i) { return "node-" + std::to_string(i + 1); }

std::string SeededBytes(size_t size, uint64_t seed) {
  std::string bytes(size, '\0');
  SeededRandom(seed).Fill(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
  return bytes;
}

// A renewal request for a fresh Ed25519 instance key of `service` (the CSR's common name), as
// nlsm makes one; the public key goes to *public_key if given.
Result<RenewalRequest> InstanceRequest(const std::string& service, Random& rng,
                                       std::vector<uint8_t>* public_key) {
  const pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  SITECHAIN_ASSIGN_OR_RETURN(pki::CertificateRequest csr,
                             pki::CertificateRequest::Create(key, service, rng));
  if (public_key != nullptr) *public_key = key.PublicKeyDer();
  return RenewalRequest{service, csr.ToDer()};
}

// --- in-process ------------------------------------------------------------------------------

// The store as an in-process site sees it: one release, made the way devkit and the store make
// them, streamed in 64 KiB pieces. Thread-safe (immutable).
class OneReleaseSource final : public ReleaseSource {
 public:
  OneReleaseSource(ReleaseHeader header, std::string executable)
      : header_(std::move(header)), executable_(std::move(executable)) {}

  Status Download(const std::string& name, const std::string& version,
                  const std::function<Status(const ReleaseHeader&)>& on_header,
                  const std::function<Status(std::span<const uint8_t>)>& on_chunk) override {
    if (name != header_.name || (!version.empty() && version != header_.version)) {
      return NotFound("the bench store has no release " + name + " " + version);
    }
    SITECHAIN_RETURN_IF_ERROR(on_header(header_));
    const auto* data = reinterpret_cast<const uint8_t*>(executable_.data());
    constexpr size_t kChunk = size_t{64} << 10;
    for (size_t off = 0; off < executable_.size(); off += kChunk) {
      SITECHAIN_RETURN_IF_ERROR(on_chunk({data + off, std::min(kChunk, executable_.size() - off)}));
    }
    return Status::Ok();
  }

 private:
  const ReleaseHeader header_;
  const std::string executable_;
};

// No node is connected in-process: commands are dropped, as NodeHub drops them for a node that
// is not connected.
class DroppingNotifier final : public NodeNotifier {
 public:
  void Deploy(const std::string&, const std::string&, const std::string&) override {}
  void Stop(const std::string&, const std::string&, const std::string&) override {}
  void RenewNow(const std::string&, const std::vector<std::string>&, Seconds, TimePoint) override {}
  void Disconnect(const std::string&, const Status&) override {}
};

// A site manager without gRPC for one site key type: a real SiteCa, SQLite database and package
// directory in a temporary directory, with the release installed, one node enrolled and the
// service deployed to it. Also a second handle on the same CA and its key file, for the CA-only
// and raw benchmarks. Not thread-safe: the in-process benchmarks run on the main thread.
class InProcessSite final {
 public:
  InProcessSite(const InProcessSite&) = delete;
  InProcessSite& operator=(const InProcessSite&) = delete;
  ~InProcessSite() { service_.reset(); }  // before the source and notifier it refers to

  static Result<std::unique_ptr<InProcessSite>> Create(pki::KeyType type);

  SiteService& service() { return *service_; }
  const NodeRecord& node() const { return node_; }
  const RenewalRequest& request() const { return request_; }
  const slca::SiteCa& ca() const { return *ca_; }
  const pki::PrivateKey& site_key() const { return *site_key_; }
  const pki::Certificate& cert_store() const { return *cert_store_; }
  const pki::SiteBinding& binding() const { return binding_; }
  const pki::Certificate& cert_site() const { return *cert_site_; }
  const std::string& message() const { return message_; }
  pki::BuildContext context() { return {clock_, rng_}; }
  Random& rng() { return rng_; }

 private:
  InProcessSite(std::unique_ptr<testutil::ScratchDir> dir, pki::KeyType type)
      : dir_(std::move(dir)), clock_(kBenchTime), rng_(kSeed + static_cast<uint64_t>(type)) {}

  Status SetUp(pki::KeyType type);

  std::unique_ptr<testutil::ScratchDir> dir_;
  ManualClock clock_;
  SeededRandom rng_;  // thread-safe; the service shares it
  DroppingNotifier notifier_;
  std::optional<OneReleaseSource> source_;
  std::unique_ptr<SiteService> service_;
  NodeRecord node_;
  RenewalRequest request_;
  std::optional<slca::SiteCa> ca_;  // optional: neither of these has an empty state
  std::optional<pki::PrivateKey> site_key_;
  std::optional<pki::Certificate> cert_store_;
  pki::SiteBinding binding_;
  std::optional<pki::Certificate> cert_site_;
  std::string message_;
};

Result<std::unique_ptr<InProcessSite>> InProcessSite::Create(pki::KeyType type) {
  SITECHAIN_ASSIGN_OR_RETURN(std::unique_ptr<testutil::ScratchDir> dir,
                             testutil::ScratchDir::Create("slsm_bench"));
  std::unique_ptr<InProcessSite> site(new InProcessSite(std::move(dir), type));
  SITECHAIN_RETURN_IF_ERROR(site->SetUp(type));
  return site;
}

Status InProcessSite::SetUp(pki::KeyType type) {
  const pki::BuildContext ctx = context();
  // The store and developer side, Ed25519: the site key is what is measured.
  const pki::PrivateKey store_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  const pki::PrivateKey developer_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate store_root,
      pki::BuildStoreRoot(store_key, "bench-store", pki::kDefaultRootLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::CertificateRequest developer_csr,
      pki::CertificateRequest::Create(developer_key, std::string(kDeveloperName), rng_));
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate identity,
      pki::BuildDeveloperIdentity(developer_csr, store_root, store_key,
                                  pki::kDefaultDeveloperIdentityLifetime, ctx));
  std::string executable = SeededBytes(kExecutableBytes, kSeed);
  const pki::ReleaseSpec spec{pki::ServiceRelease{std::string(kService), std::string(kVersion), 1},
                              pki::HashBytes(pki::HashAlgorithm::kSha256, executable),
                              std::nullopt};
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert_dev,
      pki::BuildCertDev(spec, identity, developer_key, pki::kDefaultCertDevLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(cert_store_, pki::BuildCertStore(cert_dev, store_root, store_key,
                                                              pki::kDefaultCertDevLifetime, ctx));
  ReleaseHeader header;
  header.name = kService;
  header.version = kVersion;
  header.release_counter = 1;
  header.developer = kDeveloperName;
  header.digest_algorithm = "sha256";
  header.digest = spec.executable.Hex();
  header.size = executable.size();
  header.cert_dev_pem = cert_dev.ToPem();
  header.cert_store_pem = cert_store_->ToPem();
  header.developer_certificate_pem = identity.ToPem();
  source_.emplace(std::move(header), std::move(executable));

  // The site: as `slsm init` and `slsm serve` open it, without the servers.
  const std::string ca_dir = dir_->path() + "/ca";
  SITECHAIN_ASSIGN_OR_RETURN(
      slca::SiteCa ca,
      slca::SiteCa::Init({ca_dir, std::string(kSite), std::string(pki::KeyTypeName(type)),
                          Seconds(10 * 365 * 86400), std::nullopt},
                         clock_, rng_));
  SITECHAIN_ASSIGN_OR_RETURN(SiteDatabase db, SiteDatabase::Open(dir_->path() + "/slsm.db"));
  SITECHAIN_ASSIGN_OR_RETURN(storage::BlobStore packages,
                             storage::BlobStore::Open(dir_->path() + "/packages"));
  SITECHAIN_ASSIGN_OR_RETURN(
      service_, SiteService::Create(std::move(ca), store_root, std::move(db), std::move(packages),
                                    *source_, notifier_, clock_, rng_, UnlimitedIssuance()));
  SITECHAIN_RETURN_IF_ERROR(
      service_->Install(std::string(kService), std::string(kVersion)).status());

  // One node, enrolled with a join token, the service deployed to it.
  const std::string node(kInProcessNode);
  SITECHAIN_ASSIGN_OR_RETURN(CreatedJoinToken token, service_->CreateJoinToken(node, Seconds(0)));
  const pki::PrivateKey node_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  SITECHAIN_ASSIGN_OR_RETURN(pki::CertificateRequest node_csr,
                             pki::CertificateRequest::Create(node_key, node, rng_));
  SITECHAIN_ASSIGN_OR_RETURN(Enrolled enrolled,
                             service_->Enroll(token.token, node, node_csr.ToDer()));
  SITECHAIN_ASSIGN_OR_RETURN(node_, service_->AuthenticateNode(enrolled.node_certificate.ToPem()));
  SITECHAIN_RETURN_IF_ERROR(service_->Deploy(std::string(kService), {node}).status());

  // The instance's renewal request, and one issuance that must pass the node's own checks.
  std::vector<uint8_t> instance_public_key;
  SITECHAIN_ASSIGN_OR_RETURN(request_,
                             InstanceRequest(std::string(kService), rng_, &instance_public_key));
  SITECHAIN_ASSIGN_OR_RETURN(std::vector<RenewalResult> results,
                             service_->Renew(node_, {request_}));
  if (results.size() != 1) return Internal("Renew answered " + std::to_string(results.size()));
  SITECHAIN_RETURN_IF_ERROR(results[0].status);
  if (!results[0].certificate) return Internal("Renew passed without a certificate");
  cert_site_ = std::move(results[0].certificate);
  pki::ChainInput input;
  input.store_root = store_root;
  input.site_root = service_->site_root();
  input.developer_identity = identity;
  input.cert_dev = cert_dev;
  input.cert_store = cert_store_;
  input.cert_site = cert_site_;
  input.expected_node_id = pki::NodeSpiffeId(kSite, kInProcessNode);
  const pki::Verification v = pki::Verifier(clock_).Verify(input);
  if (!v.ok()) return Internal("the issued Cert_site does not verify: " + v.failure->ToString());

  // The same CA opened a second time, and its key, for the CA-only and raw figures.
  SITECHAIN_ASSIGN_OR_RETURN(ca_, slca::SiteCa::Open(ca_dir, std::nullopt));
  SITECHAIN_ASSIGN_OR_RETURN(site_key_, pki::PrivateKey::Load(ca_dir + "/root.key", std::nullopt));
  if (site_key_->type() != type) return Internal("root.key is not of the site's key type");
  binding_ = {node, std::string(kService), std::move(instance_public_key), "{}"};
  message_ = SeededBytes(kMessageBytes, kSeed + 1);
  return Status::Ok();
}

// --- over mutual TLS -------------------------------------------------------------------------

// A store in this process (testutil::InProcessWorld) with one release of kService, seeded
// bytes, published by a registered developer.
Result<std::unique_ptr<testutil::InProcessWorld>> MakeBenchWorld(const Clock& clock, Random& rng) {
  SITECHAIN_ASSIGN_OR_RETURN(std::unique_ptr<testutil::InProcessWorld> world,
                             testutil::InProcessWorld::Create("slsm_bench", clock, rng));
  const std::string service(kService);
  SITECHAIN_RETURN_IF_ERROR(
      WriteFileAtomic(world->dir() + "/" + service, SeededBytes(kExecutableBytes, kSeed), 0755));
  SITECHAIN_RETURN_IF_ERROR(
      world->Build(std::string(kDeveloperName),
                   {{.file = service, .name = service, .version = std::string(kVersion)}}));
  return world;
}

// An SlsmServer in this process for one site key type, following the world's store: the release
// installed, kMaxClients nodes enrolled with nlsm::Enroll and the service deployed to all of
// them. Each node has its own GrpcSiteClient (its own channel and TLS connection, kept) and its
// own instance request. Renew may be called from several threads, one node per thread.
class ServedSite final {
 public:
  ServedSite(const ServedSite&) = delete;
  ServedSite& operator=(const ServedSite&) = delete;
  ~ServedSite() {
    clients_.clear();  // close the channels before the server goes
    site_.reset();
  }

  static Result<std::unique_ptr<ServedSite>> Create(pki::KeyType type,
                                                    testutil::InProcessWorld& world, Random& rng);

  // One Cert_site for the instance of node i, over mutual TLS, checked against the site root.
  Status Renew(int i) const {
    SITECHAIN_ASSIGN_OR_RETURN(
        std::vector<nlsm::RenewalOutcome> outcomes,
        clients_[static_cast<size_t>(i)]->Renew({entries_[static_cast<size_t>(i)]}));
    if (outcomes.size() != 1) return Internal("Renew answered " + std::to_string(outcomes.size()));
    SITECHAIN_RETURN_IF_ERROR(outcomes[0].status);
    if (outcomes[0].cert_site_der.empty()) return Internal("Renew passed without a certificate");
    return Status::Ok();
  }

 private:
  ServedSite() = default;
  Status SetUp(pki::KeyType type, testutil::InProcessWorld& world, Random& rng);

  std::unique_ptr<testutil::InProcessSite> site_;
  std::vector<nlsm::NodeIdentity> identities_;
  std::vector<std::unique_ptr<nlsm::GrpcSiteClient>> clients_;
  std::vector<nlsm::RenewalEntry> entries_;
};

Result<std::unique_ptr<ServedSite>> ServedSite::Create(pki::KeyType type,
                                                       testutil::InProcessWorld& world,
                                                       Random& rng) {
  std::unique_ptr<ServedSite> site(new ServedSite());
  SITECHAIN_RETURN_IF_ERROR(site->SetUp(type, world, rng));
  return site;
}

// As `slsm init`, `slsm serve`, `slsm install`, `slsm tokens create`, the nodes' enrollment and
// `slsm deploy` do it.
Status ServedSite::SetUp(pki::KeyType type, testutil::InProcessWorld& world, Random& rng) {
  const std::string key_type(pki::KeyTypeName(type));
  SITECHAIN_ASSIGN_OR_RETURN(
      site_, world.StartSite("site-" + key_type, kSite, key_type, UnlimitedIssuance()));
  SITECHAIN_RETURN_IF_ERROR(site_->Install(std::string(kService)));
  std::vector<std::string> nodes;
  for (int i = 0; i < kMaxClients; ++i) {
    SITECHAIN_ASSIGN_OR_RETURN(std::string token, site_->CreateJoinToken(NodeName(i)));
    SITECHAIN_ASSIGN_OR_RETURN(
        nlsm::NodeIdentity identity,
        nlsm::Enroll(site_->address(), token, NodeName(i),
                     pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng), rng));
    clients_.push_back(std::make_unique<nlsm::GrpcSiteClient>(site_->address(), identity, rng));
    identities_.push_back(std::move(identity));
    SITECHAIN_ASSIGN_OR_RETURN(RenewalRequest request,
                               InstanceRequest(std::string(kService), rng, nullptr));
    entries_.push_back({request.service, std::move(request.csr_der)});
    nodes.push_back(NodeName(i));
  }
  int instances = 0;
  SITECHAIN_RETURN_IF_ERROR(site_->Deploy(std::string(kService), nodes, &instances));
  if (instances != kMaxClients) return Internal("Deploy added too few instances");
  // One renewal per node: opens every channel outside the timed loops and proves the path.
  for (int i = 0; i < kMaxClients; ++i) SITECHAIN_RETURN_IF_ERROR(Renew(i));
  return Status::Ok();
}

// --- what the benchmarks share ---------------------------------------------------------------

// The sites, each made on first use and kept, with its error if any, for the rest of the run.
// Owned by RunSlsmBenchmarks and destroyed before main returns (a Botan key must not outlive
// Botan's statics). Thread-safe: the threads of a BM_RenewTls run all ask for their site; mu_
// guards the maps and makes the first caller build while the others wait.
class Fixtures final {
 public:
  Fixtures() : rng_(kSeed + 100) {}
  Fixtures(const Fixtures&) = delete;
  Fixtures& operator=(const Fixtures&) = delete;
  ~Fixtures() {
    served_.clear();  // the sites follow the store's feed: stop them first
    world_.reset();
  }

  // The in-process site of `type`, or nullptr after marking the benchmark as failed.
  InProcessSite* InProcessOrSkip(benchmark::State& state, pki::KeyType type) {
    std::lock_guard lock(mu_);
    auto it = in_process_.find(type);
    if (it == in_process_.end()) it = in_process_.emplace(type, InProcessSite::Create(type)).first;
    if (it->second.ok()) return it->second->get();
    Skip(state, it->second.status().WithContext(pki::KeyTypeName(type)));
    return nullptr;
  }

  // The served site of `type` (and the store, the first time), or nullptr after marking the
  // benchmark as failed.
  const ServedSite* ServedOrSkip(benchmark::State& state, pki::KeyType type) {
    std::lock_guard lock(mu_);
    if (!world_) world_.emplace(MakeBenchWorld(clock_, rng_));
    if (!world_->ok()) {
      Skip(state, world_->status().WithContext("store"));
      return nullptr;
    }
    auto it = served_.find(type);
    if (it == served_.end()) {
      it = served_.emplace(type, ServedSite::Create(type, *world_->value(), rng_)).first;
    }
    if (it->second.ok()) return it->second->get();
    Skip(state, it->second.status().WithContext(pki::KeyTypeName(type)));
    return nullptr;
  }

 private:
  static void Skip(benchmark::State& state, const Status& status) {
    state.SkipWithError(status.ToString().c_str());
  }

  std::mutex mu_;
  std::map<pki::KeyType, Result<std::unique_ptr<InProcessSite>>> in_process_;  // guarded by mu_
  SystemClock clock_;  // over TLS: the handshakes check certificates at the real time
  SeededRandom rng_;   // thread-safe; the servers share it
  std::optional<Result<std::unique_ptr<testutil::InProcessWorld>>> world_;  // guarded by mu_
  std::map<pki::KeyType, Result<std::unique_ptr<ServedSite>>> served_;      // guarded by mu_
};

void BM_RawSign(benchmark::State& state, Fixtures* fixtures, pki::KeyType type) {
  InProcessSite* site = fixtures->InProcessOrSkip(state, type);
  if (site == nullptr) return;
  for (auto _ : state) {
    std::vector<uint8_t> signature =
        pki::SignMessage(site->site_key(), site->message(), site->rng());
    benchmark::DoNotOptimize(signature.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RawVerify(benchmark::State& state, Fixtures* fixtures, pki::KeyType type) {
  InProcessSite* site = fixtures->InProcessOrSkip(state, type);
  if (site == nullptr) return;
  const pki::Certificate& root = site->service().site_root();
  for (auto _ : state) {
    if (!site->cert_site().SignatureVerifiesWith(root)) {
      state.SkipWithError("a good Cert_site signature was refused");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_CaIssueCertSite(benchmark::State& state, Fixtures* fixtures, pki::KeyType type) {
  InProcessSite* site = fixtures->InProcessOrSkip(state, type);
  if (site == nullptr) return;
  const pki::BuildContext ctx = site->context();
  const Seconds lifetime = site->service().options().cert_site_lifetime;
  for (auto _ : state) {
    Result<pki::Certificate> cert =
        site->ca().IssueCertSite(site->cert_store(), site->binding(), lifetime, ctx);
    if (!cert.ok()) {
      state.SkipWithError(cert.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
}

// What the issuance log's commit costs without the rest of the site: the same two statements as
// IssuedLog::LogIssued (slsm/issued_log.h), in one transaction, through the same SQLite wrapper
// and settings.
void BM_SqliteCommit(benchmark::State& state) {
  Result<std::unique_ptr<testutil::ScratchDir>> dir = testutil::ScratchDir::Create("slsm_bench");
  if (!dir.ok()) {
    state.SkipWithError(dir.status().ToString().c_str());
    return;
  }
  Result<sql::Database> db = sql::Database::Open((*dir)->path() + "/commit.db");
  Status s = db.status();
  if (s.ok()) {
    s =
        db->Migrate({"CREATE TABLE issued (id INTEGER PRIMARY KEY, serial TEXT NOT NULL, "
                     "subject TEXT NOT NULL, not_after INTEGER NOT NULL);"
                     "CREATE TABLE instances (id INTEGER PRIMARY KEY, serial TEXT);"
                     "INSERT INTO instances (serial) VALUES ('')"});
  }
  const std::string subject = "CN=bench-svc,O=bench-site,OU=node-1";
  int64_t serial = 0;
  for (auto _ : state) {
    if (!s.ok()) break;
    s = db->Transaction([&]() -> Status {
      const std::string hex = std::to_string(++serial);
      SITECHAIN_ASSIGN_OR_RETURN(
          sql::Statement insert,
          db->Prepare("INSERT INTO issued (serial, subject, not_after) VALUES (?1, ?2, ?3)"));
      SITECHAIN_RETURN_IF_ERROR(insert.Bind(1, hex).Bind(2, subject).Bind(3, serial).Run());
      SITECHAIN_ASSIGN_OR_RETURN(sql::Statement update,
                                 db->Prepare("UPDATE instances SET serial = ?1 WHERE id = 1"));
      return update.Bind(1, hex).Run();
    });
  }
  if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  state.SetItemsProcessed(state.iterations());
}

void BM_Issue(benchmark::State& state, Fixtures* fixtures, pki::KeyType type) {
  InProcessSite* site = fixtures->InProcessOrSkip(state, type);
  if (site == nullptr) return;
  const std::vector<RenewalRequest> requests = {site->request()};
  for (auto _ : state) {
    Result<std::vector<RenewalResult>> results = site->service().Renew(site->node(), requests);
    const Status s = !results.ok() ? results.status() : (*results)[0].status;
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// Every thread renews as its own node.
void BM_RenewTls(benchmark::State& state, Fixtures* fixtures, pki::KeyType type) {
  const ServedSite* site = fixtures->ServedOrSkip(state, type);
  if (site == nullptr) return;
  const int node = state.thread_index();
  for (auto _ : state) {
    const Status s = site->Renew(node);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The usual console table, then per key type the rates of this run beside BM_RawSign's. With
// --benchmark_repetitions the median stands for a name.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      Figure& f = figures_[Key(run.run_name.function_name, run.threads)];
      if (f.from_median && !median) continue;
      const double unit = benchmark::GetTimeUnitMultiplier(run.time_unit);
      f = Figure{run.GetAdjustedRealTime() / unit, run.GetAdjustedCPUTime() / unit, median};
    }
  }

  void Finalize() override {
    std::ostream& out = GetOutputStream();
    out << "\nSummary: operations per second of wall time; / sign = divided by the raw signing\n"
           "rate of the same key type; cpu x sign = process CPU time per operation in raw\n"
           "signatures; cores = process CPU time / wall time.\n";
    out << Row({"in-process", "sign/s", "verify/s", "CA issue/s", "issue/s", "/ sign", "cpu x sign",
                "cores"});
    for (pki::KeyType type : kKeyTypes) {
      const std::string k(pki::KeyTypeName(type));
      const auto sign = Lookup("BM_RawSign/" + k), verify = Lookup("BM_RawVerify/" + k),
                 ca = Lookup("BM_CaIssueCertSite/" + k), issue = Lookup("BM_Issue/" + k);
      out << Row({k, Rate(sign), Rate(verify), Rate(ca), Rate(issue), Ratio(sign, issue),
                  CpuRatio(issue, sign), Cores(issue)});
    }
    const auto commit = Lookup("BM_SqliteCommit");
    out << "the issuance log's commit alone (SQLite, WAL, synchronous=FULL): " << Rate(commit)
        << "/s\n";
    out << "\n"
        << Row({"mutual TLS", "clients", "renewals/s", "/ sign", "/ issue", "ms/call", "cores"});
    for (pki::KeyType type : kKeyTypes) {
      const std::string k(pki::KeyTypeName(type));
      const auto sign = Lookup("BM_RawSign/" + k), issue = Lookup("BM_Issue/" + k);
      for (int clients : kClientCounts) {
        const auto renew = Lookup(Key("BM_RenewTls/" + k, clients));
        // Each client waits for its answer before the next call: latency = clients / rate.
        out << Row({k, std::to_string(clients), Rate(renew), Ratio(sign, renew),
                    Ratio(issue, renew), renew ? Format("%.2f", renew->wall * clients * 1e3) : "-",
                    Cores(renew)});
      }
    }
    out.flush();
  }

 private:
  struct Figure {
    double wall = 0;  // seconds per operation (for threads: of all threads together)
    double cpu = 0;
    bool from_median = false;
  };

  static std::string Key(const std::string& name, int threads) {
    return threads == 1 ? name : name + "/threads:" + std::to_string(threads);
  }
  std::optional<Figure> Lookup(const std::string& name) const {
    auto it = figures_.find(name);
    if (it == figures_.end() || it->second.wall <= 0) return std::nullopt;
    return it->second;
  }
  static std::string Format(const char* fmt, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
  }
  static std::string Rate(const std::optional<Figure>& f) {
    return f ? Format("%.0f", 1 / f->wall) : "-";
  }
  // rate(ours) / rate(base) = base's time / ours.
  static std::string Ratio(const std::optional<Figure>& base, const std::optional<Figure>& ours) {
    return base && ours ? Format("%.2f", base->wall / ours->wall) : "-";
  }
  static std::string CpuRatio(const std::optional<Figure>& ours,
                              const std::optional<Figure>& base) {
    return base && ours && base->cpu > 0 ? Format("%.2f", ours->cpu / base->cpu) : "-";
  }
  static std::string Cores(const std::optional<Figure>& f) {
    return f ? Format("%.2f", f->cpu / f->wall) : "-";
  }
  static std::string Row(const std::vector<std::string>& cells) {
    std::string row;
    for (size_t i = 0; i < cells.size(); ++i) {
      constexpr size_t width = 12;
      std::string cell = cells[i];
      if (cell.size() < width) cell.insert(i == 0 ? cell.size() : 0, width - cell.size(), ' ');
      row += cell;
    }
    return row + "\n";
  }

  std::map<std::string, Figure> figures_;  // by benchmark name without arguments, and threads
};

void RegisterBenchmarks(Fixtures* fixtures) {
  // Each runs for --benchmark_min_time (default 0.5 s). The benchmarks keep `fixtures`, which
  // must outlive the run.
  auto configure = [](benchmark::internal::Benchmark* b) {
    return b->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime()->UseRealTime();
  };
  using Fn = void (*)(benchmark::State&, Fixtures*, pki::KeyType);
  const std::pair<const char*, Fn> in_process[] = {{"BM_RawSign", BM_RawSign},
                                                   {"BM_RawVerify", BM_RawVerify},
                                                   {"BM_CaIssueCertSite", BM_CaIssueCertSite},
                                                   {"BM_Issue", BM_Issue}};
  for (pki::KeyType type : kKeyTypes) {
    const std::string k(pki::KeyTypeName(type));
    for (const auto& [name, fn] : in_process) {
      configure(
          benchmark::RegisterBenchmark((std::string(name) + "/" + k).c_str(), fn, fixtures, type));
    }
  }
  configure(benchmark::RegisterBenchmark("BM_SqliteCommit", BM_SqliteCommit));
  for (pki::KeyType type : kKeyTypes) {
    const std::string k(pki::KeyTypeName(type));
    auto* b = configure(
        benchmark::RegisterBenchmark(("BM_RenewTls/" + k).c_str(), BM_RenewTls, fixtures, type));
    for (int clients : kClientCounts) b->Threads(clients);
  }
}

int RunSlsmBenchmarks(int argc, char** argv) {
  return bench::RunBenchmarks<SummaryReporter>(argc, argv, [](const bench::Run& run) {
    spdlog::set_level(spdlog::level::warn);  // the servers log every call at info
    Fixtures fixtures;
    RegisterBenchmarks(&fixtures);
    return run();
  });
}

}  // namespace
}  // namespace sitechain::slsm

int main(int argc, char** argv) { return sitechain::slsm::RunSlsmBenchmarks(argc, argv); }
