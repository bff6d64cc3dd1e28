// service_identity_bench: what the service-identity helper (service_identity/) costs a gRPC
// service, beside plain gRPC mutual TLS with the same keys and certificates and beside the
// crypto of its check, all measured in the same run on loopback.
//
//   BM_Handshake/{helper,plain}  a new channel (its own connection: grpc.use_local_subchannel_pool)
//                          and one unary call on it, so one TCP connect + one mutual-TLS 1.3
//                          handshake + the call.
//   BM_Call/{helper,plain} one unary call on a channel kept open: the handshake's check is not
//                          in it, so helper and plain should match.
//   BM_PeerCheckPem        PeerVerifier::CheckPem on the client's Cert_site: exactly what the
//                          helper's gRPC verifier runs for each peer certificate (parse + check).
//   BM_PeerCheck           PeerVerifier::Check on the already-parsed Cert_site.
//   BM_RawVerifyBotan      Certificate::SignatureVerifiesWith(site root): the one Ed25519
//                          signature check inside PeerCheck (Botan, as pki/ uses it).
//   BM_RawVerifyOpenSsl    X509_verify of the same Cert_site with the site root's key: the one
//                          signature check OpenSSL makes per side in the plain handshake.
//
// What each side checks.
//   helper: both sides are ServiceIdentity credentials: FileWatcherCertificateProvider on an
//     identity file (key + Cert_site), OpenSSL asks for the peer's certificate but does not
//     verify it (REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY on the server,
//     verify_server_certs(false) on the client), and the helper's ExternalCertificateVerifier
//     runs PeerVerifier on it: the site root chosen by the peer's trust domain, the Cert_site
//     profile (pki::Verifier::VerifyIssuedBy: signature, validity, extensions, subject = SAN)
//     and the peer's SPIFFE ID against the allowed patterns.
//   plain: grpc::experimental::TlsServerCredentials / TlsCredentials with a
//     StaticDataCertificateProvider holding the same key + Cert_site and the site root as the
//     only root. OpenSSL verifies the peer's chain against that root on both sides
//     (REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY; verify_server_certs(true)): the
//     Ed25519 signature, notBefore/notAfter, the root's CA flag and key usage, the leaf's
//     extKeyUsage for its role (serverAuth / clientAuth) and that no critical extension is
//     unknown. No name is checked: a Cert_site names no DNS host, so check_call_host(false) and
//     a NoOpCertificateVerifier (no post-handshake check) on both sides. The set-up proves that
//     this really verifies: a look-alike site root (same names, another key) and its Cert_site
//     are refused by the plain server and by the plain client before anything is timed.
//
// Neither side configures a TLS session cache, so every handshake is a full one; the helper's
// `checks` counter (PeerVerifier calls per handshake, both sides together) shows it: 2.
//
// Certificates are real Ed25519 sitechain certificates from the pki builders with fixed seeds,
// issued at the system clock's time (the handshakes check them against the real time). Two
// servers (helper and plain, the same trivial service) run in this process on 127.0.0.1, port 0;
// their files live in a temporary directory removed at exit. Everything is made on first use,
// outside the timed loops.
//
// The gRPC figures are wall-clock (real_time), and the CPU column is the whole process's
// (process_time: client and server threads together). The summary divides helper by plain, and
// sets the check (twice per handshake: each side checks the other) against the helper's
// handshake.

#include <benchmark/benchmark.h>
#include <grpc/grpc_security_constants.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bench_main.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/identity_file.h"
#include "common/random.h"
#include "common/result.h"
#include "common/status.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "service_identity/peer_policy.h"
#include "service_identity/peer_verifier.h"
#include "service_identity/service_identity.h"
#include "sitechain/v1/site.grpc.pb.h"

