// nlsm_bench: how long a node takes from the site admin's deploy command to a running service,
// and what the node's verification before each launch costs beside the raw cost of its signature
// checks and hashing, measured in the same run.
//
//   BM_DeployDaemon/<svc>   SiteAdmin.Deploy over the slsm's admin socket until the node's
//                           NodeDaemon (the real `nlsm serve`: supervisor, site client, node
//                           manager, admin socket) shows the instance `running` with a pid in
//                           GetNodeStatus over its admin socket (the iteration time), and until
//                           the service has printed "ready" to its stdout.log (counter ready_ms).
//   BM_DeployTraced/<svc>   the same on a second node whose NodeManager is wired as the daemon
//                           wires it, but with a SiteClient and a ProcessRunner that pass every
//                           call through to the real GrpcSiteClient and Supervisor and note when
//                           each began and ended: the breakdown of a deploy (see kSegments).
//   BM_VerifyLaunch/<svc>   pki::Verifier::Verify on what the node checks before every launch:
//                           store root, site root, developer identity, Cert_dev, Cert_store,
//                           Cert_site, the executable's descriptor and the expected node (rules
//                           1-6 and 8): 6 signature checks and hashing the executable.
//   BM_RawSignatures/<svc>  the same 6 signature checks, each with its issuer's already-parsed key
//                           (Certificate::SignatureVerifiesWith, as pki_bench's BM_RawVerify).
//   BM_RawSha256/<svc>      pki::HashBytes (SHA-256) over the same executable bytes in memory.
//   BM_HashFd/<svc>         pki::HashFd over the node's kept package (pread + SHA-256, page cache
//                           warm): what the verifier's rule 6 does.
//   BM_SaveInstanceFiles    7 files of the sizes NodeManager::SaveInstance writes, each with
//                           WriteFileAtomic (fsync of the file and of the directory): the disk's
//                           share of a deploy.
//   BM_ForkExec             fork + execveat of the kept echo-service package from this process,
//                           until exec'd: the raw limit of the supervisor's start.
//
// <svc> is echo-service (examples/echo-service as built) or echo-64mib (the same program with
// seeded bytes appended up to 64 MiB; an ELF file runs with trailing bytes).
//
// Everything runs in this process on 127.0.0.1, port 0, in a temporary directory removed at
// exit (testutil::InProcessWorld, tests/support/in_process): a store (store::StoreServer) with
// both releases published with devkit, a site manager (slsm::SlsmServer, Ed25519 site key,
// default options) with both installed over its admin socket, and two nodes enrolled with
// nlsm::EnrollNode. The services are real processes. Each iteration deploys to one node and, after
// the timed part, undeploys and waits until the instance is stopped: every iteration is a fresh
// deploy (the node fetches the package again). The clock is the system's (TLS checks certificates
// at the real time); keys come from fixed seeds.
//
// Deploy times are wall clock (manual time, one deploy per iteration); cpu_ms is the whole
// process's CPU time (store, slsm and node threads; not the service's) from the command to
// `running`. The verification figures are wall time with the calling thread's CPU time beside;
// the summary divides Verify by the sum of its raw parts.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_main.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/grpc_tls.h"
#include "common/identity_file.h"
#include "common/random.h"
#include "common/result.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "nlsm/config.h"
#include "nlsm/daemon.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/node_manager.h"
#include "nlsm/node_state.h"
#include "nlsm/supervisor.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "pki/verifier.h"
#include "sitechain/v1/node.grpc.pb.h"
#include "sitechain/v1/site.grpc.pb.h"
#include "storage/blob_store.h"
#include "tests/support/in_process/in_process_world.h"

