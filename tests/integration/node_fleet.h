#pragma once
// Test helper for the load tests: many real node managers in one process (header-only: only
// *_test.cc files in tests/integration/ are compiled).
//
//   RenewalLog         every Renew call the nodes made, as the client saw it: when it ended, how
//                      long it took, how many instances it named and what became of each.
//   MeasuredSiteClient the node's real gRPC client (nlsm::GrpcSiteClient, mutual TLS) behind the
//                      nlsm::SiteClient interface, timing each Renew into a RenewalLog.
//   RecordingRunner    an nlsm::ProcessRunner that records what it is asked to run and runs
//                      nothing (a "running" service is a map entry).
//   FleetNode          one enrolled node: its state directory, its client and runner, and a real
//                      nlsm::NodeManager (the real renewal loop, verification and command
//                      stream) that can be stopped and started again on the same directory.
//   CountingSink       an spdlog sink for the node managers' warnings: counts them and the
//                      expiries ("without renewal"), keeps the first 20 lines.
//   ProcessStatusKb    a field of /proc/<pid>/status (VmHWM, VmRSS), for the slsm's memory.
//
// Thread-safety: RenewalLog and RecordingRunner are thread-safe (node managers call them from
// their threads, the test reads them from its own). A FleetNode is started and stopped by one
// thread at a time; Snapshot may be called from any thread while it runs.

#include <spdlog/sinks/base_sink.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "nlsm/grpc_site_client.h"
#include "nlsm/node_manager.h"
#include "nlsm/node_state.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

class RenewalLog final {
 public:
  struct Call {
    double end_s = 0;       // seconds since the log was made (steady clock), when it returned
    double latency_ms = 0;  // client-side, the whole RPC
    uint32_t entries = 0;   // instances named
    uint32_t ok = 0;        // Cert_site received
    uint32_t rate_limited = 0;
    uint32_t failed = 0;       // any other refusal, or the whole call failed
    bool call_failed = false;  // the whole call failed (transport, deadline): failed == entries
  };

  RenewalLog() : start_(std::chrono::steady_clock::now()) {}

  double Now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  void Record(std::chrono::steady_clock::time_point began, size_t entries,
              const Result<std::vector<nlsm::RenewalOutcome>>& outcomes) {
    const auto end = std::chrono::steady_clock::now();
    Call c;
    c.end_s = std::chrono::duration<double>(end - start_).count();
    c.latency_ms = std::chrono::duration<double, std::milli>(end - began).count();
    c.entries = static_cast<uint32_t>(entries);
    std::vector<std::string> why;
    if (!outcomes.ok()) {
      c.failed = c.entries;
      c.call_failed = true;
      why.push_back("the call: " + outcomes.status().ToString());
    } else {
      for (const auto& o : *outcomes) {
        if (o.status.ok()) {
          ++c.ok;
        } else if (o.status.code() == StatusCode::kResourceExhausted) {
          ++c.rate_limited;
        } else {
          ++c.failed;
          why.push_back(o.service + ": " + o.status.ToString());
        }
      }
      if (outcomes->size() < entries) {
        c.failed += static_cast<uint32_t>(entries - outcomes->size());
        why.push_back("instances left out of the answer");
      }
    }
    std::lock_guard lock(mu_);
    calls_.push_back(c);
    for (auto& w : why) {
      if (failures_.size() < 20) failures_.push_back(std::move(w));
    }
  }

  // The calls recorded from index `from` on (a test keeps size() as a mark).
  std::vector<Call> Since(size_t from) const {
    std::lock_guard lock(mu_);
    if (from >= calls_.size()) return {};
    return std::vector<Call>(calls_.begin() + static_cast<std::ptrdiff_t>(from), calls_.end());
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return calls_.size();
  }
  // The first few failures' reasons (not rate limiting), for assertion messages.
  std::vector<std::string> failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  const std::chrono::steady_clock::time_point start_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;            // guarded by mu_
  std::vector<std::string> failures_;  // guarded by mu_
};

class MeasuredSiteClient final : public nlsm::SiteClient {
 public:
  MeasuredSiteClient(std::unique_ptr<nlsm::GrpcSiteClient> client, RenewalLog& log)
      : client_(std::move(client)), log_(log) {}

