#include "service_identity/service_identity.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <utility>

#include "common/files.h"
#include "common/identity_file.h"
#include "pki/key.h"

namespace sitechain::service_identity {
namespace {

using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::TlsCustomVerificationCheckRequest;

const SystemClock kSystemClock;

// What identifies one version of a file: replaced files get a new inode, rewritten ones a new
// mtime or size.
struct FileVersion {
  ino_t inode = 0;
  int64_t mtime_ns = -1;
  off_t size = -1;
  bool operator==(const FileVersion&) const = default;
};

FileVersion VersionOf(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
  return {st.st_ino, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec, st.st_size};
}

Result<TrustRoots> ReadTrust(const IdentityFiles& files, const Clock& clock) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string bundle, ReadSmallFile(files.trust_bundle, 64 << 10));
  std::string federation;
  if (!files.federation.empty() && PathExists(files.federation)) {
    SITECHAIN_ASSIGN_OR_RETURN(federation, ReadSmallFile(files.federation, 1 << 20));
  }
  return TrustRoots::FromPem(bundle, federation, clock);
}

// The handshake check: PeerVerifier on the peer's certificate, the trust files re-read when they
// change, every refusal logged.
class Checker final : public ExternalCertificateVerifier {
 public:
  Checker(IdentityFiles files, std::shared_ptr<PeerVerifier> verifier, const Clock& clock,
          std::function<void(const std::string&)> log,
          std::shared_ptr<std::atomic<uint64_t>> accepted,
          std::shared_ptr<std::atomic<uint64_t>> refused)
      : files_(std::move(files)),
        verifier_(std::move(verifier)),
        clock_(clock),
        log_(std::move(log)),
        accepted_(std::move(accepted)),
        refused_(std::move(refused)),
        versions_{VersionOf(files_.trust_bundle), VersionOf(files_.federation)} {}

  bool Verify(TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    ReloadTrustIfChanged();
    const grpc::string_ref pem = request->peer_cert();
    const PeerCheck check = verifier_->CheckPem(std::string_view(pem.data(), pem.size()));
    if (check.ok()) {
      accepted_->fetch_add(1);
      *sync_status = grpc::Status::OK;
    } else {
      refused_->fetch_add(1);
      log_(files_.spiffe_id + ": " + check.ToString());
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, check.ToString());
    }
    return true;  // decided synchronously
  }

  void Cancel(TlsCustomVerificationCheckRequest*) override {}

 private:
  void ReloadTrustIfChanged() {
    std::lock_guard lock(mu_);
    const std::pair now{VersionOf(files_.trust_bundle), VersionOf(files_.federation)};
    if (now == versions_) return;
    versions_ = now;
    auto roots = ReadTrust(files_, clock_);
    if (!roots.ok()) {
      log_(files_.spiffe_id +
           ": trust files changed but cannot be read; keeping the roots in "
           "use: " +
           roots.status().ToString());
      return;
    }
    for (const auto& why : roots->ignored) log_(files_.spiffe_id + ": " + why);
    verifier_->SetRoots(std::move(*roots));
  }

  const IdentityFiles files_;
  const std::shared_ptr<PeerVerifier> verifier_;
  const Clock& clock_;
  const std::function<void(const std::string&)> log_;
  const std::shared_ptr<std::atomic<uint64_t>> accepted_, refused_;
  std::mutex mu_;
  std::pair<FileVersion, FileVersion> versions_;  // guarded by mu_
};

}  // namespace

Result<IdentityFiles> IdentityFiles::FromEnvironment() {
  IdentityFiles files;
  for (auto [name, out, required] : {std::tuple{"SITECHAIN_IDENTITY_FILE", &files.identity, true},
                                     {"SITECHAIN_TRUST_BUNDLE_FILE", &files.trust_bundle, true},
                                     {"SITECHAIN_FEDERATION_FILE", &files.federation, false},
                                     {"SITECHAIN_POLICY_FILE", &files.policy, true},
                                     {"SITECHAIN_SPIFFE_ID", &files.spiffe_id, true}}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
      if (!required) continue;
      return FailedPrecondition(std::string(name) +
                                " is not set: the service-identity helper needs the files a "
                                "node manager (nlsm) gives the services it runs");
    }
    *out = value;
  }
  return files;
}

