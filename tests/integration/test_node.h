#pragma once
// Test helper for the integration tests of the site manager (header-only: only *_test.cc files
// in tests/integration/ are compiled).
//
//   TestNode   plays one IoT node against a real `slsm serve`, with real gRPC, mutual TLS and
//              certificates, through the node's own client (nlsm/site_client.h): makes its node
//              key and enrolls with a join token; opens the command stream, whose commands a
//              background thread records; sends heartbeats (by hand, or from a second thread at
//              a fixed interval); makes an instance key and CSR per service and renews several
//              instances in one call; fetches packages; and verifies what it got as a node does
//              (rules 1-8 against its OWN copy of the store root and the site root it learnt at
//              enrollment).
//
//   TestNode node("n1", site.address(), store_root);
//   ASSERT_TRUE(node.Enroll(token).ok());
//   ASSERT_TRUE(node.Connect().ok());
//   node.StartHeartbeats(std::chrono::milliseconds(200));
//   auto deploy = node.WaitForCommand(nlsm::Command::Kind::kDeploy, "hello", seconds(10));
//   auto package = node.Fetch("hello");
//   auto renewed = node.Renew({"hello"});
//
// Thread-safety: a TestNode is used from the test's thread; its reader and heartbeat threads
// touch only the stream (which allows one reader plus senders on other threads) and the
// recorded commands (guarded by mu_). Destroying it closes the stream and joins both threads.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "nlsm/grpc_site_client.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/verifier.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {

// A package as a node received it: the header and the executable's bytes, nothing verified.
struct FetchedPackage {
  nlsm::PackageHeader header;
  std::string bytes;
  size_t chunks = 0;
};

class TestNode final {
 public:
  // name: the node's name. address: host:port of the slsm's node-facing service. store_root:
  // the node's own copy of the store root (never taken from the slsm).
  TestNode(std::string name, std::string address, pki::Certificate store_root)
      : name_(std::move(name)), address_(std::move(address)), store_root_(std::move(store_root)) {}
  ~TestNode() { (void)Disconnect(); }
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  const pki::Certificate& store_root() const { return store_root_; }
  Random& rng() { return rng_; }

  // Makes a fresh node key (Ed25519) and enrolls with nlsm::Enroll; on success the node has
  // an identity and a client. The slsm's (or Enroll's own) refusal otherwise; an earlier
  // identity is kept then.
  Status Enroll(const std::string& token, const std::string& as_node = "") {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    auto identity = nlsm::Enroll(address_, token, as_node.empty() ? name_ : as_node, std::move(key),
                                 rng_, Seconds(10));
    if (!identity.ok()) return identity.status();
    SetIdentity(std::move(*identity));
    return Status::Ok();
  }

  // Uses this identity from now on (e.g. another site's node certificate, for an attack).
  void SetIdentity(nlsm::NodeIdentity identity) {
    identity_.emplace(std::move(identity));
    client_.reset();
    client_ = std::make_unique<nlsm::GrpcSiteClient>(address_, *identity_, rng_, Seconds(10));
  }

  // The slsm moved (a restart on a new port): the next calls dial `address`. Closes the
  // command stream.
  void SetAddress(std::string address) {
    (void)Disconnect();
    address_ = std::move(address);
    if (identity_) {
      client_ = std::make_unique<nlsm::GrpcSiteClient>(address_, *identity_, rng_, Seconds(10));
    }
  }

  bool enrolled() const { return identity_.has_value(); }
  // Only after a successful Enroll or SetIdentity.
  const nlsm::NodeIdentity& identity() const { return *identity_; }
  nlsm::GrpcSiteClient& client() { return *client_; }

  // --- the command stream

  // Opens the command stream with a hello listing `hello`, and starts the thread that records
  // every command until the stream ends. FAILED_PRECONDITION if not enrolled or already open.
  Status Connect(const std::vector<nlsm::InstanceReport>& hello = {}) {
    if (!client_) return FailedPrecondition("the test node " + name_ + " is not enrolled");
    if (stream_) return FailedPrecondition("the test node " + name_ + " is already connected");
    auto stream = client_->Connect(hello);
    if (!stream.ok()) return stream.status();
    stream_ = std::move(*stream);
    {
      std::lock_guard lock(mu_);
      stream_ended_ = false;
    }
    reader_ = std::thread([this] {
      while (auto command = stream_->Next()) {
        std::lock_guard lock(mu_);
        if (command->kind == nlsm::Command::Kind::kHeartbeatAck) {
          ++heartbeat_acks_;
        } else {
          commands_.push_back(std::move(*command));
        }
      }
      std::lock_guard lock(mu_);
      stream_ended_ = true;
    });
    return Status::Ok();
  }

  // Stops the heartbeats, closes the stream (the node goes away) and joins the reader. Returns
  // how the stream ended; OK if none was open.
  Status Disconnect() {
    StopHeartbeats();
    if (!stream_) return Status::Ok();
    stream_->Cancel();  // Next returns nullopt (at once if the slsm already ended the call)
    if (reader_.joinable()) reader_.join();
    Status s = stream_->Close();  // on the reader's behalf, now that its reads have run out
    stream_.reset();
    return s;
  }

  // True while a stream is open and the slsm has not ended it.
  bool stream_open() {
    std::lock_guard lock(mu_);
    return stream_ != nullptr && !stream_ended_;
  }

  // Sends one heartbeat with the next counter; false if the stream is closed.
  bool SendHeartbeat() {
    if (!stream_) return false;
    std::lock_guard lock(send_mu_);
    return stream_->SendHeartbeat(++heartbeat_counter_);
  }

