// The hostile-node harness of issue 17: one real `slsm serve` process, 50 honest node managers
// (node_fleet.h: the real renewal loop, gRPC client over mutual TLS and verification, in this
// process) with two instances each and a Cert_site lifetime of 20 s, so that every instance
// renews several times during the test; and a hostile client beside them: a real gRPC client
// over mutual TLS holding a validly enrolled node identity (one instance deployed to it), which
//   - floods Renew on several connections: calls naming its one service 20 times, calls of its
//     one service alone (as fast as it can), calls naming 500 services it does not run;
//   - opens Connect and never reads its stream, sending heartbeats as fast as it can and
//     replaying a hello that lists 1000 services the site never deployed to it.
// What must hold while it does (the site is within its capacity: the sum of the nodes' shares,
// ~40 certificates per second, is under the site's limit of 50):
//   - the honest nodes: zero failed renewals, none refused for the rate, zero expired
//     certificates, every instance running at the end;
//   - the hostile node: duplicates refused with INVALID_ARGUMENT, its renewals beyond its share
//     with RESOURCE_EXHAUSTED (it gets no more than its share), its non-reading stream
//     disconnected (the slsm logs why);
//   - the slsm's peak RSS (VmHWM) stays under 200 MB.
// Figures are printed on lines starting with "[ measured ] ".

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/node_state.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "sitechain/v1/site.grpc.pb.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/node_fleet.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/site_server.h"

namespace sitechain::testutil {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kHonestNodes = 50;
constexpr int kServices = 2;  // deployed to every honest node; the first also to the hostile one
constexpr int kLifetimeSeconds = 20;
constexpr double kRate = 50;  // the site's limit; the nodes' shares sum to ~40/s
constexpr double kBurst = 100;
constexpr seconds kHostileRun{40};  // two lifetimes: every instance renews 3-4 times
// The bound on what the slsm's memory grows during the attack (its peak RSS less its RSS before).
// Without the fix it grew by ~17 MB a second, ~680 MB over the attack. Under AddressSanitizer
// (scripts/test-sanitizers) the slsm shadows every byte and keeps freed memory in quarantine: the
// test lowers the quarantine to 32 MB for the slsm it starts, and the bound is higher (one run:
// 343 MiB before the attack, 209 MiB of growth; the plain build: 90 MiB peak).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
constexpr long kMaxGrowthKb = 400 * 1024;
#else
constexpr bool kSanitized = false;
constexpr long kMaxGrowthKb = 150 * 1024;
#endif
// The hostile node's share with the default options: max(10, 4 * 1) at once and
// 4 * 1 / (0.5 * 20 s) = 0.4 per second.
constexpr double kHostileBurst = 10, kHostileRate = 0.4;
constexpr char kSite[] = "site-hostile";
constexpr char kHostile[] = "hostile";
constexpr char kNotReading[] = "does not read its command stream";

std::string NodeName(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "node-%02d", i);
  return name;
}
std::string ServiceName(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "svc-%d", i);
  return name;
}

nlsm::NodeOptions FleetOptions() {
  nlsm::NodeOptions o;
  o.batch_interval = Seconds(1);
  o.heartbeat_interval = Seconds(2);
  o.reconnect_initial = Seconds(1);
  o.reconnect_max = Seconds(2);
  o.renewal.retry_initial = Seconds(1);
  o.renewal.retry_max = Seconds(2);
  return o;
}

// What the hostile client saw, by kind of attack (thread-safe counters).
struct HostileTally {
  std::atomic<uint64_t> duplicate_calls{0}, duplicate_refused{0}, duplicate_certificates{0};
  std::atomic<uint64_t> single_calls{0}, single_certificates{0}, single_exhausted{0};
  std::atomic<uint64_t> foreign_calls{0}, foreign_entries_denied{0}, foreign_certificates{0};
  std::atomic<uint64_t> other_refusals{0};
  std::atomic<uint64_t> streams{0}, streams_ended{0}, heartbeats{0}, hellos{0};
  std::mutex mu;
  std::string exhausted_message, duplicate_message, other_message;  // guarded by mu: one each
  void Keep(std::string& slot, const std::string& text) {
    std::lock_guard lock(mu);
    if (slot.empty()) slot = text;
  }
};