Result<std::shared_ptr<ServiceIdentity>> ServiceIdentity::Load(Options options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : kSystemClock;
  auto log = options.log ? options.log : [](const std::string& line) {
    std::cerr << "service-identity: " << line << std::endl;
  };
  const IdentityFiles& files = options.files;
  // The identity: a key and the Cert_site of that key, naming this service.
  SITECHAIN_ASSIGN_OR_RETURN(IdentityPem pem, ReadIdentityFile(files.identity));
  SITECHAIN_ASSIGN_OR_RETURN(auto key, pki::PrivateKey::FromPem(pem.key_pem, std::nullopt));
  SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::FromPem(pem.chain_pem));
  if (cert.PublicKeyDer() != key.PublicKeyDer()) {
    return FailedPrecondition(files.identity + ": the key is not the key of the certificate");
  }
  const auto sans = cert.UriSans();
  if (sans.size() != 1 || sans[0] != files.spiffe_id) {
    return FailedPrecondition(files.identity + ": the certificate does not name " +
                              files.spiffe_id);
  }
  SITECHAIN_ASSIGN_OR_RETURN(TrustRoots roots, ReadTrust(files, clock));
  for (const auto& why : roots.ignored) log(files.spiffe_id + ": " + why);
  PeerPolicy peers;
  if (options.peers) {
    peers = *options.peers;
  } else {
    SITECHAIN_ASSIGN_OR_RETURN(std::string policy, ReadSmallFile(files.policy, 64 << 10));
    SITECHAIN_ASSIGN_OR_RETURN(peers, PeerPolicy::FromSitePolicy(policy));
  }
  if (peers.patterns().empty()) {
    log(files.spiffe_id +
        ": no peer is allowed (the sitePolicy has no \"peers\"): every "
        "handshake will be refused");
  }

  std::shared_ptr<ServiceIdentity> identity(new ServiceIdentity());
  identity->files_ = files;
  identity->refresh_seconds_ = std::max(1u, options.refresh_seconds);
  identity->log_ = log;
  identity->verifier_ = std::make_shared<PeerVerifier>(std::move(roots), std::move(peers), clock);
  // The key and the certificate are read from the same file: gRPC reads it twice, and takes the
  // pair only if its mtime did not change in between (the nlsm moves it forward on each
  // replacement, common/identity_file.h).
  identity->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.identity, files.identity, identity->refresh_seconds_);
  identity->checker_ = grpc::experimental::ExternalCertificateVerifier::Create<Checker>(
      files, identity->verifier_, clock, log, identity->accepted_, identity->refused_);
  return identity;
}

Result<std::shared_ptr<ServiceIdentity>> ServiceIdentity::FromEnvironment() {
  SITECHAIN_ASSIGN_OR_RETURN(IdentityFiles files, IdentityFiles::FromEnvironment());
  Options options;
  options.files = std::move(files);
  return Load(std::move(options));
}

std::shared_ptr<grpc::ServerCredentials> ServiceIdentity::ServerCredentials() {
  grpc::experimental::TlsServerCredentialsOptions options(provider_);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(checker_);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ServiceIdentity::ChannelCredentials() {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider_);
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);  // the Checker verifies, against the site roots
  options.set_check_call_host(false);
  options.set_certificate_verifier(checker_);
  return grpc::experimental::TlsCredentials(options);
}

std::optional<ServiceIdentity::Peer> ServiceIdentity::PeerOf(const grpc::AuthContext& auth) {
  const auto ids = auth.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  const auto pems = auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (ids.size() != 1 || pems.size() != 1) return std::nullopt;
  auto cert = pki::Certificate::FromPem(std::string_view(pems[0].data(), pems[0].size()));
  if (!cert.ok()) return std::nullopt;
  return Peer{std::string(ids[0].data(), ids[0].size()), cert->SerialHex()};
}

std::optional<std::string> ServiceIdentity::PeerId(const grpc::ServerContext& context) {
  const auto auth = context.auth_context();
  if (!auth) return std::nullopt;
  auto peer = PeerOf(*auth);
  if (!peer) return std::nullopt;
  return std::move(peer->spiffe_id);
}

}  // namespace sitechain::service_identity