namespace sitechain::service_identity {
namespace {

constexpr uint64_t kSeed = 0x5e41'1d00'0000'0015;
constexpr std::string_view kSite = "bench-site";
constexpr std::string_view kService = "bench-svc";
constexpr std::string_view kServerNode = "node-1";
constexpr std::string_view kClientNode = "node-2";
constexpr auto kCallDeadline = std::chrono::seconds(10);

// A key and its Cert_site, as PEM too.
struct Identity {
  pki::PrivateKey key;
  pki::Certificate cert;
  std::string spiffe_id;
  IdentityPem pem;
};

// The certificates: a store and release (Cert_site copies Cert_store's extensions), a site root,
// a Cert_site for the server and one for the client; and a forger's look-alike site root (same
// names, its own key) with a Cert_site for the client's names, to prove that the plain variant
// verifies.
struct Certificates {
  std::optional<pki::Certificate> site_root;
  std::string site_root_pem;
  std::optional<Identity> server, client;
  std::optional<pki::Certificate> forged_root;
  std::string forged_root_pem;
  std::optional<Identity> forged_client;
};

Result<Identity> MakeIdentity(const pki::Certificate& cert_store, const pki::Certificate& site_root,
                              const pki::PrivateKey& site_key, std::string_view node,
                              const pki::BuildContext& ctx) {
  pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, ctx.rng);
  const pki::SiteBinding binding{std::string(node), std::string(kService), key.PublicKeyDer(),
                                 "{}"};
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert,
                             pki::BuildCertSite(cert_store, binding, site_root, site_key,
                                                pki::kDefaultCertSiteLifetime, ctx));
  IdentityPem pem{key.ToPem(std::nullopt, ctx.rng), cert.ToPem()};
  return Identity{std::move(key), std::move(cert), pki::ServiceSpiffeId(kSite, node, kService),
                  std::move(pem)};
}