// The hostile node: its enrolled identity (its own state directory, made by nlsm::EnrollNode),
// dialled with a raw gRPC stub on channels of its own (distinct channel arguments: distinct TCP
// connections).
class HostileClient final {
 public:
  HostileClient(const nlsm::NodeFiles& files, Random& rng) : address_(files.slsm) {
    ssl_.pem_root_certs = files.identity.site_root.ToPem();
    ssl_.pem_cert_chain = files.identity.certificate.ToPem();
    ssl_.pem_private_key = files.identity.key.ToPem(std::nullopt, rng);
    // CSRs for instance keys (the slsm never gets far enough to care whose they are).
    for (int i = 0; i < 4; ++i) {
      pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
      auto csr = pki::CertificateRequest::Create(key, ServiceName(0), rng);
      if (csr.ok()) {
        auto der = csr->ToDer();
        csrs_.emplace_back(der.begin(), der.end());
      }
    }
  }

  std::unique_ptr<v1::Site::Stub> Stub(int connection) const {
    grpc::ChannelArguments args;
    args.SetInt("sitechain.test.hostile_connection", connection);
    args.SetMaxReceiveMessageSize(4 << 20);
    return v1::Site::NewStub(grpc::CreateCustomChannel(address_, grpc::SslCredentials(ssl_), args));
  }

  // One Renew call naming `services`; the call's status and its answer.
  grpc::Status Renew(v1::Site::Stub& stub, const std::vector<std::string>& services,
                     v1::RenewResponse* response) const {
    v1::RenewRequest request;
    for (size_t i = 0; i < services.size(); ++i) {
      auto* entry = request.add_instances();
      entry->set_service(services[i]);
      entry->set_csr_der(csrs_[i % csrs_.size()]);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(30));
    return stub.Renew(&context, request, response);
  }

  // Floods Renew until `stop`: the three kinds of call in turn.
  void FloodRenew(int connection, const std::atomic<bool>& stop, HostileTally& t) const {
    auto stub = Stub(connection);
    const std::vector<std::string> duplicates(20, ServiceName(0));
    std::vector<std::string> foreign;
    for (int i = 0; i < 500; ++i) foreign.push_back("not-mine-" + std::to_string(i));
    for (uint64_t round = 0; !stop; ++round) {
      v1::RenewResponse response;
      if (round % 3 == 0) {
        ++t.duplicate_calls;
        const grpc::Status s = Renew(*stub, duplicates, &response);
        if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          ++t.duplicate_refused;
          t.Keep(t.duplicate_message, s.error_message());
        } else if (s.ok()) {
          for (const auto& c : response.certificates()) t.duplicate_certificates += c.code() == 0;
        }
      } else if (round % 3 == 1) {
        ++t.single_calls;
        const grpc::Status s = Renew(*stub, {ServiceName(0)}, &response);
        if (!s.ok()) {
          ++t.other_refusals;
          t.Keep(t.other_message, s.error_message());
          continue;
        }
        for (const auto& c : response.certificates()) {
          if (c.code() == 0) {
            ++t.single_certificates;
          } else if (c.code() == static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED)) {
            ++t.single_exhausted;
            t.Keep(t.exhausted_message, c.message());
          } else {
            ++t.other_refusals;
            t.Keep(t.other_message, c.message());
          }
        }
      } else {
        ++t.foreign_calls;
        const grpc::Status s = Renew(*stub, foreign, &response);
        if (!s.ok()) continue;
        for (const auto& c : response.certificates()) {
          if (c.code() == static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)) {
            ++t.foreign_entries_denied;
          } else if (c.code() == 0) {
            ++t.foreign_certificates;
          }
        }
      }
    }
  }

  // Opens Connect and never reads: heartbeats as fast as it can, the hello of 1000 services
  // that are not its own again every 50. When the slsm ends the stream, it connects again.
  void NeverRead(const std::atomic<bool>& stop, HostileTally& t) const {
    auto stub = Stub(100);
    v1::NodeMessage hello;
    for (int i = 0; i < 1000; ++i) {
      auto* instance = hello.mutable_hello()->add_instances();
      instance->set_service("ghost-" + std::to_string(i));
      instance->set_state("running");
      instance->set_detail("replayed by a hostile node");
    }
    while (!stop) {
      grpc::ClientContext context;
      auto stream = stub->Connect(&context);
      ++t.streams;
      bool open = true;
      for (uint64_t beat = 0; open && !stop; ++beat) {
        if (beat % 50 == 0) {
          open = stream->Write(hello);
          ++t.hellos;
        } else {
          v1::NodeMessage m;
          m.set_heartbeat(beat);
          open = stream->Write(m);
          ++t.heartbeats;
        }
      }
      if (!open) ++t.streams_ended;  // the slsm ended it (the stream's reads never ran)
      context.TryCancel();
      (void)stream->Finish();
    }
  }

 private:
  const std::string address_;
  grpc::SslCredentialsOptions ssl_;
  std::vector<std::string> csrs_;
};

class HostileNodeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    {
      std::lock_guard lock(fleet_mu_);
      nodes_.clear();
    }
    if (slsm_) {
      EXPECT_TRUE(slsm_->Stop(SIGTERM)) << "the slsm did not exit cleanly";
      slsm_.reset();
    }
    world_.store().reset();
    if (previous_logger_) spdlog::set_default_logger(previous_logger_);
    std::error_code ec;
    if (!node_root_.empty()) std::filesystem::remove_all(node_root_, ec);
  }

  std::string Slsm(std::vector<std::string> args, std::string* out = nullptr) const {
    args.insert(args.begin(), ProgramWorld::Bin("slsm"));
    args.insert(args.end(), {"--dir", "site"});
    ProcessResult r = RunProcess(args, work_.path(), seconds(60));
    if (out != nullptr) *out = r.out;
    return r.exit_code == 0 ? std::string() : r.Describe();
  }

  // Enrolls `name` with its own code into <node_root>/<name>; "" or what went wrong.
  std::string Enroll(const std::string& name, Random& rng) {
    std::string token;
    if (auto e = Slsm({"tokens", "create", name}, &token); !e.empty()) return e;
    nlsm::EnrollOptions o;
    o.dir = node_root_ + "/" + name;
    o.node = name;
    o.slsm = slsm_->address();
    o.token = Trim(token);
    o.store_root_path = work_.Path("node-store-root.pem");
    auto enrolled = nlsm::EnrollNode(o, clock_, rng);
    return enrolled.ok() ? "" : name + ": " + enrolled.status().ToString();
  }

  struct Observation {
    int connected = 0, running = 0, expired = 0;
    std::string first_bad;
  };
  Observation Observe() {
    Observation o;
    const TimePoint now = clock_.Now();
    std::lock_guard lock(fleet_mu_);
    for (const auto& node : nodes_) {
      const nlsm::NodeStatusView view = node->Snapshot();
      o.connected += view.connected ? 1 : 0;
      for (const auto& i : view.instances) {
        if (i.state == "running") ++o.running;
        if (i.state == "expired" || (i.state == "running" && i.not_after && *i.not_after <= now)) {
          ++o.expired;
          if (o.first_bad.empty()) o.first_bad = view.node + "/" + i.service + " " + i.state;
        }
      }
    }
    return o;
  }

  // The store, the releases, the slsm, 50 enrolled and running node managers with both services
  // running, and the hostile node enrolled with the first service deployed to it.
  std::string Build() {
    if (BinDir().empty()) return "SITECHAIN_BIN_DIR is not set; run the tests with ctest";
    std::string tmpl = "/dev/shm/sitechain-hostile-XXXXXX";  // node state on tmpfs (fsyncs)
    if (!std::filesystem::is_directory("/dev/shm") || ::mkdtemp(tmpl.data()) == nullptr) {
      tmpl = work_.Path("nodes-XXXXXX");
      if (::mkdtemp(tmpl.data()) == nullptr) return "cannot make the nodes' directory";
    }
    node_root_ = tmpl;
    std::vector<WorldRelease> releases;
    for (int s = 0; s < kServices; ++s) {
      const std::string name = ServiceName(s);
      if (!WriteWholeFile(work_.Path(name), "#!/bin/sh\necho " + name + "\n")) return "write";
      releases.push_back({.file = name,
                          .name = name,
                          .cert_dev = name + ".cert.pem",
                          .cert_store = name + ".store.pem"});
    }
    if (Status s = world_.Build("dev", releases); !s.ok()) return s.ToString();
    if (Status s = world_.InitSite("site", kSite); !s.ok()) return s.ToString();
    // The defaults of the per-node bounds (node_issuance_factor 4, node_issuance_min_burst 10,
    // max_node_commands 1024): what an operator gets.
    const json config = {{"cert_site_lifetime", std::to_string(kLifetimeSeconds) + "s"},
                         {"heartbeat_timeout", "20s"},
                         {"policy_push_window", "5s"},
                         {"max_issuance_per_second", kRate},
                         {"issuance_burst", kBurst}};
    if (kSanitized) {
      const char* asan = std::getenv("ASAN_OPTIONS");
      const std::string options = std::string(asan ? asan : "") + ":quarantine_size_mb=32";
      ::setenv("ASAN_OPTIONS", options.c_str(), 1);  // for the slsm this test starts
    }
    slsm_ = world_.NewSite("site", config);
    if (auto started = slsm_->Start(); !started) return started.message();
    for (int s = 0; s < kServices; ++s) {
      if (auto e = Slsm({"install", ServiceName(s)}); !e.empty()) return e;
    }
    if (!WriteWholeFile(work_.Path("node-store-root.pem"),
                        ReadWholeFile(work_.Path("store/root.pem")))) {
      return "cannot copy the store root";
    }
    std::vector<std::string> errors(kHonestNodes + 1);
    std::atomic<int> next{0};
    auto enroll = [&] {
      SystemRandom rng;
      for (int i = next++; i <= kHonestNodes; i = next++) {
        errors[i] = Enroll(i == kHonestNodes ? kHostile : NodeName(i), rng);
      }
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t) workers.emplace_back(enroll);
    for (auto& t : workers) t.join();
    for (const auto& e : errors) {
      if (!e.empty()) return e;
    }

    sink_ = std::make_shared<CountingSink>();
    sink_->set_level(spdlog::level::warn);
    previous_logger_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("fleet", sink_);
    logger->set_level(spdlog::level::warn);
    spdlog::set_default_logger(logger);

    {
      std::lock_guard lock(fleet_mu_);
      for (int i = 0; i < kHonestNodes; ++i) {
        nodes_.push_back(
            std::make_unique<FleetNode>(NodeName(i), node_root_ + "/" + NodeName(i), log_));
        if (Status s = nodes_.back()->Start(clock_, FleetOptions()); !s.ok()) return s.ToString();
      }
    }
    if (!WaitUntil([&] { return Observe().connected == kHonestNodes; }, seconds(60),
                   milliseconds(200))) {
      return "not every node connected: " + std::to_string(Observe().connected);
    }
    std::string all;
    for (int i = 0; i < kHonestNodes; ++i) all += (i ? "," : "") + NodeName(i);
    for (int s = 0; s < kServices; ++s) {
      if (auto e = Slsm({"deploy", ServiceName(s), "--nodes", all}); !e.empty()) return e;
    }
    if (auto e = Slsm({"deploy", ServiceName(0), "--nodes", kHostile}); !e.empty()) return e;
    if (!WaitUntil([&] { return Observe().running == kHonestNodes * kServices; }, seconds(90),
                   milliseconds(250))) {
      const Observation o = Observe();
      return "only " + std::to_string(o.running) + " of " +
             std::to_string(kHonestNodes * kServices) + " instances run; " + o.first_bad;
    }
    return "";
  }

  TempDir work_;
  ProgramWorld world_{work_.path(), "store", "Hostile store"};
  std::string node_root_;
  std::unique_ptr<SiteServer> slsm_;
  RenewalLog log_;  // the honest nodes' calls only
  SystemClock clock_;
  std::mutex fleet_mu_;
  std::vector<std::unique_ptr<FleetNode>> nodes_;  // guarded by fleet_mu_
  std::shared_ptr<CountingSink> sink_;
  std::shared_ptr<spdlog::logger> previous_logger_;
};