namespace sitechain::nlsm {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr uint64_t kSeed = 0x4e15'b3c0'0000'0001;
constexpr std::string_view kSite = "bench-site";
constexpr std::string_view kVersion = "1.0.0";
constexpr std::string_view kDeveloperName = "bench-developer";
constexpr std::string_view kDaemonNode = "node-daemon";
constexpr std::string_view kTracedNode = "node-traced";

// The services: the example as built, and the same padded to 64 MiB. Iterations are fixed so
// that a run takes the same time whatever the machine: each is one deploy and one undeploy.
struct ServiceSpec {
  const char* name;
  size_t size;  // 0: the example as built
  int iterations;
};
constexpr ServiceSpec kServices[] = {{"echo-service", 0, 20}, {"echo-64mib", size_t{64} << 20, 4}};

// How long a deploy or an undeploy may take before the benchmark gives up with the node's error.
constexpr auto kDeadline = std::chrono::seconds(30);
// Shortest polling periods while waiting for a node: its admin socket (a gRPC call each) and,
// in-process, the traced node's snapshot and the service's stdout.log. The period grows with the
// wait (kPollFraction of the time waited so far, at most kPollMax), so that polling costs little
// CPU during a long deploy while the error of `running` and `ready` stays under about 0.5 %.
constexpr auto kDaemonPoll = std::chrono::microseconds(500);
constexpr auto kTracedPoll = std::chrono::microseconds(200);
constexpr int kPollFraction = 200;
constexpr auto kPollMax = std::chrono::microseconds(5000);

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The whole process's CPU time.
std::chrono::nanoseconds ProcessCpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

std::string SeededBytes(size_t size, uint64_t seed) {
  std::string bytes(size, '\0');
  SeededRandom(seed).Fill(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
  return bytes;
}

// The built echo-service: in $SITECHAIN_BIN_DIR (as the tests set it), else beside this program.
std::string EchoServicePath() {
  if (const char* dir = std::getenv("SITECHAIN_BIN_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/echo-service";
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : self.parent_path()).string() + "/echo-service";
}

// Calls `done` until it returns true (OK) or kDeadline passes (UNAVAILABLE with what `why` says
// then), waiting at least `period` between calls and longer as the wait goes on (see kPollMax).
Status PollUntil(std::chrono::microseconds period, const std::function<bool()>& done,
                 const std::function<std::string()>& why) {
  const SteadyTime start = std::chrono::steady_clock::now(), deadline = start + kDeadline;
  while (!done()) {
    const SteadyTime now = std::chrono::steady_clock::now();
    if (now > deadline) {
      return Unavailable("gave up after " + std::to_string(kDeadline.count()) + " s: " + why());
    }
    const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(now - start);
    std::this_thread::sleep_for(std::clamp(waited / kPollFraction, period, kPollMax));
  }
  return Status::Ok();
}

// True once the service's stdout.log holds its "ready" line.
bool PrintedReady(const std::string& stdout_log) {
  std::ifstream in(stdout_log);
  if (!in) return false;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return text.find("\nready\n") != std::string::npos;
}

// --- the traced node -------------------------------------------------------------------------

// When the steps of one deploy began and ended, as the traced SiteClient and ProcessRunner saw
// them. Thread-safe (mu_): the node's link and loop threads write, the benchmark reads.
class Trace final {
 public:
  enum Point {
    kCommand,      // the node read the Deploy command from its stream
    kFetchBegin,   // FetchPackage called
    kFetchEnd,     // ... returned (package streamed and written to the package store)
    kRenewBegin,   // Renew called (for the fresh instance key)
    kRenewEnd,     // ... returned with Cert_site
    kLaunchBegin,  // the runner asked to stop what may run before the start (Launch)
    kStartEnd,     // the runner's Start returned: the process is exec'd
    kPoints
  };

  void Reset() {
    std::lock_guard lock(mu_);
    points_.fill(std::nullopt);
  }
  // Notes the first time `p` happens after the last Reset; with `after`, only once `after` did.
  void Note(Point p, std::optional<Point> after = std::nullopt) {
    const SteadyTime now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    if (after && !points_[*after]) return;
    if (!points_[p]) points_[p] = now;
  }
  std::optional<SteadyTime> At(Point p) const {
    std::lock_guard lock(mu_);
    return points_[p];
  }

 private:
  mutable std::mutex mu_;
  std::array<std::optional<SteadyTime>, kPoints> points_;  // guarded by mu_
};

// A command stream that notes when a Deploy command arrives.
class TracedStream final : public CommandStream {
 public:
  TracedStream(std::unique_ptr<CommandStream> inner, Trace& trace)
      : inner_(std::move(inner)), trace_(trace) {}
  std::optional<Command> Next() override {
    std::optional<Command> c = inner_->Next();
    if (c && c->kind == Command::Kind::kDeploy) trace_.Note(Trace::kCommand);
    return c;
  }
  bool SendHeartbeat(uint64_t counter) override { return inner_->SendHeartbeat(counter); }
  bool SendInstance(const InstanceReport& report) override { return inner_->SendInstance(report); }
  void Cancel() override { inner_->Cancel(); }
  Status Close() override { return inner_->Close(); }

 private:
  const std::unique_ptr<CommandStream> inner_;
  Trace& trace_;
};

// The real GrpcSiteClient, with the begin and end of fetches and renewals noted.
class TracedSiteClient final : public SiteClient {
 public:
  TracedSiteClient(SiteClient& inner, Trace& trace) : inner_(inner), trace_(trace) {}

  Result<std::vector<RenewalOutcome>> Renew(const std::vector<RenewalEntry>& entries) override {
    trace_.Note(Trace::kRenewBegin, Trace::kFetchEnd);
    auto outcomes = inner_.Renew(entries);
    trace_.Note(Trace::kRenewEnd, Trace::kRenewBegin);
    return outcomes;
  }
  Status FetchPackage(const std::string& service,
                      const std::function<Status(const PackageHeader&)>& on_header,
                      const std::function<Status(std::span<const uint8_t>)>& on_chunk) override {
    trace_.Note(Trace::kFetchBegin);
    Status s = inner_.FetchPackage(service, on_header, on_chunk);
    trace_.Note(Trace::kFetchEnd, Trace::kFetchBegin);
    return s;
  }
  Result<pki::Certificate> RenewNode(std::span<const uint8_t> csr_der) override {
    return inner_.RenewNode(csr_der);
  }
  Result<std::unique_ptr<CommandStream>> Connect(
      const std::vector<InstanceReport>& hello) override {
    SITECHAIN_ASSIGN_OR_RETURN(std::unique_ptr<CommandStream> stream, inner_.Connect(hello));
    return std::unique_ptr<CommandStream>(
        std::make_unique<TracedStream>(std::move(stream), trace_));
  }
  void SetNodeCertificate(const pki::Certificate& certificate) override {
    inner_.SetNodeCertificate(certificate);
  }

 private:
  SiteClient& inner_;
  Trace& trace_;
};

// The supervisor as the daemon's runner makes it (daemon.cc), with the launch noted: Launch asks
// the runner to stop the service right before it starts it.
class TracedRunner final : public ProcessRunner {
 public:
  TracedRunner(Supervisor& supervisor, std::chrono::milliseconds grace, Trace& trace)
      : supervisor_(supervisor), grace_(grace), trace_(trace) {}
  Status Start(const LaunchSpec& spec) override {
    Status s = supervisor_.Start(spec);
    trace_.Note(Trace::kStartEnd, Trace::kLaunchBegin);
    return s;
  }
  Status Stop(const std::string& service) override {
    trace_.Note(Trace::kLaunchBegin, Trace::kRenewEnd);
    Status s = supervisor_.Stop(service, grace_);
    return s.code() == StatusCode::kNotFound ? Status::Ok() : s;
  }
  std::optional<ProcessInfo> Info(const std::string& service) const override {
    return supervisor_.Info(service);
  }
  Status Signal(const std::string& service, int signal) override {
    return supervisor_.Signal(service, signal);
  }

 private:
  Supervisor& supervisor_;
  const std::chrono::milliseconds grace_;
  Trace& trace_;
};

// The segments of a traced deploy, each from one point to the next: their names (the counters)
// and what they hold.
struct Segment {
  const char* counter;
  std::optional<Trace::Point> from;  // nullopt: the admin's Deploy call
  Trace::Point to;
};
constexpr Segment kSegments[] = {
    // the admin call, the slsm's instance row (a SQLite commit), the push down the node's stream
    {"deliver_ms", std::nullopt, Trace::kCommand},
    // the loop thread wakes for the command
    {"wake_ms", Trace::kCommand, Trace::kFetchBegin},
    // FetchPackage: streamed over mutual TLS and written to the package store
    {"fetch_ms", Trace::kFetchBegin, Trace::kFetchEnd},
    // the package fsynced and renamed into place, certificates parsed, instance key and CSR
    {"keep_ms", Trace::kFetchEnd, Trace::kRenewBegin},
    // Renew: Cert_site for the instance key
    {"renew_ms", Trace::kRenewBegin, Trace::kRenewEnd},
    // Verify (FetchAndVerify), SaveInstance (7 files, 2 fsyncs each), Verify again (Launch)
    {"check_ms", Trace::kRenewEnd, Trace::kLaunchBegin},
    // Supervisor::Stop (nothing runs) and Start: fork, the pid record (WriteFileAtomic: 2
    // fsyncs) while the child execs, until exec'd, and the answer back to the loop thread
    {"spawn_ms", Trace::kLaunchBegin, Trace::kStartEnd},
};

// --- the site --------------------------------------------------------------------------------

// One published service: the executable as published, its bytes and digest.
struct Published {
  std::string service;
  std::string path;
  std::string bytes;
  pki::Digest digest;
};

// What the node checks before a launch of one service, taken from a real deploy on the traced
// node: its own roots, the certificates kept in the instance directory, the kept package open.
struct LaunchInput {
  pki::ChainInput chain;  // executable_fd is package.get()
  UniqueFd package;
  const Published* published = nullptr;
};

// A store, a site manager and two nodes in this process, with both services published and
// installed. Deploy and Undeploy through the slsm's admin socket, wait on either node. Made once,
// on the main thread; the benchmarks run on the main thread.
class BenchSite final {
 public:
  BenchSite(const BenchSite&) = delete;
  BenchSite& operator=(const BenchSite&) = delete;
  ~BenchSite();

  static Result<std::unique_ptr<BenchSite>> Create();

  enum class Node { kDaemon, kTraced };

  // The admin's Deploy (or Undeploy) of `service` to one node.
  Status Deploy(const std::string& service, Node node);
  Status Undeploy(const std::string& service, Node node);

  // The node's view of the instance, nullopt if it has none. For the daemon: GetNodeStatus over
  // its admin socket; for the traced node: the manager's snapshot.
  std::optional<InstanceStatusView> Instance(Node node, const std::string& service) const;
  // Waits until the instance is stopped (or gone) and has no process.
  Status WaitStopped(Node node, const std::string& service) const;
  std::string StdoutLog(Node node, const std::string& service) const;

  const Published& published(const std::string& service) const { return published_.at(service); }
  const LaunchInput& launch_input(const std::string& service) const {
    return launch_inputs_.at(service);
  }
  Trace& trace() { return trace_; }
  const Clock& clock() const { return clock_; }
  const std::string& dir() const { return world_->dir(); }

 private:
  BenchSite() : rng_(kSeed) {}
  Status SetUp();
  Status Publish(const std::string& service, std::string bytes);
  Result<std::string> EnrollNodeIn(std::string_view node);
  Status StartTraced(const std::string& dir);
  Status TakeLaunchInput(const std::string& service);
  std::string NodeDir(Node node) const {
    return dir() + "/" + std::string(node == Node::kDaemon ? kDaemonNode : kTracedNode);
  }

  SystemClock clock_;
  SeededRandom rng_;  // thread-safe; the servers and nodes share it
  Trace trace_;

  // The store with the developer and both releases, in a temporary directory; the site manager.
  std::unique_ptr<testutil::InProcessWorld> world_;
  std::unique_ptr<testutil::InProcessSite> slsm_;

  std::unique_ptr<NodeDaemon> daemon_;
  std::unique_ptr<v1::NodeAdmin::Stub> daemon_admin_;

  // The traced node's parts, in the order the daemon makes them (destroyed in reverse).
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<TracedRunner> runner_;
  std::unique_ptr<GrpcSiteClient> grpc_site_;
  std::unique_ptr<TracedSiteClient> site_;
  std::unique_ptr<NodeManager> manager_;

  std::map<std::string, Published> published_;
  std::map<std::string, LaunchInput> launch_inputs_;
};

BenchSite::~BenchSite() {
  // The nodes first (their services with them), then the site manager they follow, then the store.
  if (daemon_) daemon_->Shutdown(true);
  daemon_.reset();
  if (manager_) manager_->Shutdown(true);
  manager_.reset();
  site_.reset();
  grpc_site_.reset();
  runner_.reset();
  supervisor_.reset();
  launch_inputs_.clear();
  slsm_.reset();
  world_.reset();
}

Result<std::unique_ptr<BenchSite>> BenchSite::Create() {
  std::unique_ptr<BenchSite> site(new BenchSite());
  SITECHAIN_RETURN_IF_ERROR(site->SetUp());
  return site;
}

Status BenchSite::SetUp() {
  const std::string echo = EchoServicePath();
  auto built = ReadSmallFile(echo, size_t{64} << 20);
  if (!built.ok()) {
    return built.status().WithContext(
        "the echo-service example (build its target, or set "
        "SITECHAIN_BIN_DIR)");
  }
  SITECHAIN_ASSIGN_OR_RETURN(world_, testutil::InProcessWorld::Create("nlsm_bench", clock_, rng_));
  SITECHAIN_RETURN_IF_ERROR(world_->StartStore());
  SITECHAIN_RETURN_IF_ERROR(world_->RegisterDeveloper(std::string(kDeveloperName)));
  for (const ServiceSpec& spec : kServices) {
    std::string bytes = *built;
    if (spec.size > 0) {
      if (bytes.size() > spec.size) return Internal(echo + " is larger than " + spec.name);
      bytes += SeededBytes(spec.size - bytes.size(), kSeed + 1);
    }
    SITECHAIN_RETURN_IF_ERROR(Publish(spec.name, std::move(bytes)));
  }
  // As `slsm init`, `slsm serve` and `slsm install` do it. The options are the defaults.
  SITECHAIN_ASSIGN_OR_RETURN(slsm_, world_->StartSite("site", kSite));
  for (const auto& [service, published] : published_) {
    SITECHAIN_RETURN_IF_ERROR(slsm_->Install(service));
  }

  SITECHAIN_ASSIGN_OR_RETURN(std::string daemon_dir, EnrollNodeIn(kDaemonNode));
  NlsmConfig config;
  SITECHAIN_ASSIGN_OR_RETURN(daemon_, NodeDaemon::Start(daemon_dir, config, clock_, rng_));
  daemon_admin_ = v1::NodeAdmin::NewStub(DialUnix(daemon_dir + "/admin.sock"));
  SITECHAIN_ASSIGN_OR_RETURN(std::string traced_dir, EnrollNodeIn(kTracedNode));
  SITECHAIN_RETURN_IF_ERROR(StartTraced(traced_dir));

  // Both nodes' command streams must be open at the slsm, or a deploy waits for a reconnect.
  SITECHAIN_RETURN_IF_ERROR(PollUntil(
      std::chrono::milliseconds(5),
      [&] {
        grpc::ClientContext context;
        v1::ListNodesResponse nodes;
        if (!slsm_->admin().ListNodes(&context, v1::ListNodesRequest(), &nodes).ok()) return false;
        int connected = 0;
        for (const auto& n : nodes.nodes()) connected += n.connected() ? 1 : 0;
        return connected == 2;
      },
      [] { return std::string("the nodes did not connect to the slsm"); }));
  for (const ServiceSpec& spec : kServices) SITECHAIN_RETURN_IF_ERROR(TakeLaunchInput(spec.name));
  return Status::Ok();
}

// As `devkit sign` and `devkit publish` do it: release 1 of `service`.
Status BenchSite::Publish(const std::string& service, std::string bytes) {
  const std::string file = "developer/" + service;
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(dir() + "/" + file, bytes, 0755));
  SITECHAIN_RETURN_IF_ERROR(world_->Publish(
      {.file = file, .name = service, .version = std::string(kVersion), .release = 1}));
  const pki::Digest digest = pki::HashBytes(pki::HashAlgorithm::kSha256, bytes);
  published_[service] = Published{service, dir() + "/" + file, std::move(bytes), digest};
  return Status::Ok();
}

// As `slsm tokens create` and `nlsm enroll` do it; returns the node's state directory.
Result<std::string> BenchSite::EnrollNodeIn(std::string_view node) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string token, slsm_->CreateJoinToken(std::string(node)));
  EnrollOptions enroll;
  enroll.dir = dir() + "/" + std::string(node);
  enroll.node = node;
  enroll.slsm = slsm_->address();
  enroll.token = token;
  enroll.store_root_path = world_->store().store_root;
  SITECHAIN_RETURN_IF_ERROR(EnrollNode(enroll, clock_, rng_).status());
  return enroll.dir;
}

