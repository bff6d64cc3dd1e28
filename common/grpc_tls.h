#pragma once
// gRPC transport security for every sitechain service, in one place: TLS server credentials
// (optionally asking for a client certificate), client credentials (optionally presenting one),
// the peer certificate a handshake verified, and the client side of a UNIX-socket admin server
// (the server side is server/admin_socket.h).
//
// Every certificate and key is PEM text (keys as unencrypted PKCS#8, as pki::PrivateKey::ToPem
// writes them); nothing here parses certificates.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

namespace sitechain {

enum class ClientCertificates {
  kNone,      // server-only TLS
  kOptional,  // asked for but not verified by the handshake, which only proves that the client
              // holds the certificate's key: the handler verifies the chain itself and can say
              // why it refuses (e.g. registration needs no certificate, publishing needs one)
  kRequired,  // handshake fails without a certificate that chains to client_roots_pem
};

// The server's identity and what it asks of clients. Either static (the PEM fields, fixed for
// the server's life) or renewing (identity_file set: the PEM fields are unused).
struct ServerTlsOptions {
  // Static identity.
  std::string certificate_chain_pem = {};  // the server certificate (then any intermediates)
  std::string private_key_pem = {};
  std::string client_roots_pem = {};  // roots that client certificates must chain to

  // Renewing identity: an identity file (common/identity_file.h: key and chain in one file,
  // replaced as a whole with a later mtime) that the server reads at start and again whenever it
  // was replaced, looking every identity_refresh. Handshakes after a replacement present the new
  // certificate; connections made before keep theirs (a renewal drops no stream). The file must
  // hold a valid identity before the server starts. client_roots_file is read the same way and
  // replaces client_roots_pem; it must be set with kRequired.
  std::string identity_file = {};
  std::string client_roots_file = {};
  std::chrono::seconds identity_refresh{1};

  ClientCertificates client_certificates = ClientCertificates::kNone;
};
// Credentials for a server with these options (static ones as grpc::SslServerCredentials makes
// them, renewing ones over gRPC's file-watching certificate provider).
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const ServerTlsOptions& options);

struct ClientTlsOptions {
  std::string server_roots_pem;  // the root the server certificate must chain to
  // Presented for mutual TLS when both are set.
  std::optional<std::string> certificate_chain_pem;
  std::optional<std::string> private_key_pem;
};

// Largest message either side accepts by default: a 1 MiB data chunk plus headers.
inline constexpr size_t kDefaultMaxMessageBytes = 4 << 20;

// How a client channel notices a dead link and how fast it dials again; zero: gRPC's default.
// Without keepalive a connection whose peer went silent (a cut cable, a lost NAT entry, a
// blackholing firewall) stays "ready" forever: every call on it waits for its deadline.
struct ChannelLiveness {
  // A ping after this long without any frame received; the connection is closed (and every call
  // on it fails UNAVAILABLE) if its answer takes longer than keepalive_timeout. The server
  // must tolerate the rate (gRPC servers do while they send data, e.g. heartbeat answers).
  std::chrono::milliseconds keepalive_time{0};
  std::chrono::milliseconds keepalive_timeout{0};
  // The longest wait between two connection attempts (gRPC: 120 s), and how long one attempt
  // (TCP + TLS handshake) may take (gRPC: 20 s).
  std::chrono::milliseconds max_reconnect_backoff{0};
  std::chrono::milliseconds connect_timeout{0};
};

// A channel to "host:port" over TLS. The server certificate must chain to server_roots_pem
// and name the host. Connection happens lazily, on the first call.
std::shared_ptr<grpc::Channel> DialTls(const std::string& target, const ClientTlsOptions& options,
                                       size_t max_message_bytes = kDefaultMaxMessageBytes,
                                       const ChannelLiveness& liveness = {});

// A TLS channel that does NOT verify the server: only for fetching a root certificate that the
// caller then checks against a fingerprint it already holds (a node's first contact with its
// site manager, like kubeadm's discovery hash). Nothing else may be believed over it.
std::shared_ptr<grpc::Channel> DialTlsUnverified(const std::string& target);

// A channel to a UNIX domain socket ("unix:" is added). No TLS: the socket's file permissions
// are the access control.
std::shared_ptr<grpc::Channel> DialUnix(const std::string& socket_path);

// The client certificate (PEM) of this call's TLS handshake; nullopt when the client presented
// none (or the call is not over TLS). With ClientCertificates::kOptional the caller must verify
// it; the handshake only proved that the client holds its key.
std::optional<std::string> PeerCertificatePem(const grpc::ServerContext& context);

}  // namespace sitechain
