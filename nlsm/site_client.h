#pragma once
// What the node manager needs of its site manager, as a small interface it owns (SiteClient),
// with the plain types that cross it. The implementation over gRPC with mutual TLS, and the
// first contact (enrollment), are in grpc_site_client.h; tests hand in fakes. Nothing here
// includes gRPC or protobuf: the node's core library (the node manager and its parts) is built
// without them.
//
// Ownership: a SiteClient is owned by whoever wires the node (the daemon, a test) and lent to the
// node manager; a CommandStream belongs to the caller of Connect. Thread-safety: an
// implementation's calls may be made from several threads. A CommandStream has one reader (Next,
// Close); Send* and Cancel may be called from other threads. Errors: transport failures and the
// slsm's refusals are statuses (UNAVAILABLE when it cannot be reached, its own code otherwise).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::nlsm {

// The package of a service, as the slsm describes it (nothing here is believed until verified).
struct PackageHeader {
  std::string service, name, version;
  uint64_t release_counter = 0;
  std::string digest_algorithm, digest;
  uint64_t size = 0;
  std::vector<uint8_t> cert_dev_der, cert_store_der, developer_certificate_der;
};

struct RenewalEntry {
  std::string service;
  std::vector<uint8_t> csr_der;  // for the instance key
};

// The slsm's answer for one instance: a Cert_site (DER) or why not, and the suggested window.
struct RenewalOutcome {
  std::string service;
  Status status;
  std::vector<uint8_t> cert_site_der;
  TimePoint renew_after, renew_before;
  // The federated site roots of the answer (the same in every outcome of one call), PEM.
  std::string federation_pem;
};

// A command pushed by the slsm over the node's stream.
struct Command {
  enum class Kind { kDeploy, kStop, kRenewNow, kHeartbeatAck };
  Kind kind = Kind::kDeploy;
  std::vector<std::string> services;
  std::string digest;
  std::string reason;
  Seconds window{0};
  uint64_t heartbeat = 0;
};

struct InstanceReport {
  std::string service, state, detail;
  std::optional<TimePoint> not_after;
};

class CommandStream {
 public:
  virtual ~CommandStream() = default;
  // Blocks for the next command; nullopt when the stream ended (the status says why).
  virtual std::optional<Command> Next() = 0;
  virtual bool SendHeartbeat(uint64_t counter) = 0;
  virtual bool SendInstance(const InstanceReport& report) = 0;
  // Makes a blocked Next return nullopt soon; any thread may call it.
  virtual void Cancel() = 0;
  // How the stream ended (the slsm's status, e.g. PERMISSION_DENIED for an evicted node). Call
  // it from the reading thread, after Next returned nullopt, or to abandon the stream (it then
  // cancels first). Idempotent.
  virtual Status Close() = 0;
};

class SiteClient {
 public:
  virtual ~SiteClient() = default;
  virtual Result<std::vector<RenewalOutcome>> Renew(const std::vector<RenewalEntry>& entries) = 0;
  // Renew, answered within `budget` at the latest (DEADLINE_EXCEEDED then; the call's own
  // timeout still applies): the node manager must be back in time to stop what expires
  // meanwhile, however dead the link. An implementation whose calls cannot hang may keep this
  // default.
  virtual Result<std::vector<RenewalOutcome>> RenewWithin(const std::vector<RenewalEntry>& entries,
                                                          std::chrono::milliseconds budget) {
    (void)budget;
    return Renew(entries);
  }
  // Streams the service's package: on_header once, then on_chunk per piece.
  virtual Status FetchPackage(const std::string& service,
                              const std::function<Status(const PackageHeader&)>& on_header,
                              const std::function<Status(std::span<const uint8_t>)>& on_chunk) = 0;
  virtual Result<pki::Certificate> RenewNode(std::span<const uint8_t> csr_der) = 0;
  // Opens the command stream and sends the hello with the node's instances.
  virtual Result<std::unique_ptr<CommandStream>> Connect(
      const std::vector<InstanceReport>& hello) = 0;
  // Presents this node certificate from now on (after RenewNode).
  virtual void SetNodeCertificate(const pki::Certificate& certificate) = 0;
};

// The node's identity towards its site: what enrollment produced.
struct NodeIdentity {
  pki::Certificate certificate;  // the node certificate
  pki::PrivateKey key;           // the node key (made on the node)
  pki::Certificate site_root;
};

}  // namespace sitechain::nlsm