  Result<std::vector<nlsm::RenewalOutcome>> Renew(
      const std::vector<nlsm::RenewalEntry>& entries) override {
    const auto began = std::chrono::steady_clock::now();
    auto outcomes = client_->Renew(entries);
    log_.Record(began, entries.size(), outcomes);
    return outcomes;
  }
  Status FetchPackage(const std::string& service,
                      const std::function<Status(const nlsm::PackageHeader&)>& on_header,
                      const std::function<Status(std::span<const uint8_t>)>& on_chunk) override {
    return client_->FetchPackage(service, on_header, on_chunk);
  }
  Result<pki::Certificate> RenewNode(std::span<const uint8_t> csr_der) override {
    return client_->RenewNode(csr_der);
  }
  Result<std::unique_ptr<nlsm::CommandStream>> Connect(
      const std::vector<nlsm::InstanceReport>& hello) override {
    return client_->Connect(hello);
  }
  void SetNodeCertificate(const pki::Certificate& certificate) override {
    client_->SetNodeCertificate(certificate);
  }

 private:
  std::unique_ptr<nlsm::GrpcSiteClient> client_;
  RenewalLog& log_;
};

class RecordingRunner final : public nlsm::ProcessRunner {
 public:
  Status Start(const nlsm::LaunchSpec& spec) override {
    std::lock_guard lock(mu_);
    nlsm::ProcessInfo info;
    info.service = spec.service;
    info.state = nlsm::ProcessState::kRunning;
    info.pid = ++next_pid_;
    running_[spec.service] = info;
    ++starts_;
    return Status::Ok();
  }
  Status Stop(const std::string& service) override {
    std::lock_guard lock(mu_);
    running_.erase(service);
    return Status::Ok();
  }
  std::optional<nlsm::ProcessInfo> Info(const std::string& service) const override {
    std::lock_guard lock(mu_);
    auto it = running_.find(service);
    if (it == running_.end()) return std::nullopt;
    return it->second;
  }
  Status Signal(const std::string&, int) override { return Status::Ok(); }
  uint64_t starts() const {
    std::lock_guard lock(mu_);
    return starts_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, nlsm::ProcessInfo> running_;  // guarded by mu_
  int next_pid_ = 1000;                               // guarded by mu_
  uint64_t starts_ = 0;                               // guarded by mu_
};

class FleetNode final {
 public:
  // dir: a state directory made by nlsm::EnrollNode.
  FleetNode(std::string name, std::string dir, RenewalLog& log)
      : name_(std::move(name)), dir_(std::move(dir)), log_(log) {}
  ~FleetNode() { Stop(); }
  FleetNode(const FleetNode&) = delete;
  FleetNode& operator=(const FleetNode&) = delete;

  // Loads the node's files and starts a node manager on them (it recovers what the directory
  // holds, as `nlsm serve` does after a restart).
  Status Start(const Clock& clock, const nlsm::NodeOptions& options) {
    if (manager_) return FailedPrecondition(name_ + " is already running");
    SITECHAIN_ASSIGN_OR_RETURN(nlsm::NodeFiles files, nlsm::LoadNode(dir_));
    // The client keeps its own copies of the identity's PEMs.
    client_ = std::make_unique<MeasuredSiteClient>(
        std::make_unique<nlsm::GrpcSiteClient>(files.slsm, files.identity, rng_, Seconds(30)),
        log_);
    manager_ = std::make_unique<nlsm::NodeManager>(dir_, std::move(files), *client_, runner_, clock,
                                                   rng_, options);
    return manager_->Start();
  }
  // Stops the node manager (the services keep "running" in the runner, as real processes
  // would); Start brings it back.
  void Stop() {
    if (manager_) manager_->Shutdown(false);
    manager_.reset();
    client_.reset();
  }

  bool running() const { return manager_ != nullptr; }
  nlsm::NodeStatusView Snapshot() const { return manager_->Snapshot(); }
  const std::string& name() const { return name_; }
  RecordingRunner& runner() { return runner_; }

 private:
  const std::string name_, dir_;
  RenewalLog& log_;
  SystemRandom rng_;
  RecordingRunner runner_;
  std::unique_ptr<MeasuredSiteClient> client_;
  std::unique_ptr<nlsm::NodeManager> manager_;
};

// A field of /proc/<pid>/status in kB (VmHWM, VmRSS); -1 if unreadable.
inline long ProcessStatusKb(pid_t pid, const std::string& key) {
  std::istringstream in(ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  }
  return -1;
}

// Counts what the node managers log at warn and above, and keeps the first lines.
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  uint64_t expired() {
    std::lock_guard lock(mutex_);
    return expired_;
  }
  uint64_t warnings() {
    std::lock_guard lock(mutex_);
    return warnings_;
  }
  std::vector<std::string> first() {
    std::lock_guard lock(mutex_);
    return first_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text(msg.payload.data(), msg.payload.size());
    ++warnings_;
    if (text.find("without renewal") != std::string::npos) ++expired_;
    if (first_.size() < 20) first_.push_back(text);
  }
  void flush_() override {}

 private:
  uint64_t expired_ = 0, warnings_ = 0;  // guarded by mutex_
  std::vector<std::string> first_;       // guarded by mutex_
};

}  // namespace sitechain::testutil