  // Reports a change of one instance over the stream.
  bool SendInstance(const nlsm::InstanceReport& report) {
    if (!stream_) return false;
    std::lock_guard lock(send_mu_);
    return stream_->SendInstance(report);
  }

  // Sends a heartbeat every `interval` from a background thread until StopHeartbeats (or
  // Disconnect). Needs an open stream.
  void StartHeartbeats(std::chrono::milliseconds interval) {
    StopHeartbeats();
    {
      std::lock_guard lock(mu_);
      beating_ = true;
    }
    heartbeat_thread_ = std::thread([this, interval] {
      std::unique_lock lock(mu_);
      while (beating_) {
        lock.unlock();
        (void)SendHeartbeat();
        lock.lock();
        cv_.wait_for(lock, interval, [this] { return !beating_; });
      }
    });
  }
  void StopHeartbeats() {
    {
      std::lock_guard lock(mu_);
      beating_ = false;
      cv_.notify_all();
    }
    if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  }

  // Every command received so far, in order, without heartbeat acknowledgements.
  std::vector<nlsm::Command> commands() {
    std::lock_guard lock(mu_);
    return commands_;
  }
  uint64_t heartbeat_acks() {
    std::lock_guard lock(mu_);
    return heartbeat_acks_;
  }

  // Waits at most `deadline` for a command of `kind` naming `service` among the commands
  // received from index `from` on; the first one, or nullopt.
  std::optional<nlsm::Command> WaitForCommand(nlsm::Command::Kind kind, const std::string& service,
                                              std::chrono::milliseconds deadline, size_t from = 0) {
    std::optional<nlsm::Command> found;
    WaitUntil(
        [&] {
          std::lock_guard lock(mu_);
          for (size_t i = from; i < commands_.size(); ++i) {
            const auto& c = commands_[i];
            if (c.kind != kind) continue;
            for (const auto& s : c.services) {
              if (s == service) {
                found = c;
                return true;
              }
            }
          }
          return false;
        },
        deadline, std::chrono::milliseconds(5));
    return found;
  }

  // --- instances and packages

  // Makes a fresh instance key (Ed25519) and a clean CSR (CN = service) for each service and
  // renews them all in one Renew call. The keys are kept by service (instance_key) whatever
  // the outcome.
  Result<std::vector<nlsm::RenewalOutcome>> Renew(const std::vector<std::string>& services) {
    if (!client_) return FailedPrecondition("the test node " + name_ + " is not enrolled");
    std::vector<nlsm::RenewalEntry> entries;
    for (const auto& service : services) {
      pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
      SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::Create(key, service, rng_));
      entries.push_back({service, csr.ToDer()});
      instance_keys_.insert_or_assign(service, std::move(key));
    }
    return client_->Renew(entries);
  }

  // The instance key Renew made last for `service`; nullptr if none.
  const pki::PrivateKey* instance_key(const std::string& service) const {
    auto it = instance_keys_.find(service);
    return it == instance_keys_.end() ? nullptr : &it->second;
  }

  // Fetches the package of `service`: its header and all its bytes.
  Result<FetchedPackage> Fetch(const std::string& service) {
    if (!client_) return FailedPrecondition("the test node " + name_ + " is not enrolled");
    FetchedPackage package;
    Status s = client_->FetchPackage(
        service,
        [&](const nlsm::PackageHeader& h) {
          package.header = h;
          return Status::Ok();
        },
        [&](std::span<const uint8_t> chunk) {
          package.bytes.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
          ++package.chunks;
          return Status::Ok();
        });
    if (!s.ok()) return s;
    return package;
  }

  // Verifies, as a node does before it runs a service, everything at once: Cert_dev and
  // Cert_store chain to the node's own store root (rules 1, 2, 4), Cert_site to the site root
  // from enrollment and names `expected_node_id` (3, 5), the executable at `executable_path`
  // (6), the counter not below `highest_release_counter` (7), no unknown critical extension
  // (8).
  pki::Verification Verify(const FetchedPackage& package, const pki::Certificate& cert_site,
                           const std::string& executable_path, const std::string& expected_node_id,
                           uint64_t highest_release_counter = 0) const {
    pki::ChainInput input;
    input.store_root = store_root_;
    if (identity_) input.site_root = identity_->site_root;
    auto load = [](const std::vector<uint8_t>& der) -> std::optional<pki::Certificate> {
      auto cert = pki::Certificate::FromDer(der);
      if (!cert.ok()) return std::nullopt;
      return *cert;
    };
    input.developer_identity = load(package.header.developer_certificate_der);
    input.cert_dev = load(package.header.cert_dev_der);
    input.cert_store = load(package.header.cert_store_der);
    input.cert_site = cert_site;
    input.executable_path = executable_path;
    input.expected_node_id = expected_node_id;
    input.highest_release_counter = highest_release_counter;
    return pki::Verifier(clock_).Verify(input);
  }

 private:
  const std::string name_;
  std::string address_;
  const pki::Certificate store_root_;
  SystemClock clock_;
  SystemRandom rng_;  // used by the test's thread only
  std::optional<nlsm::NodeIdentity> identity_;
  std::unique_ptr<nlsm::GrpcSiteClient> client_;
  std::map<std::string, pki::PrivateKey> instance_keys_;

  std::unique_ptr<nlsm::CommandStream> stream_;  // set and reset by the test's thread only
  std::thread reader_, heartbeat_thread_;
  std::mutex send_mu_;  // one Send at a time; guards heartbeat_counter_
  uint64_t heartbeat_counter_ = 0;

  std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  std::vector<nlsm::Command> commands_;
  uint64_t heartbeat_acks_ = 0;
  bool stream_ended_ = true;
  bool beating_ = false;
};

}  // namespace sitechain::testutil