// The traced node: NodeDaemon::Start's wiring, with the traced SiteClient and runner (no admin
// socket: the benchmark reads the manager's snapshot).
Status BenchSite::StartTraced(const std::string& dir) {
  const NlsmConfig config;
  SITECHAIN_ASSIGN_OR_RETURN(NodeFiles node, LoadNode(dir));
  SupervisorOptions sup;
  sup.pid_dir = dir + "/run";
  sup.stop_grace = config.stop_grace;
  SITECHAIN_ASSIGN_OR_RETURN(supervisor_, Supervisor::Create(sup, clock_, rng_));
  runner_ = std::make_unique<TracedRunner>(*supervisor_, config.stop_grace, trace_);
  grpc_site_ = std::make_unique<GrpcSiteClient>(node.slsm, node.identity, rng_);
  site_ = std::make_unique<TracedSiteClient>(*grpc_site_, trace_);
  manager_ = std::make_unique<NodeManager>(dir, std::move(node), *site_, *runner_, clock_, rng_,
                                           config.node);
  return manager_->Start();
}

// Deploys `service` to the traced node once and keeps what its Launch verified: the node's
// roots, the instance's certificates and the kept package, open.
Status BenchSite::TakeLaunchInput(const std::string& service) {
  SITECHAIN_RETURN_IF_ERROR(Deploy(service, Node::kTraced));
  SITECHAIN_RETURN_IF_ERROR(PollUntil(
      kTracedPoll,
      [&] {
        auto i = Instance(Node::kTraced, service);
        return i && i->state == "running" && i->pid > 0;
      },
      [&] { return service + " did not start on " + std::string(kTracedNode); }));
  const std::string node_dir = NodeDir(Node::kTraced);
  const std::string instance_dir = node_dir + "/instances/" + service;
  LaunchInput input;
  auto load = [](const std::string& path, std::optional<pki::Certificate>& out) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::Load(path));
    out = std::move(cert);
    return Status::Ok();
  };
  SITECHAIN_RETURN_IF_ERROR(load(node_dir + "/store-root.pem", input.chain.store_root));
  SITECHAIN_RETURN_IF_ERROR(load(node_dir + "/site-root.pem", input.chain.site_root));
  SITECHAIN_RETURN_IF_ERROR(load(instance_dir + "/developer.pem", input.chain.developer_identity));
  SITECHAIN_RETURN_IF_ERROR(load(instance_dir + "/cert-dev.pem", input.chain.cert_dev));
  SITECHAIN_RETURN_IF_ERROR(load(instance_dir + "/cert-store.pem", input.chain.cert_store));
  // Key and Cert_site are one file (identity.pem, common/identity_file.h).
  SITECHAIN_ASSIGN_OR_RETURN(IdentityPem identity,
                             ReadIdentityFile(instance_dir + "/identity.pem"));
  SITECHAIN_ASSIGN_OR_RETURN(input.chain.cert_site, pki::Certificate::FromPem(identity.chain_pem));
  input.chain.expected_node_id = pki::NodeSpiffeId(kSite, kTracedNode);
  // Nothing uploads now: opening the package store (which empties its tmp/) is safe.
  SITECHAIN_ASSIGN_OR_RETURN(storage::BlobStore packages,
                             storage::BlobStore::Open(node_dir + "/packages", 0555));
  input.published = &published(service);
  SITECHAIN_ASSIGN_OR_RETURN(input.package, packages.Open(input.published->digest));
  input.chain.executable_fd = input.package.get();
  launch_inputs_[service] = std::move(input);
  SITECHAIN_RETURN_IF_ERROR(Undeploy(service, Node::kTraced));
  return WaitStopped(Node::kTraced, service);
}

