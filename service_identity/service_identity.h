#pragma once
// The service-identity helper: what a service links to talk to other services over gRPC mutual
// TLS with the Cert_site its node manager keeps for it (docs/service-identity.md).
//
//   auto identity = service_identity::ServiceIdentity::FromEnvironment();  // SITECHAIN_* files
//   if (!identity.ok()) { ...print identity.status(), exit... }
//   builder.AddListeningPort(addr, (*identity)->ServerCredentials());        // a server
//   auto channel = grpc::CreateChannel(addr, (*identity)->ChannelCredentials());  // a client
//   ... in a handler: ServiceIdentity::PeerId(context) is the caller's SPIFFE ID.
//
// Both sides present the service's Cert_site and accept a peer only if PeerVerifier does (a
// Cert_site of this site or of a federated site under its own trust domain, allowed by the
// sitePolicy's "peers"); each refusal is logged with its coded reason and fails the handshake.
// Renewed certificates are picked up without a restart: gRPC re-reads the identity file (key and
// Cert_site in one file, which the node manager replaces as a whole) every refresh interval; the
// trust files are re-read when they change. Connections already made go on; new handshakes use
// the new certificate.
//
// Thread-safe. The credentials keep the ServiceIdentity's parts alive.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "service_identity/peer_policy.h"
#include "service_identity/peer_verifier.h"

namespace sitechain::service_identity {

// The files the node manager gives a service, by their environment variables.
struct IdentityFiles {
  std::string identity;      // SITECHAIN_IDENTITY_FILE: the key, then the Cert_site
  std::string trust_bundle;  // SITECHAIN_TRUST_BUNDLE_FILE: this site's root
  std::string federation;    // SITECHAIN_FEDERATION_FILE: federated site roots (may be absent)
  std::string policy;        // SITECHAIN_POLICY_FILE: the sitePolicy ("peers")
  std::string spiffe_id;     // SITECHAIN_SPIFFE_ID: who this service is

  // FAILED_PRECONDITION naming the missing variable (the service was not started by an nlsm).
  static Result<IdentityFiles> FromEnvironment();
};

struct Options {
  IdentityFiles files;
  // The peers to accept; nullopt: the sitePolicy's "peers".
  std::optional<PeerPolicy> peers;
  // Where refusals (and reloads) are reported; default: one line on stderr.
  std::function<void(const std::string&)> log;
  const Clock* clock = nullptr;  // default: the system clock
  unsigned refresh_seconds = 1;  // how often gRPC looks at the identity file
};

class ServiceIdentity final {
 public:
  // Loads and checks everything once, so that a service fails at start with a clear error
  // rather than at its first handshake: the identity file holds a key and the Cert_site of that
  // key, naming files.spiffe_id; the bundle holds the site root; the peers parse.
  static Result<std::shared_ptr<ServiceIdentity>> Load(Options options);
  static Result<std::shared_ptr<ServiceIdentity>> FromEnvironment();

  // Mutual-TLS credentials: the server requires a client certificate and checks it as above.
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials();
  // The server's certificate is checked as above; no host name is checked (the SPIFFE ID is the
  // server's name).
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials();

  // What the handshake of a call established about the peer, on either side (a server's
  // ServerContext::auth_context(), a client's ClientContext::auth_context() after the call): its
  // SPIFFE ID, and the serial of the certificate it presented (lower-case hex, as the nlsm logs
  // renewals: "renewed <service>: Cert_site <serial>"). nullopt outside a mutual-TLS call.
  struct Peer {
    std::string spiffe_id;
    std::string serial;
  };
  static std::optional<Peer> PeerOf(const grpc::AuthContext& auth);
  // The caller's SPIFFE ID (its certificate passed the check to get here); nullopt outside a
  // mutual-TLS call.
  static std::optional<std::string> PeerId(const grpc::ServerContext& context);

  const std::string& spiffe_id() const { return files_.spiffe_id; }
  const PeerVerifier& verifier() const { return *verifier_; }

  // Handshakes checked since start, for logs and tests.
  uint64_t accepted() const { return accepted_->load(); }
  uint64_t refused() const { return refused_->load(); }

 private:
  ServiceIdentity() = default;

  IdentityFiles files_;
  unsigned refresh_seconds_ = 1;
  std::function<void(const std::string&)> log_;
  std::shared_ptr<PeerVerifier> verifier_;
  std::shared_ptr<std::atomic<uint64_t>> accepted_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<std::atomic<uint64_t>> refused_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;
  std::shared_ptr<grpc::experimental::CertificateVerifier> checker_;
};

}  // namespace sitechain::service_identity