Result<Certificates> MakeCertificates(const Clock& clock) {
  SeededRandom rng(kSeed);
  const pki::BuildContext ctx{clock, rng};
  using pki::KeyType;
  pki::PrivateKey store_key = pki::PrivateKey::Generate(KeyType::kEd25519, rng);
  pki::PrivateKey developer_key = pki::PrivateKey::Generate(KeyType::kEd25519, rng);
  pki::PrivateKey site_key = pki::PrivateKey::Generate(KeyType::kEd25519, rng);
  pki::PrivateKey forger_key = pki::PrivateKey::Generate(KeyType::kEd25519, rng);
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate store_root,
      pki::BuildStoreRoot(store_key, "bench-store", pki::kDefaultRootLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(pki::CertificateRequest csr,
                             pki::CertificateRequest::Create(developer_key, "bench-dev", rng));
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate identity,
      pki::BuildDeveloperIdentity(csr, store_root, store_key,
                                  pki::kDefaultDeveloperIdentityLifetime, ctx));
  const pki::ReleaseSpec spec{pki::ServiceRelease{std::string(kService), "1.0.0", 1},
                              pki::HashBytes(pki::HashAlgorithm::kSha256, "the executable"),
                              std::nullopt};
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert_dev,
      pki::BuildCertDev(spec, identity, developer_key, pki::kDefaultCertDevLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert_store,
      pki::BuildCertStore(cert_dev, store_root, store_key, pki::kDefaultCertDevLifetime, ctx));

  Certificates out;
  SITECHAIN_ASSIGN_OR_RETURN(out.site_root, pki::BuildSiteRoot(site_key, std::string(kSite),
                                                               pki::kDefaultRootLifetime, ctx));
  out.site_root_pem = out.site_root->ToPem();
  SITECHAIN_ASSIGN_OR_RETURN(out.server,
                             MakeIdentity(cert_store, *out.site_root, site_key, kServerNode, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(out.client,
                             MakeIdentity(cert_store, *out.site_root, site_key, kClientNode, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(out.forged_root, pki::BuildSiteRoot(forger_key, std::string(kSite),
                                                                 pki::kDefaultRootLifetime, ctx));
  out.forged_root_pem = out.forged_root->ToPem();
  SITECHAIN_ASSIGN_OR_RETURN(
      out.forged_client, MakeIdentity(cert_store, *out.forged_root, forger_key, kClientNode, ctx));
  return out;
}

// A temporary directory, removed with its contents on destruction.
class TempDir final {
 public:
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  static Result<std::unique_ptr<TempDir>> Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/service_identity_bench.XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      return Unavailable("cannot create a temporary directory from " + templ);
    }
    return std::unique_ptr<TempDir>(new TempDir(std::move(templ)));
  }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Answers with the caller's SPIFFE ID as the handshake established it: the same work on both
// servers, and proof on the client that the server saw its certificate.
class WhoAmI final : public v1::Site::Service {
 public:
  grpc::Status GetSiteRoot(grpc::ServerContext* context, const v1::GetSiteRootRequest*,
                           v1::GetSiteRootResponse* response) override {
    response->set_site(ServiceIdentity::PeerId(*context).value_or(""));
    return grpc::Status::OK;
  }
};

// The helper's files for `identity`, allowing `peer` (a sitePolicy with "peers").
Result<std::shared_ptr<ServiceIdentity>> LoadHelper(const TempDir& dir, std::string_view name,
                                                    const Identity& identity,
                                                    const std::string& site_root_pem,
                                                    const std::string& peer) {
  IdentityFiles files;
  files.identity = dir.File(std::string(name) + "-identity.pem");
  files.trust_bundle = dir.File(std::string(name) + "-bundle.pem");
  files.policy = dir.File(std::string(name) + "-policy.json");
  files.spiffe_id = identity.spiffe_id;
  SITECHAIN_RETURN_IF_ERROR(WriteIdentityFile(files.identity, identity.pem));
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(files.trust_bundle, site_root_pem, 0644));
  SITECHAIN_RETURN_IF_ERROR(
      WriteFileAtomic(files.policy, R"({"peers":[")" + peer + R"("]})", 0644));
  Options options;
  options.files = std::move(files);
  // Refusals only; the set-up's proof makes one on purpose (the server's, of a forged client).
  options.log = [name = std::string(name)](const std::string& line) {
    std::fprintf(stderr, "helper %s: %s\n", name.c_str(), line.c_str());
  };
  return ServiceIdentity::Load(std::move(options));
}

std::shared_ptr<grpc::experimental::StaticDataCertificateProvider> StaticProvider(
    const std::string& root_pem, const Identity& identity) {
  return std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      root_pem, std::vector<grpc::experimental::IdentityKeyCertPair>{
                    {identity.pem.key_pem, identity.pem.chain_pem}});
}

// Plain gRPC mutual TLS: OpenSSL verifies the client's chain against root_pem (see the top).
std::shared_ptr<grpc::ServerCredentials> PlainServerCredentials(const std::string& root_pem,
                                                                const Identity& identity) {
  grpc::experimental::TlsServerCredentialsOptions options(StaticProvider(root_pem, identity));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return grpc::experimental::TlsServerCredentials(options);
}

// Plain gRPC mutual TLS: OpenSSL verifies the server's chain against root_pem; no name check.
std::shared_ptr<grpc::ChannelCredentials> PlainChannelCredentials(const std::string& root_pem,
                                                                  const Identity& identity) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(StaticProvider(root_pem, identity));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

std::unique_ptr<grpc::Server> StartServer(std::shared_ptr<grpc::ServerCredentials> credentials,
                                          grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", std::move(credentials), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

// A channel with a connection of its own (not shared through the global subchannel pool).
std::shared_ptr<grpc::Channel> NewChannel(const std::string& target,
                                          const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return grpc::CreateCustomChannel(target, creds, args);
}

// One call; OK only if the server named `expected_peer` as the caller.
Status CallOnce(v1::Site::Stub& stub, const std::string& expected_peer) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  v1::GetSiteRootResponse response;
  const grpc::Status s = stub.GetSiteRoot(&context, {}, &response);
  if (!s.ok()) {
    return Unavailable("call failed: " + std::to_string(s.error_code()) + " " + s.error_message());
  }
  if (response.site() != expected_peer) {
    return Internal("the server saw the caller as '" + response.site() + "', not " + expected_peer);
  }
  return Status::Ok();
}

Status CallOnNewChannel(const std::string& target,
                        const std::shared_ptr<grpc::ChannelCredentials>& creds,
                        const std::string& expected_peer) {
  auto stub = v1::Site::NewStub(NewChannel(target, creds));
  return CallOnce(*stub, expected_peer);
}

// OK if a call on a new channel fails with UNAVAILABLE: the handshake was refused. Else names
// `what` as not refused.
Status ExpectRefused(const std::string& what, const std::string& target,
                     const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  auto stub = v1::Site::NewStub(NewChannel(target, creds));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  v1::GetSiteRootResponse response;
  const grpc::Status s = stub->GetSiteRoot(&context, {}, &response);
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) return Status::Ok();
  return Internal(what + " was not refused in the handshake (gRPC status " +
                  std::to_string(s.error_code()) + " " + s.error_message() +
                  "): the comparison would not be fair");
}