TEST_F(HostileNodeTest, AHostileNodeCannotHurtTheHonestOnes) {
  const std::string built = Build();
  ASSERT_TRUE(built.empty()) << built;
  const pid_t slsm_pid = slsm_->process().pid();
  const long rss_before = ProcessStatusKb(slsm_pid, "VmRSS");
  const size_t mark = log_.size();
  const uint64_t expired_before = sink_->expired();

  SystemRandom rng;
  Result<nlsm::NodeFiles> hostile_files = nlsm::LoadNode(node_root_ + "/" + kHostile);
  ASSERT_TRUE(hostile_files.ok()) << hostile_files.status().ToString();
  const HostileClient hostile(*hostile_files, rng);
  HostileTally tally;
  std::atomic<bool> stop{false};
  std::vector<std::thread> attackers;
  const auto attack_start = std::chrono::steady_clock::now();
  for (int c = 0; c < 4; ++c) {
    attackers.emplace_back([&, c] { hostile.FloodRenew(c, stop, tally); });
  }
  attackers.emplace_back([&] { hostile.NeverRead(stop, tally); });

  // Watch the honest fleet while the attack runs. The run ends early only if the slsm's memory
  // runs away (the hole): the test fails then, without taking the machine with it.
  const auto start = std::chrono::steady_clock::now();
  int max_expired = 0, samples = 0;
  std::string first_bad;
  long peak_rss = 0;
  while (std::chrono::steady_clock::now() - start < kHostileRun) {
    const Observation o = Observe();
    ++samples;
    if (o.expired > max_expired) {
      max_expired = o.expired;
      first_bad = o.first_bad;
    }
    peak_rss = std::max(peak_rss, ProcessStatusKb(slsm_pid, "VmRSS"));
    if (peak_rss - rss_before > 2 * kMaxGrowthKb) break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  const double attack_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  for (auto& t : attackers) t.join();
  // From the first attack to the last answer: the hostile node's bucket bounds what it got in
  // this time (burst + rate x time), whatever it sent.
  const double hostile_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - attack_start).count();
  const long hwm = ProcessStatusKb(slsm_pid, "VmHWM");
  const Observation end = Observe();

  // The honest nodes' renewals during the attack.
  uint64_t calls = 0, ok = 0, rate_limited = 0, failed = 0;
  for (const auto& c : log_.Since(mark)) {
    ++calls;
    ok += c.ok;
    rate_limited += c.rate_limited;
    failed += c.failed;
  }
  const std::string slsm_log = slsm_->log();
  size_t not_reading_lines = 0;
  for (size_t at = slsm_log.find(kNotReading); at != std::string::npos;
       at = slsm_log.find(kNotReading, at + 1)) {
    ++not_reading_lines;
  }
  const uint64_t hostile_certificates =
      tally.duplicate_certificates + tally.single_certificates + tally.foreign_certificates;

  std::printf(
      "[ measured ] hostile: %d honest nodes x %d services, Cert_site lifetime %d s, "
      "attack %.0f s\n",
      kHonestNodes, kServices, kLifetimeSeconds, attack_s);
  std::printf(
      "[ measured ] hostile: honest renewals ok %llu, failed %llu, rate-limited %llu in "
      "%llu calls; expired at once max %d (%llu expiries logged)\n",
      static_cast<unsigned long long>(ok), static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(rate_limited), static_cast<unsigned long long>(calls),
      max_expired, static_cast<unsigned long long>(sink_->expired() - expired_before));
  std::printf(
      "[ measured ] hostile: its Renew calls: %llu with duplicates (%llu refused, %llu "
      "certificates), %llu single (%llu certificates, %llu RESOURCE_EXHAUSTED), %llu "
      "naming 500 foreign services (%llu entries denied, %llu certificates)\n",
      static_cast<unsigned long long>(tally.duplicate_calls.load()),
      static_cast<unsigned long long>(tally.duplicate_refused.load()),
      static_cast<unsigned long long>(tally.duplicate_certificates.load()),
      static_cast<unsigned long long>(tally.single_calls.load()),
      static_cast<unsigned long long>(tally.single_certificates.load()),
      static_cast<unsigned long long>(tally.single_exhausted.load()),
      static_cast<unsigned long long>(tally.foreign_calls.load()),
      static_cast<unsigned long long>(tally.foreign_entries_denied.load()),
      static_cast<unsigned long long>(tally.foreign_certificates.load()));
  std::printf(
      "[ measured ] hostile: its streams: %llu opened, %llu ended by the slsm, %llu "
      "heartbeats and %llu hellos of 1000 foreign services sent; %zu '%s' lines logged\n",
      static_cast<unsigned long long>(tally.streams.load()),
      static_cast<unsigned long long>(tally.streams_ended.load()),
      static_cast<unsigned long long>(tally.heartbeats.load()),
      static_cast<unsigned long long>(tally.hellos.load()), not_reading_lines, kNotReading);
  std::printf(
      "[ measured ] hostile: slsm peak RSS (VmHWM) %.1f MiB (RSS %.1f MiB before the "
      "attack; growth bound %ld MiB)\n",
      hwm / 1024.0, rss_before / 1024.0, kMaxGrowthKb / 1024);

  // The honest nodes did not notice.
  EXPECT_GE(samples, 1 + static_cast<int>(attack_s / 5)) << "the fleet was hardly observed";
  EXPECT_GT(ok, 0u) << "no honest renewal during the attack";
  EXPECT_EQ(failed, 0u) << ::testing::PrintToString(log_.failures());
  EXPECT_EQ(rate_limited, 0u) << "the hostile node pushed honest ones into RESOURCE_EXHAUSTED";
  EXPECT_EQ(max_expired, 0) << first_bad;
  EXPECT_EQ(sink_->expired(), expired_before) << ::testing::PrintToString(sink_->first());
  EXPECT_EQ(end.running, kHonestNodes * kServices) << end.first_bad;

  // The hostile node was refused as designed and got no more than its share.
  EXPECT_GT(tally.duplicate_calls.load(), 0u);
  EXPECT_EQ(tally.duplicate_refused.load(), tally.duplicate_calls.load());
  EXPECT_NE(tally.duplicate_message.find("more than once"), std::string::npos)
      << tally.duplicate_message;
  EXPECT_GT(tally.single_exhausted.load(), 0u);
  EXPECT_NE(tally.exhausted_message.find("its share"), std::string::npos)
      << tally.exhausted_message;
  EXPECT_EQ(tally.foreign_certificates.load(), 0u);
  EXPECT_EQ(tally.foreign_entries_denied.load(), 500 * tally.foreign_calls.load());
  EXPECT_LE(static_cast<double>(hostile_certificates),
            kHostileBurst + kHostileRate * hostile_s + 1);
  EXPECT_EQ(tally.other_refusals.load(), 0u) << tally.other_message;

  // Its stream that never read was ended, and the slsm said why.
  EXPECT_GE(tally.streams_ended.load(), 1u);
  EXPECT_GE(not_reading_lines, 1u) << "the slsm never logged '" << kNotReading << "'";
  EXPECT_NE(slsm_log.find("node hostile " + std::string(kNotReading)), std::string::npos);

  // And the slsm's memory stayed bounded.
  EXPECT_GT(hwm, 0) << "cannot read the slsm's VmHWM";
  EXPECT_GT(rss_before, 0) << "cannot read the slsm's VmRSS";
  EXPECT_LT(hwm - rss_before, kMaxGrowthKb)
      << "peak RSS " << hwm / 1024 << " MiB, " << rss_before / 1024 << " MiB before the attack";
}

}  // namespace
}  // namespace sitechain::testutil