Status BenchSite::Deploy(const std::string& service, Node node) {
  return slsm_->Deploy(service, {std::string(node == Node::kDaemon ? kDaemonNode : kTracedNode)});
}

Status BenchSite::Undeploy(const std::string& service, Node node) {
  return slsm_->Undeploy(service, {std::string(node == Node::kDaemon ? kDaemonNode : kTracedNode)});
}

std::optional<InstanceStatusView> BenchSite::Instance(Node node, const std::string& service) const {
  if (node == Node::kTraced) {
    for (InstanceStatusView& i : manager_->Snapshot().instances) {
      if (i.service == service) return std::move(i);
    }
    return std::nullopt;
  }
  grpc::ClientContext context;
  v1::NodeStatus status;
  if (!daemon_admin_->GetNodeStatus(&context, v1::GetNodeStatusRequest(), &status).ok()) {
    return std::nullopt;
  }
  for (const auto& i : status.instances()) {
    if (i.service() != service) continue;
    InstanceStatusView view;
    view.service = i.service();
    view.state = i.state();
    view.pid = i.pid();
    view.last_error = i.last_error();
    return view;
  }
  return std::nullopt;
}

Status BenchSite::WaitStopped(Node node, const std::string& service) const {
  return PollUntil(
      node == Node::kDaemon ? kDaemonPoll : kTracedPoll,
      [&] {
        auto i = Instance(node, service);
        return !i || (i->state == "stopped" && i->pid == 0);
      },
      [&] { return service + " did not stop"; });
}