// The two servers, the clients' credentials and the kept channels. Owned by RunBenchmarks and
// destroyed before main returns (Botan keys must not outlive Botan's statics). Not thread-safe:
// the benchmarks run one at a time on the main thread; the servers run their own threads.
class Loopback final {
 public:
  Loopback(const Loopback&) = delete;
  Loopback& operator=(const Loopback&) = delete;
  ~Loopback() {
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
    if (helper_server_) helper_server_->Shutdown(deadline);
    if (plain_server_) plain_server_->Shutdown(deadline);
  }

  static Result<std::unique_ptr<Loopback>> Create() {
    std::unique_ptr<Loopback> l(new Loopback());
    SITECHAIN_ASSIGN_OR_RETURN(l->certs_, MakeCertificates(l->clock_));
    SITECHAIN_ASSIGN_OR_RETURN(l->dir_, TempDir::Create());
    const Certificates& c = *l->certs_;
    SITECHAIN_ASSIGN_OR_RETURN(
        l->server_identity_,
        LoadHelper(*l->dir_, "server", *c.server, c.site_root_pem, c.client->spiffe_id));
    SITECHAIN_ASSIGN_OR_RETURN(
        l->client_identity_,
        LoadHelper(*l->dir_, "client", *c.client, c.site_root_pem, c.server->spiffe_id));

    int port = 0;
    l->helper_server_ =
        StartServer(l->server_identity_->ServerCredentials(), &l->helper_service_, &port);
    if (!l->helper_server_ || port <= 0) return Unavailable("the helper server did not start");
    l->helper_target_ = "127.0.0.1:" + std::to_string(port);
    l->plain_server_ =
        StartServer(PlainServerCredentials(c.site_root_pem, *c.server), &l->plain_service_, &port);
    if (!l->plain_server_ || port <= 0) return Unavailable("the plain server did not start");
    l->plain_target_ = "127.0.0.1:" + std::to_string(port);

    l->helper_creds_ = l->client_identity_->ChannelCredentials();
    l->plain_creds_ = PlainChannelCredentials(c.site_root_pem, *c.client);
    SITECHAIN_RETURN_IF_ERROR(l->Prove());
    return l;
  }

  // Both variants work, and the plain one refuses what OpenSSL's chain check must refuse.
  Status Prove() const {
    const Certificates& c = *certs_;
    const std::string& me = c.client->spiffe_id;
    SITECHAIN_RETURN_IF_ERROR(
        CallOnNewChannel(helper_target_, helper_creds_, me).WithContext("helper"));
    SITECHAIN_RETURN_IF_ERROR(
        CallOnNewChannel(plain_target_, plain_creds_, me).WithContext("plain"));
    // The server must refuse a client certificate from the look-alike root (the client itself
    // trusts the real root, so only the server's check can fail it).
    SITECHAIN_RETURN_IF_ERROR(
        ExpectRefused("plain: a client Cert_site signed by a look-alike site root", plain_target_,
                      PlainChannelCredentials(c.site_root_pem, *c.forged_client)));
    // The client must refuse the real server when it trusts only the look-alike root (it
    // presents a genuine client certificate, so only the client's check can fail it).
    SITECHAIN_RETURN_IF_ERROR(
        ExpectRefused("plain: a server Cert_site not issued by the client's only root",
                      plain_target_, PlainChannelCredentials(c.forged_root_pem, *c.client)));
    // The helper's server refuses the same forged client, in its own check.
    const uint64_t refused = server_identity_->refused();
    SITECHAIN_RETURN_IF_ERROR(
        ExpectRefused("helper: a client Cert_site signed by a look-alike site root", helper_target_,
                      PlainChannelCredentials(c.site_root_pem, *c.forged_client)));
    if (server_identity_->refused() != refused + 1) {
      return Internal("the helper's server refused the forged client, but not in its check");
    }
    return Status::Ok();
  }

