#include "common/grpc_tls.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <cstdint>

namespace sitechain {

namespace {

grpc_ssl_client_certificate_request_type RequestType(ClientCertificates mode) {
  switch (mode) {
    case ClientCertificates::kNone:
      return GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    case ClientCertificates::kOptional:
      return GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY;
    case ClientCertificates::kRequired:
      return GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
}

std::shared_ptr<grpc::ServerCredentials> RenewingServerCredentials(
    const ServerTlsOptions& options) {
  // The key path and the certificate path are the same file: one read of each can never pair
  // a new certificate with an old key, and a replacement between the two reads is caught by the
  // watcher's mtime comparison (WriteIdentityFile always moves the mtime forward).
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.identity_file, options.identity_file, options.client_roots_file,
      static_cast<unsigned int>(std::max<int64_t>(1, options.identity_refresh.count())));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (!options.client_roots_file.empty()) tls.watch_root_certs();
  tls.set_cert_request_type(RequestType(options.client_certificates));
  return grpc::experimental::TlsServerCredentials(tls);
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const ServerTlsOptions& options) {
  if (!options.identity_file.empty()) return RenewingServerCredentials(options);
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({options.private_key_pem, options.certificate_chain_pem});
  ssl.pem_root_certs = options.client_roots_pem;
  ssl.client_certificate_request = RequestType(options.client_certificates);
  return grpc::SslServerCredentials(ssl);
}

std::shared_ptr<grpc::Channel> DialTls(const std::string& target, const ClientTlsOptions& options,
                                       size_t max_message_bytes, const ChannelLiveness& liveness) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.server_roots_pem;
  if (options.certificate_chain_pem && options.private_key_pem) {
    ssl.pem_cert_chain = *options.certificate_chain_pem;
    ssl.pem_private_key = *options.private_key_pem;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
  auto ms = [](std::chrono::milliseconds d) { return static_cast<int>(d.count()); };
  if (liveness.keepalive_time.count() > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms(liveness.keepalive_time));
    // Pings only while calls are open (a server refuses them otherwise), and without a limit
    // on pings between data frames (a silent stream must still be probed).
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  if (liveness.keepalive_timeout.count() > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(liveness.keepalive_timeout));
  }
  if (liveness.max_reconnect_backoff.count() > 0) {
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ms(liveness.max_reconnect_backoff));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                std::min(1000, ms(liveness.max_reconnect_backoff)));
  }
  if (liveness.connect_timeout.count() > 0) {
    // gRPC's name for the shortest time a connection attempt is given.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, ms(liveness.connect_timeout));
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

std::shared_ptr<grpc::Channel> DialTlsUnverified(const std::string& target) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return grpc::CreateChannel(target, grpc::experimental::TlsCredentials(options));
}

std::shared_ptr<grpc::Channel> DialUnix(const std::string& socket_path) {
  return grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials());
}

std::optional<std::string> PeerCertificatePem(const grpc::ServerContext& context) {
  const auto auth = context.auth_context();
  if (auth == nullptr) return std::nullopt;
  const auto values = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (values.empty()) return std::nullopt;
  return std::string(values.front().data(), values.front().size());
}

}  // namespace sitechain