std::string BenchSite::StdoutLog(Node node, const std::string& service) const {
  return NodeDir(node) + "/instances/" + service + "/stdout.log";
}

// --- what the benchmarks share ---------------------------------------------------------------

// The site, made on first use and kept, with its error if any, for the rest of the run. Owned by
// RunNlsmBenchmarks and destroyed before main returns (a Botan key must not outlive Botan's
// statics). Not thread-safe: the benchmarks run one at a time on the main thread.
class Fixtures final {
 public:
  Fixtures() = default;
  Fixtures(const Fixtures&) = delete;
  Fixtures& operator=(const Fixtures&) = delete;

  // The site, or nullptr after marking the benchmark as failed.
  BenchSite* SiteOrSkip(benchmark::State& state) {
    if (!site_) site_.emplace(BenchSite::Create());
    if (site_->ok()) return site_->value().get();
    state.SkipWithError(site_->status().WithContext("setting up the site").ToString().c_str());
    return nullptr;
  }

 private:
  std::optional<Result<std::unique_ptr<BenchSite>>> site_;
};

// One deploy to `node`: from the admin's Deploy call until the node shows the instance running
// with a pid (the iteration's manual time), with the service's "ready" line noted on the way or
// after. Then undeploys and waits, untimed. Counters are per deploy, in ms.
void RunDeploys(benchmark::State& state, BenchSite& site, BenchSite::Node node,
                const std::string& service) {
  const auto poll = node == BenchSite::Node::kDaemon ? kDaemonPoll : kTracedPoll;
  const std::string log = site.StdoutLog(node, service);
  const bool traced = node == BenchSite::Node::kTraced;
  std::map<std::string, double> sums;
  for (auto _ : state) {
    site.trace().Reset();
    const auto cpu0 = ProcessCpu();
    const SteadyTime t0 = std::chrono::steady_clock::now();
    Status s = site.Deploy(service, node);
    const SteadyTime acked = std::chrono::steady_clock::now();
    std::optional<SteadyTime> running, ready;
    std::chrono::nanoseconds cpu{0};
    std::string last_error;
    if (s.ok()) {
      s = PollUntil(
          poll,
          [&] {
            if (!running) {
              auto i = site.Instance(node, service);
              if (i && i->state == "running" && i->pid > 0) {
                running = std::chrono::steady_clock::now();
                cpu = ProcessCpu() - cpu0;
              } else if (i) {
                last_error = i->state + ": " + i->last_error;
              }
            }
            if (!ready && PrintedReady(log)) ready = std::chrono::steady_clock::now();
            return running && ready;
          },
          [&] { return service + " not running and ready; the node says " + last_error; });
    }
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(*running - t0).count());
    sums["ack_ms"] += Ms(acked - t0);
    sums["ready_ms"] += Ms(*ready - t0);
    sums["cpu_ms"] += std::chrono::duration<double, std::milli>(cpu).count();
    if (traced) {
      for (const Segment& seg : kSegments) {
        const auto from = seg.from ? site.trace().At(*seg.from) : std::optional<SteadyTime>(t0);
        const auto to = site.trace().At(seg.to);
        if (!from || !to) {
          s = Internal(std::string("the trace misses a point of ") + seg.counter);
          break;
        }
        sums[seg.counter] += Ms(*to - *from);
      }
      // From Start's return to the node's snapshot saying `running`, and to "ready" in the log
      // (which may come first: the service runs while Start's answer reaches the loop thread).
      const auto started = site.trace().At(Trace::kStartEnd);
      if (started) {
        sums["publish_ms"] += Ms(*running - *started);
        sums["exec_to_ready_ms"] += Ms(*ready - *started);
      }
    }
    if (s.ok()) s = site.Undeploy(service, node);
    if (s.ok()) s = site.WaitStopped(node, service);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  for (const auto& [name, sum] : sums) {
    state.counters[name] = benchmark::Counter(sum, benchmark::Counter::kAvgIterations);
  }
}