  const std::string& Target(bool helper) const { return helper ? helper_target_ : plain_target_; }
  const std::shared_ptr<grpc::ChannelCredentials>& Creds(bool helper) const {
    return helper ? helper_creds_ : plain_creds_;
  }
  // A stub on a channel kept for the run (connected by the first call).
  v1::Site::Stub& KeptStub(bool helper) {
    auto& stub = helper ? helper_stub_ : plain_stub_;
    if (!stub) stub = v1::Site::NewStub(NewChannel(Target(helper), Creds(helper)));
    return *stub;
  }
  const std::string& client_id() const { return certs_->client->spiffe_id; }
  const Certificates& certs() const { return *certs_; }
  // Handshake checks both helper sides made so far (accepted + refused).
  uint64_t HelperChecks() const {
    return server_identity_->accepted() + server_identity_->refused() +
           client_identity_->accepted() + client_identity_->refused();
  }
  // The server's verifier: the one its handshakes run.
  const PeerVerifier& server_verifier() const { return server_identity_->verifier(); }

 private:
  Loopback() = default;

  SystemClock clock_;
  std::optional<Certificates> certs_;
  std::unique_ptr<TempDir> dir_;
  std::shared_ptr<ServiceIdentity> server_identity_, client_identity_;
  WhoAmI helper_service_, plain_service_;
  std::unique_ptr<grpc::Server> helper_server_, plain_server_;
  std::string helper_target_, plain_target_;
  std::shared_ptr<grpc::ChannelCredentials> helper_creds_, plain_creds_;
  std::unique_ptr<v1::Site::Stub> helper_stub_, plain_stub_;
};

// Made on first use, kept with its error for the rest of the run.
class Fixtures final {
 public:
  Loopback* LoopbackOrSkip(benchmark::State& state) {
    if (!loopback_) loopback_.emplace(Loopback::Create());
    if (loopback_->ok()) return loopback_->value().get();
    state.SkipWithError(loopback_->status().ToString().c_str());
    return nullptr;
  }

 private:
  std::optional<Result<std::unique_ptr<Loopback>>> loopback_;
};

