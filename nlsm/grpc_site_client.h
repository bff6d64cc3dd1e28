#pragma once
// The node's SiteClient (site_client.h) over gRPC with mutual TLS (GrpcSiteClient), and the first
// contact with a site: Enroll authenticates the slsm by the site root fingerprint the join token
// carries, and EnrollNode makes a node's state directory (node_state.h) from it.
//
// Protobuf types stay in grpc_site_client.cc and site_messages.h (the reading of the slsm's
// messages); this header includes neither gRPC nor protobuf.
// Ownership: the daemon (or a test) owns a GrpcSiteClient; it keeps a copy of the identity it is
// given. Thread-safety: GrpcSiteClient's calls may be made from several threads (see
// site_client.h for the CommandStream). Errors: every call's status; UNAVAILABLE naming the
// address when the slsm cannot be reached, the slsm's refusal otherwise.

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "nlsm/node_state.h"
#include "nlsm/site_client.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::nlsm {

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

struct EnrollOptions {
  std::string dir;
  std::string node;
  std::string slsm;             // host:port
  std::string token;            // from `slsm tokens create NODE`
  std::string store_root_path;  // the store root this node trusts
  std::string key_type = "ed25519";
};

// Makes the node key, enrolls (nlsm::Enroll: the slsm is authenticated by the token's
// fingerprint) and writes the files above. ALREADY_EXISTS if dir already holds a node;
// INVALID_ARGUMENT for a store root that is not a valid self-signed CA certificate.
Result<NodeIdentity> EnrollNode(const EnrollOptions& options, const Clock& clock, Random& rng);

}  // namespace sitechain::nlsm