void BM_DeployDaemon(benchmark::State& state, Fixtures* fixtures, const ServiceSpec* spec) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  RunDeploys(state, *site, BenchSite::Node::kDaemon, spec->name);
}

void BM_DeployTraced(benchmark::State& state, Fixtures* fixtures, const ServiceSpec* spec) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  RunDeploys(state, *site, BenchSite::Node::kTraced, spec->name);
}

// The signature checks Verify does for a launch, one per certificate, each with its issuer's
// parsed key (roots with their own): as pki/verifier.cc's CheckLink and CheckRoot do them.
constexpr int kLaunchSignatures = 6;

void BM_VerifyLaunch(benchmark::State& state, Fixtures* fixtures, const ServiceSpec* spec) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  const LaunchInput& input = site->launch_input(spec->name);
  const pki::Verifier verifier(site->clock());
  for (auto _ : state) {
    pki::Verification v = verifier.Verify(input.chain);
    if (!v.ok()) {
      state.SkipWithError(v.failure->ToString().c_str());
      break;
    }
    if (std::find(v.rules_checked.begin(), v.rules_checked.end(), 6) == v.rules_checked.end()) {
      state.SkipWithError("the verifier passed without hashing the executable (rule 6)");
      break;
    }
    benchmark::DoNotOptimize(v);
  }
  state.counters["sigs"] = kLaunchSignatures;
  state.counters["bytes"] = static_cast<double>(input.published->bytes.size());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.published->bytes.size()));
}

void BM_RawSignatures(benchmark::State& state, Fixtures* fixtures, const ServiceSpec* spec) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  const pki::ChainInput& c = site->launch_input(spec->name).chain;
  const std::pair<const pki::Certificate*, const pki::Certificate*> links[kLaunchSignatures] = {
      {&*c.store_root, &*c.store_root},       {&*c.developer_identity, &*c.store_root},
      {&*c.cert_dev, &*c.developer_identity}, {&*c.cert_store, &*c.store_root},
      {&*c.site_root, &*c.site_root},         {&*c.cert_site, &*c.site_root}};
  for (auto _ : state) {
    bool ok = true;
    for (const auto& [cert, issuer] : links) ok = cert->SignatureVerifiesWith(*issuer) && ok;
    if (!ok) {
      state.SkipWithError("a good signature was refused");
      break;
    }
  }
  state.counters["sigs"] = kLaunchSignatures;
}

