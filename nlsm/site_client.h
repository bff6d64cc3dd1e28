#pragma once
// What the node manager needs of its site manager, as a small interface it owns (SiteClient),
// and its implementation over gRPC with mutual TLS (GrpcSiteClient). Enroll is the first
// contact: it authenticates the slsm by the site root fingerprint the join token carries.
//
// Plain structs cross this interface; protobuf types stay in site_client.cc and
// site_messages.h (the reading of the slsm's messages).
// Thread-safety: GrpcSiteClient's calls may be made from several threads. A CommandStream has
// one reader (Next, Close); Send* and Cancel may be called from other threads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
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

// How GrpcSiteClient talks to the slsm. Every call has a deadline; keepalive pings on the
// channel find a dead link (its calls then fail UNAVAILABLE and the next one dials again)
// instead of leaving the node waiting on a connection that will never answer.
struct SiteClientOptions {
  Seconds call_timeout{30};  // per unary call; a package fetch gets 20 times this
  Seconds keepalive_time{20};
  Seconds keepalive_timeout{10};
  Seconds connect_timeout{10};        // one connection attempt (TCP + TLS handshake)
  Seconds max_reconnect_backoff{30};  // between connection attempts
};

class GrpcSiteClient final : public SiteClient {
 public:
  // `address`: host:port of the slsm. The server must present a certificate that chains to
  // identity.site_root; the client presents the node certificate.
  GrpcSiteClient(const std::string& address, const NodeIdentity& identity, Random& rng,
                 Seconds call_timeout = Seconds(30));
  GrpcSiteClient(const std::string& address, const NodeIdentity& identity, Random& rng,
                 const SiteClientOptions& options);
  ~GrpcSiteClient() override;

  Result<std::vector<RenewalOutcome>> Renew(const std::vector<RenewalEntry>& entries) override;
  Result<std::vector<RenewalOutcome>> RenewWithin(const std::vector<RenewalEntry>& entries,
                                                  std::chrono::milliseconds budget) override;
  Status FetchPackage(const std::string& service,
                      const std::function<Status(const PackageHeader&)>& on_header,
                      const std::function<Status(std::span<const uint8_t>)>& on_chunk) override;
  Result<pki::Certificate> RenewNode(std::span<const uint8_t> csr_der) override;
  Result<std::unique_ptr<CommandStream>> Connect(const std::vector<InstanceReport>& hello) override;
  void SetNodeCertificate(const pki::Certificate& certificate) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// First contact with a site: fetches the site root over an unverified TLS connection, checks
// that its SHA-256 is the fingerprint in the join token (UNAUTHENTICATED otherwise: someone else
// answered), then enrolls over TLS verified against that root with a CSR for `node_key`.
// Returns the node certificate and the site root. The slsm's refusals come back unchanged.
Result<NodeIdentity> Enroll(const std::string& address, const std::string& token,
                            const std::string& node, pki::PrivateKey node_key, Random& rng,
                            Seconds timeout = Seconds(30));

// The site root fingerprint a join token carries (its last dot-separated part).
Result<std::string> TokenFingerprint(const std::string& token);

}  // namespace sitechain::nlsm