void BM_Handshake(benchmark::State& state, Fixtures* fixtures, bool helper) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  const uint64_t checks = l->HelperChecks();
  for (auto _ : state) {
    const Status s = CallOnNewChannel(l->Target(helper), l->Creds(helper), l->client_id());
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  if (helper) {
    state.counters["checks"] = benchmark::Counter(static_cast<double>(l->HelperChecks() - checks),
                                                  benchmark::Counter::kAvgIterations);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Call(benchmark::State& state, Fixtures* fixtures, bool helper) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  v1::Site::Stub& stub = l->KeptStub(helper);
  if (const Status s = CallOnce(stub, l->client_id()); !s.ok()) {  // connects
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  const uint64_t checks = l->HelperChecks();
  for (auto _ : state) {
    const Status s = CallOnce(stub, l->client_id());
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  if (l->HelperChecks() != checks) state.SkipWithError("the kept channel made a new handshake");
  state.SetItemsProcessed(state.iterations());
}

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs op(helper) and op(plain) in every iteration, in alternating order, and reports each one's
// mean wall and process CPU time (helper_us, plain_us, helper_cpu_us, plain_cpu_us) and the
// wall-time ratio: load that comes and goes during the run hits both alike.
template <typename Op>
void RunPaired(benchmark::State& state, Op op) {
  double wall[2] = {0, 0}, cpu[2] = {0, 0};  // [0] plain, [1] helper
  bool helper_first = true;
  for (auto _ : state) {
    for (const bool helper : {helper_first, !helper_first}) {
      const auto w0 = std::chrono::steady_clock::now();
      const double c0 = ProcessCpuSeconds();
      const Status s = op(helper);
      cpu[helper] += ProcessCpuSeconds() - c0;
      wall[helper] += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
      if (!s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        return;
      }
    }
    helper_first = !helper_first;
  }
  const auto mean_us = [](double seconds) {
    return benchmark::Counter(seconds * 1e6, benchmark::Counter::kAvgIterations);
  };
  state.counters["helper_us"] = mean_us(wall[1]);
  state.counters["plain_us"] = mean_us(wall[0]);
  state.counters["helper_cpu_us"] = mean_us(cpu[1]);
  state.counters["plain_cpu_us"] = mean_us(cpu[0]);
  state.counters["ratio"] = wall[0] > 0 ? wall[1] / wall[0] : 0;
}

void BM_HandshakePaired(benchmark::State& state, Fixtures* fixtures) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  RunPaired(state, [l](bool helper) {
    return CallOnNewChannel(l->Target(helper), l->Creds(helper), l->client_id());
  });
}

void BM_CallPaired(benchmark::State& state, Fixtures* fixtures) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  for (const bool helper : {true, false}) {
    if (const Status s = CallOnce(l->KeptStub(helper), l->client_id()); !s.ok()) {  // connects
      state.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  const uint64_t checks = l->HelperChecks();
  RunPaired(state, [l](bool helper) { return CallOnce(l->KeptStub(helper), l->client_id()); });
  if (l->HelperChecks() != checks) state.SkipWithError("a kept channel made a new handshake");
}

void BM_PeerCheckPem(benchmark::State& state, Fixtures* fixtures) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  const std::string& pem = l->certs().client->pem.chain_pem;
  for (auto _ : state) {
    const PeerCheck check = l->server_verifier().CheckPem(pem);
    if (!check.ok()) {
      state.SkipWithError(check.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PeerCheck(benchmark::State& state, Fixtures* fixtures) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  const pki::Certificate& cert = l->certs().client->cert;
  for (auto _ : state) {
    const PeerCheck check = l->server_verifier().Check(cert);
    if (!check.ok()) {
      state.SkipWithError(check.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RawVerifyBotan(benchmark::State& state, Fixtures* fixtures) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  const pki::Certificate& cert = l->certs().client->cert;
  const pki::Certificate& root = *l->certs().site_root;
  for (auto _ : state) {
    if (!cert.SignatureVerifiesWith(root)) {
      state.SkipWithError("a good signature was refused");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr ParseX509(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                BIO_free);
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

void BM_RawVerifyOpenSsl(benchmark::State& state, Fixtures* fixtures) {
  Loopback* l = fixtures->LoopbackOrSkip(state);
  if (l == nullptr) return;
  X509Ptr cert = ParseX509(l->certs().client->pem.chain_pem);
  X509Ptr root = ParseX509(l->certs().site_root_pem);
  EVP_PKEY* root_key = root ? X509_get0_pubkey(root.get()) : nullptr;  // owned by root
  if (!cert || root_key == nullptr) {
    state.SkipWithError("OpenSSL cannot parse the Cert_site or the site root");
    return;
  }
  for (auto _ : state) {
    if (X509_verify(cert.get(), root_key) != 1) {
      state.SkipWithError("OpenSSL refused a good signature");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The usual console table, then helper / plain and the check's share of a handshake. With
// --benchmark_repetitions the median stands for a name.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      Figure& f = figures_[run.run_name.function_name];
      if (f.from_median && !median) continue;
      const double unit = benchmark::GetTimeUnitMultiplier(run.time_unit);
      f = Figure{
          run.GetAdjustedRealTime() / unit, run.GetAdjustedCPUTime() / unit, median, false, {}, {}};
      // The paired benchmarks' own per-variant means, in microseconds.
      if (const auto it = run.counters.find("helper_us"); it != run.counters.end()) {
        f.paired = true;
        f.helper = {run.counters.at("helper_us") * 1e-6, run.counters.at("helper_cpu_us") * 1e-6};
        f.plain = {run.counters.at("plain_us") * 1e-6, run.counters.at("plain_cpu_us") * 1e-6};
      }
    }
  }

  void Finalize() override {
    std::ostream& out = GetOutputStream();
    out << "\nSummary: per operation, wall time and process CPU time (client and server "
           "together);\nratio = helper / plain mutual TLS with the same keys, this run. Paired: "
           "both in every\niteration, alternating (the fairer ratio on a busy machine); "
           "separate: BM_<op>/{helper,plain}.\n";
    out << Row({"", "helper", "plain", "ratio", "helper cpu", "plain cpu", "cpu ratio"});
    struct Op {
      const char* label;
      const char* name;
      double scale;
      const char* unit;
    };
    for (const Op& op :
         {Op{"handshake", "BM_Handshake", 1e3, " ms"}, Op{"call", "BM_Call", 1e6, " us"}}) {
      const auto paired = Lookup(std::string(op.name) + "Paired");
      const auto helper = Lookup(std::string(op.name) + "/helper");
      const auto plain = Lookup(std::string(op.name) + "/plain");
      out << Line(std::string(op.label) + " paired", paired ? paired->Helper() : std::nullopt,
                  paired ? paired->Plain() : std::nullopt, op.scale, op.unit);
      out << Line(std::string(op.label) + " sep.", helper, plain, op.scale, op.unit);
    }
    std::optional<Figure> hs, plain;
    if (const auto paired = Lookup("BM_HandshakePaired")) {
      hs = paired->Helper();
      plain = paired->Plain();
    } else {
      hs = Lookup("BM_Handshake/helper");
      plain = Lookup("BM_Handshake/plain");
    }
    const auto pem = Lookup("BM_PeerCheckPem"), check = Lookup("BM_PeerCheck"),
               botan = Lookup("BM_RawVerifyBotan"), openssl = Lookup("BM_RawVerifyOpenSsl");
    out << "\nThe check, CPU per peer certificate: CheckPem " << Cpu(pem, 1e6, " us")
        << " (Check on a parsed certificate " << Cpu(check, 1e6, " us")
        << ";\nits Ed25519 signature alone: Botan " << Cpu(botan, 1e6, " us") << ", OpenSSL "
        << Cpu(openssl, 1e6, " us") << ").\n";
    if (hs && pem && hs->cpu > 0 && hs->wall > 0) {
      out << "A helper handshake checks twice (each side the other): 2 x CheckPem = "
          << Format("%.1f", 200 * pem->cpu / hs->cpu) << " % of its process CPU, "
          << Format("%.1f", 200 * pem->cpu / hs->wall) << " % of its wall time.\n";
    }
    if (hs && plain && pem && openssl) {
      out << "helper - plain handshake: " << Format("%.0f", (hs->cpu - plain->cpu) * 1e6)
          << " us CPU, " << Format("%.0f", (hs->wall - plain->wall) * 1e6)
          << " us wall; 2 x (CheckPem - OpenSSL's verify) = "
          << Format("%.0f", 2 * (pem->cpu - openssl->cpu) * 1e6) << " us CPU.\n";
    }
    out.flush();
  }

 private:
  struct Time {
    double wall = 0;  // seconds per operation
    double cpu = 0;
  };
  struct Figure {
    double wall = 0;  // seconds per iteration
    double cpu = 0;
    bool from_median = false;
    bool paired = false;  // helper and plain hold the paired benchmarks' per-variant means
    Time helper, plain;
    std::optional<Figure> Helper() const { return Part(helper); }
    std::optional<Figure> Plain() const { return Part(plain); }
    std::optional<Figure> Part(const Time& t) const {
      if (!paired || t.wall <= 0) return std::nullopt;
      return Figure{t.wall, t.cpu, from_median, false, {}, {}};
    }
  };

  static std::string Line(const std::string& label, const std::optional<Figure>& helper,
                          const std::optional<Figure>& plain, double scale, const char* unit) {
    return Row({label, Wall(helper, scale, unit), Wall(plain, scale, unit),
                Ratio(helper, plain, false), Cpu(helper, scale, unit), Cpu(plain, scale, unit),
                Ratio(helper, plain, true)});
  }
  std::optional<Figure> Lookup(const std::string& name) const {
    auto it = figures_.find(name);
    if (it == figures_.end() || it->second.wall <= 0) return std::nullopt;
    return it->second;
  }
  static std::string Format(const char* fmt, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
  }
  static std::string Wall(const std::optional<Figure>& f, double scale, const char* unit) {
    return f ? Format("%.1f", f->wall * scale) + unit : "-";
  }
  static std::string Cpu(const std::optional<Figure>& f, double scale, const char* unit) {
    return f ? Format("%.1f", f->cpu * scale) + unit : "-";
  }
  static std::string Ratio(const std::optional<Figure>& a, const std::optional<Figure>& b,
                           bool cpu) {
    if (!a || !b) return "-";
    const double den = cpu ? b->cpu : b->wall;
    return den > 0 ? Format("%.2f", (cpu ? a->cpu : a->wall) / den) : "-";
  }
  static std::string Row(const std::vector<std::string>& cells) {
    std::string row;
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t width = i == 0 ? 16 : 12;
      std::string cell = cells[i];
      if (cell.size() < width) cell.insert(i == 0 ? cell.size() : 0, width - cell.size(), ' ');
      row += cell;
    }
    return row + "\n";
  }

  std::map<std::string, Figure> figures_;  // by benchmark name
};

void RegisterBenchmarks(Fixtures* fixtures) {
  // Each runs for --benchmark_min_time (default 0.5 s): about 15 s in all. The benchmarks keep
  // `fixtures`, which must outlive the run.
  auto grpc_figure = [](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime()->UseRealTime();
  };
  auto crypto = [](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();
  };
  for (const bool helper : {true, false}) {
    const std::string variant = helper ? "/helper" : "/plain";
    grpc_figure(benchmark::RegisterBenchmark(("BM_Handshake" + variant).c_str(), BM_Handshake,
                                             fixtures, helper));
  }
  for (const bool helper : {true, false}) {
    const std::string variant = helper ? "/helper" : "/plain";
    grpc_figure(
        benchmark::RegisterBenchmark(("BM_Call" + variant).c_str(), BM_Call, fixtures, helper));
  }
  grpc_figure(benchmark::RegisterBenchmark("BM_HandshakePaired", BM_HandshakePaired, fixtures));
  grpc_figure(benchmark::RegisterBenchmark("BM_CallPaired", BM_CallPaired, fixtures));
  crypto(benchmark::RegisterBenchmark("BM_PeerCheckPem", BM_PeerCheckPem, fixtures));
  crypto(benchmark::RegisterBenchmark("BM_PeerCheck", BM_PeerCheck, fixtures));
  crypto(benchmark::RegisterBenchmark("BM_RawVerifyBotan", BM_RawVerifyBotan, fixtures));
  crypto(benchmark::RegisterBenchmark("BM_RawVerifyOpenSsl", BM_RawVerifyOpenSsl, fixtures));
}

// gRPC's TLS server logs "No match found for server name: 127.0.0.1." (ERROR) in every
// handshake, helper and plain alike: the client sends the target's address as SNI and the
// server's certificate names no such host. Dropped here so that the table stays readable (and
// neither variant pays a write to the terminal per handshake); every other line is printed.
void FilterGrpcLog(gpr_log_func_args* args) {
  if (std::string_view(args->message).starts_with("No match found for server name")) return;
  std::fprintf(stderr, "grpc %s %s:%d] %s\n", gpr_log_severity_string(args->severity), args->file,
               args->line, args->message);
}

int RunBenchmarks(int argc, char** argv) {
  return bench::RunBenchmarks<SummaryReporter>(argc, argv, [](const bench::Run& run) {
    gpr_set_log_function(FilterGrpcLog);
    Fixtures fixtures;
    RegisterBenchmarks(&fixtures);
    return run();
  });
}

}  // namespace
}  // namespace sitechain::service_identity

int main(int argc, char** argv) { return sitechain::service_identity::RunBenchmarks(argc, argv); }