void BM_RawSha256(benchmark::State& state, Fixtures* fixtures, const ServiceSpec* spec) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  const Published& p = *site->launch_input(spec->name).published;
  for (auto _ : state) {
    pki::Digest d = pki::HashBytes(pki::HashAlgorithm::kSha256, p.bytes);
    benchmark::DoNotOptimize(d.bytes.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(p.bytes.size()));
}

void BM_HashFd(benchmark::State& state, Fixtures* fixtures, const ServiceSpec* spec) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  const LaunchInput& input = site->launch_input(spec->name);
  for (auto _ : state) {
    Result<pki::Digest> d = pki::HashFd(pki::HashAlgorithm::kSha256, input.package.get());
    if (!d.ok() || *d != input.published->digest) {
      state.SkipWithError(d.ok() ? "the kept package hashes differently"
                                 : d.status().ToString().c_str());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.published->bytes.size()));
}

// What SaveInstance writes, by size: cert-dev, cert-store, developer, bundle, policy.json,
// instance.json, identity.pem (key and Cert_site) (PEM sizes of Ed25519 certificates, rounded up).
void BM_SaveInstanceFiles(benchmark::State& state, Fixtures* fixtures) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  const std::string dir = site->dir() + "/save-bench";
  Status s = MakeDirectories(dir, 0700);
  constexpr size_t kSizes[] = {1100, 1100, 800, 600, 3, 300, 1300};
  const std::string bytes = SeededBytes(2048, kSeed + 2);
  for (auto _ : state) {
    for (size_t i = 0; i < std::size(kSizes) && s.ok(); ++i) {
      s = WriteFileAtomic(dir + "/file-" + std::to_string(i),
                          std::string_view(bytes).substr(0, kSizes[i]), 0600);
    }
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.counters["files"] = static_cast<double>(std::size(kSizes));
}

// The raw cost of starting a process from this one: fork, then execveat of the kept echo-service
// package's descriptor (as the supervisor execs it), until the exec has happened (the
// close-on-exec pipe reads end-of-file). The child's output goes to /dev/null; it is killed and
// reaped untimed. fork copies the page tables, so this grows with the process's resident memory
// (counter rss_mib), which here includes the store, the slsm and the 64 MiB buffers.
void BM_ForkExec(benchmark::State& state, Fixtures* fixtures) {
  BenchSite* site = fixtures->SiteOrSkip(state);
  if (site == nullptr) return;
  const int exe = site->launch_input("echo-service").package.get();
  std::string arg0 = "echo-service", arg1 = "--heartbeat-ms", arg2 = "100000";
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  char* envp[] = {nullptr};
  for (auto _ : state) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
      state.SkipWithError("pipe2 failed");
      break;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {  // only async-signal-safe calls from here
      const int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, STDIN_FILENO);
      ::dup2(devnull, STDOUT_FILENO);
      ::dup2(devnull, STDERR_FILENO);
      ::execveat(exe, "", argv, envp, AT_EMPTY_PATH);
      ::_exit(127);
    }
    ::close(report[1]);
    char byte;
    ssize_t n;
    do {
      n = ::read(report[0], &byte, 1);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    state.PauseTiming();
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int ignored;
      ::waitpid(pid, &ignored, 0);
    }
    state.ResumeTiming();
    if (pid < 0 || n != 0) {
      state.SkipWithError("fork or exec failed");
      break;
    }
  }
  long pages = 0, resident = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(statm);
  }
  state.counters["rss_mib"] =
      static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// The usual console table, then the summary: deploys, their breakdown, and the verification per
// launch beside its raw parts. With --benchmark_repetitions the median stands for a name.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      Figure& f = figures_[run.run_name.function_name];
      if (f.from_median && !median) continue;
      f = Figure{run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit),
                 run.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(run.time_unit),
                 median,
                 {}};
      for (const auto& [name, counter] : run.counters) f.counters[name] = counter.value;
    }
  }

  void Finalize() override {
    std::ostream& out = GetOutputStream();
    out << "\nSummary. Deploy: ms per deploy from the admin's Deploy call; running = the node\n"
           "shows it running with a pid; ready = \"ready\" in its stdout.log; cpu = process CPU\n"
           "(store, slsm, node) until running.\n";
    out << Row({"deploy", "node", "ack", "running", "ready", "cpu"}, 14);
    for (const ServiceSpec& spec : kServices) {
      for (const char* node : {"Daemon", "Traced"}) {
        const auto f = Lookup(std::string("BM_Deploy") + node + "/" + spec.name);
        out << Row(
            {spec.name, node == std::string("Daemon") ? "daemon" : "traced", Counter(f, "ack_ms"),
             f ? Format("%.2f", f->wall * 1e3) : "-", Counter(f, "ready_ms"), Counter(f, "cpu_ms")},
            14);
      }
    }
    out << "\nWhere a traced deploy goes (ms):\n";
    std::vector<std::string> head = {"traced"};
    for (const Segment& seg : kSegments) head.push_back(Trim(seg.counter));
    head.insert(head.end(), {"publish", "ready-exec"});
    out << Row(head, 11);
    for (const ServiceSpec& spec : kServices) {
      const auto f = Lookup(std::string("BM_DeployTraced/") + spec.name);
      std::vector<std::string> row = {Short(spec.name)};
      for (const Segment& seg : kSegments) row.push_back(Counter(f, seg.counter));
      row.insert(row.end(), {Counter(f, "publish_ms"), Counter(f, "exec_to_ready_ms")});
      out << Row(row, 11);
    }
    const auto save = Lookup("BM_SaveInstanceFiles");
    const auto fork_exec = Lookup("BM_ForkExec");
    out << "SaveInstance's 7 files alone (WriteFileAtomic, fsync each): "
        << (save ? Format("%.2f", save->wall * 1e3) : "-") << " ms\n"
        << "fork + execveat of the package from this process, until exec'd: "
        << (fork_exec ? Format("%.2f", fork_exec->wall * 1e3) : "-") << " ms (resident "
        << Counter(fork_exec, "rss_mib", "%.0f") << " MiB)\n";

    // CPU time of the calling thread: all of this work runs on it, and other load on the machine
    // (or the servers' threads in this process) disturbs it less than wall time.
    out << "\nVerification per launch, us of CPU time (raw = the 6 signature checks with parsed\n"
           "keys + SHA-256 of the same bytes in memory; / raw wall = the same ratio on wall "
           "time):\n";
    out << Row(
        {"verify", "bytes", "Verify", "6 sigs", "SHA-256", "raw", "/ raw", "/ raw wall", "HashFd"},
        11);
    for (const ServiceSpec& spec : kServices) {
      const std::string k = spec.name;
      const auto verify = Lookup("BM_VerifyLaunch/" + k), sigs = Lookup("BM_RawSignatures/" + k),
                 sha = Lookup("BM_RawSha256/" + k), fd = Lookup("BM_HashFd/" + k);
      std::optional<Figure> raw;
      if (sigs && sha) raw = Figure{sigs->wall + sha->wall, sigs->cpu + sha->cpu, false, {}};
      out << Row(
          {Short(k), Counter(verify, "bytes", "%.0f"), CpuUs(verify), CpuUs(sigs), CpuUs(sha),
           CpuUs(raw), verify && raw && raw->cpu > 0 ? Format("%.2f", verify->cpu / raw->cpu) : "-",
           verify && raw ? Format("%.2f", verify->wall / raw->wall) : "-", CpuUs(fd)},
          11);
    }
    out.flush();
  }

 private:
  struct Figure {
    double wall = 0;  // seconds per iteration
    double cpu = 0;
    bool from_median = false;
    std::map<std::string, double> counters;
  };

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
  static std::string Counter(const std::optional<Figure>& f, const std::string& name,
                             const char* fmt = "%.2f") {
    if (!f) return "-";
    auto it = f->counters.find(name);
    return it == f->counters.end() ? "-" : Format(fmt, it->second);
  }
  static std::string CpuUs(const std::optional<Figure>& f) {
    return f ? Format("%.1f", f->cpu * 1e6) : "-";
  }
  static std::string Trim(std::string counter) {  // "fetch_ms" -> "fetch"
    return counter.substr(0, counter.size() - 3);
  }
  static std::string Short(const std::string& service) {  // "echo-service" -> "echo"
    return service == "echo-service" ? "echo" : service.substr(5);
  }
  static std::string Row(const std::vector<std::string>& cells, size_t width) {
    std::string row;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = cells[i];
      if (cell.size() < width) cell.insert(i == 0 ? cell.size() : 0, width - cell.size(), ' ');
      row += cell;
    }
    return row + "\n";
  }

  std::map<std::string, Figure> figures_;  // by benchmark name
};

void RegisterBenchmarks(Fixtures* fixtures) {
  // The benchmarks keep `fixtures`, which must outlive the run.
  using Fn = void (*)(benchmark::State&, Fixtures*, const ServiceSpec*);
  for (const ServiceSpec& spec : kServices) {
    for (const auto& [name, fn] : {std::pair<const char*, Fn>{"BM_DeployDaemon", BM_DeployDaemon},
                                   {"BM_DeployTraced", BM_DeployTraced}}) {
      benchmark::RegisterBenchmark((std::string(name) + "/" + spec.name).c_str(), fn, fixtures,
                                   &spec)
          ->Unit(benchmark::kMillisecond)
          ->UseManualTime()
          ->Iterations(spec.iterations);
    }
  }
  // Each of these runs for --benchmark_min_time (default 0.5 s).
  const std::pair<const char*, Fn> verify[] = {{"BM_VerifyLaunch", BM_VerifyLaunch},
                                               {"BM_RawSignatures", BM_RawSignatures},
                                               {"BM_RawSha256", BM_RawSha256},
                                               {"BM_HashFd", BM_HashFd}};
  for (const ServiceSpec& spec : kServices) {
    for (const auto& [name, fn] : verify) {
      benchmark::RegisterBenchmark((std::string(name) + "/" + spec.name).c_str(), fn, fixtures,
                                   &spec)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  for (const auto& [name, fn] : {std::pair<const char*, void (*)(benchmark::State&, Fixtures*)>{
                                     "BM_SaveInstanceFiles", BM_SaveInstanceFiles},
                                 {"BM_ForkExec", BM_ForkExec}}) {
    benchmark::RegisterBenchmark(name, fn, fixtures)->Unit(benchmark::kMicrosecond)->UseRealTime();
  }
}

int RunNlsmBenchmarks(int argc, char** argv) {
  return bench::RunBenchmarks<SummaryReporter>(argc, argv, [](const bench::Run& run) {
    spdlog::set_level(spdlog::level::warn);  // the servers and nodes log every step at info
    Fixtures fixtures;
    RegisterBenchmarks(&fixtures);
    return run();
  });
}

}  // namespace
}  // namespace sitechain::nlsm

int main(int argc, char** argv) { return sitechain::nlsm::RunNlsmBenchmarks(argc, argv); }
