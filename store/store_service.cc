#include "store/store_service.h"

#include <algorithm>
#include <set>

#include "common/hex.h"
#include "common/log.h"
#include "common/time_format.h"
#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/oids.h"

namespace sitechain::store {
namespace {

std::string Sha256Hex(std::string_view data) {
  return pki::HashBytes(pki::HashAlgorithm::kSha256, data).Hex();
}

std::string Sha256Hex(const std::vector<uint8_t>& data) {
  return Sha256Hex(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

std::string DigestLabel(const pki::Digest& d) {
  return std::string(pki::HashAlgorithmName(d.algorithm)) + ":" + d.Hex();
}

}  // namespace

Status StoreLimits::Validate() const {
  if (max_executable_bytes == 0) return InvalidArgument("max executable size must be positive");
  if (max_pem_bytes < 1024) return InvalidArgument("max PEM size must be at least 1024 bytes");
  if (max_text_bytes == 0) return InvalidArgument("max text size must be positive");
  if (developer_lifetime <= Seconds(0))
    return InvalidArgument("developer lifetime must be positive");
  if (default_token_ttl <= Seconds(0) || default_token_ttl > max_token_ttl) {
    return InvalidArgument("the default token lifetime must be positive and at most the maximum");
  }
  if (default_page_size == 0 || default_page_size > max_page_size ||
      max_revocations_per_call == 0) {
    return InvalidArgument("page sizes must be positive");
  }
  if (max_revocation_watchers_per_address == 0 ||
      max_revocation_watchers < max_revocation_watchers_per_address) {
    return InvalidArgument(
        "the revocation watch limits must be positive, the per-address one at most the total");
  }
  return Status::Ok();
}

StoreService::StoreService(StoreCa ca, StoreDatabase db, storage::BlobStore blobs,
                           const Clock& clock, Random& rng, StoreLimits limits)
    : clock_(clock),
      limits_(limits),
      blobs_(std::move(blobs)),
      verifier_(clock),
      ca_(std::move(ca)),
      db_(std::move(db)),
      rng_(rng) {}

Result<std::unique_ptr<StoreService>> StoreService::Create(StoreCa ca, StoreDatabase db,
                                                           storage::BlobStore blobs,
                                                           const Clock& clock, Random& rng,
                                                           StoreLimits limits) {
  SITECHAIN_RETURN_IF_ERROR(limits.Validate());
  SITECHAIN_ASSIGN_OR_RETURN(auto referenced, db.ReferencedBlobs());
  SITECHAIN_ASSIGN_OR_RETURN(auto present, blobs.List());
  const std::set<std::string> keep(referenced.begin(), referenced.end());
  size_t orphans = 0;
  for (const auto& name : present) {
    if (keep.contains(name)) continue;
    SITECHAIN_RETURN_IF_ERROR(blobs.Remove(name));
    spdlog::warn("removed orphan blob {}/{}: no release refers to it (a crash before its commit)",
                 blobs.dir(), name);
    ++orphans;
  }
  if (blobs.removed_leftovers() > 0 || orphans > 0) {
    spdlog::warn("startup sweep of {}: removed {} interrupted upload(s) and {} orphan blob(s)",
                 blobs.dir(), blobs.removed_leftovers(), orphans);
  }
  SITECHAIN_ASSIGN_OR_RETURN(uint64_t last, db.LastRevocationSequence());
  std::unique_ptr<StoreService> service(
      new StoreService(std::move(ca), std::move(db), std::move(blobs), clock, rng, limits));
  service->last_sequence_ = last;
  return service;
}

Status StoreService::CheckText(const std::string& what, const std::string& text,
                               bool required) const {
  if (required && text.empty()) return InvalidArgument("a " + what + " is required");
  if (text.size() > limits_.max_text_bytes) {
    return InvalidArgument("the " + what + " is " + std::to_string(text.size()) +
                           " bytes; at most " + std::to_string(limits_.max_text_bytes) +
                           " are allowed");
  }
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return InvalidArgument("the " + what + " contains control characters");
  }
  return Status::Ok();
}

// --- registration

Result<CreatedToken> StoreService::CreateToken(Seconds ttl, const std::string& note) {
  if (ttl == Seconds(0)) ttl = limits_.default_token_ttl;
  if (ttl < Seconds(0) || ttl > limits_.max_token_ttl) {
    return InvalidArgument("a token may live 1 s to " +
                           std::to_string(limits_.max_token_ttl.count()) + " s");
  }
  SITECHAIN_RETURN_IF_ERROR(CheckText("note", note, /*required=*/false));
  std::lock_guard lock(mu_);
  std::vector<uint8_t> secret(16);
  rng_.Fill(secret.data(), secret.size());
  CreatedToken out;
  out.token = "sct-" + HexEncode(secret);
  const TimePoint now = clock_.Now();
  out.record.hash = Sha256Hex(out.token);
  out.record.id = out.record.hash.substr(0, 16);
  out.record.note = note;
  out.record.created_at = now;
  out.record.expires_at = now + ttl;
  SITECHAIN_RETURN_IF_ERROR(db_.InsertToken(out.record, now));
  return out;
}

Result<std::vector<TokenRecord>> StoreService::ListTokens() {
  std::lock_guard lock(mu_);
  return db_.ListTokens();
}

Result<pki::Certificate> StoreService::Register(const std::string& token,
                                                const std::string& csr_pem) {
  if (csr_pem.size() > limits_.max_pem_bytes) {
    return InvalidArgument("the CSR is " + std::to_string(csr_pem.size()) + " bytes; at most " +
                           std::to_string(limits_.max_pem_bytes) + " are allowed");
  }
  if (token.empty() || token.size() > 256) {
    return Unauthenticated("a registration token is required; ask the store admin for one");
  }
  // The token first: a caller without one gets nothing of ours parsed or verified.
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  auto record = db_.FindTokenByHash(Sha256Hex(token));
  if (record.status().code() == StatusCode::kNotFound) {
    return Unauthenticated("unknown registration token; ask the store admin for a new one");
  }
  SITECHAIN_RETURN_IF_ERROR(record.status());
  if (record->used_at) {
    return Unauthenticated("registration token " + record->id + " was already used (by '" +
                           record->used_by + "' at " + FormatTime(*record->used_at) +
                           "); ask the store admin for a new one");
  }
  if (now >= record->expires_at) {
    return Unauthenticated("registration token " + record->id + " expired at " +
                           FormatTime(record->expires_at) + "; ask the store admin for a new one");
  }
  // Refuses a key outside the profile by its parameters, before anything verifies with it.
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::FromPem(csr_pem));
  const std::string key_fingerprint = Sha256Hex(csr.PublicKeyDer());
  SITECHAIN_ASSIGN_OR_RETURN(bool exists,
                             db_.DeveloperNameOrKeyExists(csr.CommonName(), key_fingerprint));
  if (exists) {
    return AlreadyExists("a developer named '" + csr.CommonName() +
                         "' or with this key is already registered; choose another name or key");
  }
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert,
                             ca_.IssueDeveloper(csr, limits_.developer_lifetime, {clock_, rng_}));
  DeveloperRecord dev;
  dev.name = cert.Subject().common_name;
  dev.serial = cert.SerialHex();
  dev.fingerprint = cert.Sha256Fingerprint();
  dev.key_fingerprint = key_fingerprint;
  dev.key_type = cert.PublicKeyAlgorithm();
  dev.certificate_pem = cert.ToPem();
  dev.registered_at = now;
  dev.not_after = cert.NotAfter();
  SITECHAIN_RETURN_IF_ERROR(db_.RegisterDeveloper(dev, record->id, now).status());
  return cert;
}

Result<std::vector<DeveloperRecord>> StoreService::ListDevelopers() {
  std::lock_guard lock(mu_);
  return db_.ListDevelopers();
}

Result<DeveloperRecord> StoreService::AuthenticateDeveloper(
    const std::optional<std::string>& peer_pem) {
  if (!peer_pem) {
    return Unauthenticated(
        "this call needs mutual TLS with your developer certificate (give --cert and --key)");
  }
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::FromPem(*peer_pem));
  if (auto v = verifier_.VerifyIssuedBy(cert, pki::CertRole::kDeveloperIdentity, root()); !v.ok()) {
    return Unauthenticated("the client certificate is not a developer identity of this store: " +
                           v.failure->ToString());
  }
  std::lock_guard lock(mu_);
  auto dev = db_.FindDeveloperByFingerprint(cert.Sha256Fingerprint());
  if (dev.status().code() == StatusCode::kNotFound) {
    return Unauthenticated("the client certificate (serial " + cert.SerialHex() +
                           ") is not registered at this store");
  }
  SITECHAIN_RETURN_IF_ERROR(dev.status());
  if (dev->revoked_at) {
    return PermissionDenied("developer '" + dev->name + "' was revoked at " +
                            FormatTime(*dev->revoked_at) + ": " + dev->revocation_reason);
  }
  return dev;
}

// --- publishing

Result<std::unique_ptr<StoreService::Upload>> StoreService::StartPublish(
    const DeveloperRecord& developer, const std::string& cert_dev_pem, uint64_t declared_size) {
  if (cert_dev_pem.size() > limits_.max_pem_bytes) {
    return InvalidArgument("Cert_dev is " + std::to_string(cert_dev_pem.size()) +
                           " bytes; at most " + std::to_string(limits_.max_pem_bytes) +
                           " are allowed");
  }
  if (declared_size > limits_.max_executable_bytes) {
    return ResourceExhausted("the executable is " + std::to_string(declared_size) +
                             " bytes; this store accepts at most " +
                             std::to_string(limits_.max_executable_bytes));
  }
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert_dev, pki::Certificate::FromPem(cert_dev_pem));
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate identity,
                             pki::Certificate::FromPem(developer.certificate_pem));
  if (cert_dev.IssuerDnDer() != identity.SubjectDnDer() ||
      !cert_dev.SignatureVerifiesWith(identity)) {
    return PermissionDenied("Cert_dev was issued by '" + cert_dev.Issuer().common_name +
                            "', not by you ('" + developer.name +
                            "'); sign the executable with your own key and certificate");
  }
  pki::ChainInput chain;
  chain.store_root = root();
  chain.developer_identity = identity;
  chain.cert_dev = cert_dev;
  const pki::Verification v = verifier_.Verify(chain);
  if (!v.ok()) return InvalidArgument("Cert_dev refused: " + v.failure->ToString());
  if (cert_dev.FindExtension(pki::MetadataHashOid())) {
    return InvalidArgument(
        "Cert_dev carries metadataHash, but this store cannot carry metadata files yet, so no "
        "site could verify the release; sign without --metadata");
  }
  const auto ext = cert_dev.FindExtension(pki::ExecutableHashOid());
  if (!ext || !v.release) return Internal("a verified Cert_dev lacks its release or digest");
  SITECHAIN_ASSIGN_OR_RETURN(pki::Digest expected, pki::DecodeHashExtension(ext->value));
  {
    std::lock_guard lock(mu_);
    SITECHAIN_RETURN_IF_ERROR(db_.CheckPublishable(developer.id, v.release->name,
                                                   v.release->version, v.release->release_counter));
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto writer,
                             blobs_.StartUpload(expected.algorithm, limits_.max_executable_bytes));
  return std::unique_ptr<Upload>(new Upload(*this, developer, std::move(identity),
                                            std::move(cert_dev), *v.release, std::move(expected),
                                            declared_size, std::move(writer)));
}

StoreService::Upload::Upload(StoreService& service, DeveloperRecord developer,
                             pki::Certificate developer_identity, pki::Certificate cert_dev,
                             pki::ServiceRelease release, pki::Digest expected,
                             uint64_t declared_size, storage::BlobStore::Writer writer)
    : service_(service),
      developer_(std::move(developer)),
      developer_identity_(std::move(developer_identity)),
      cert_dev_(std::move(cert_dev)),
      release_(std::move(release)),
      expected_(std::move(expected)),
      declared_size_(declared_size),
      writer_(std::move(writer)) {}

Status StoreService::Upload::Append(std::span<const uint8_t> bytes) {
  if (bytes.size() > declared_size_ - writer_.size()) {
    return InvalidArgument("the upload carries more than the declared " +
                           std::to_string(declared_size_) + " bytes");
  }
  return writer_.Append(bytes);
}

Result<Published> StoreService::Upload::Finish() {
  if (writer_.size() != declared_size_) {
    return InvalidArgument("truncated upload: received " + std::to_string(writer_.size()) +
                           " of the declared " + std::to_string(declared_size_) + " bytes");
  }
  SITECHAIN_ASSIGN_OR_RETURN(pki::Digest digest, writer_.Finish());
  if (digest != expected_) {
    return InvalidArgument("the executable received hashes to " + DigestLabel(digest) +
                           " but Cert_dev's executableHash is " + DigestLabel(expected_) +
                           "; publish the very file you signed");
  }
  return service_.CommitUpload(*this);
}

Result<Published> StoreService::CommitUpload(Upload& upload) {
  std::lock_guard lock(mu_);
  const pki::ServiceRelease& rel = upload.release_;
  SITECHAIN_RETURN_IF_ERROR(
      db_.CheckPublishable(upload.developer_.id, rel.name, rel.version, rel.release_counter));
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert_store,
                             ca_.IssueCertStore(upload.cert_dev_, {clock_, rng_}));
  pki::ChainInput chain;
  chain.store_root = root();
  chain.developer_identity = upload.developer_identity_;
  chain.cert_dev = upload.cert_dev_;
  chain.cert_store = cert_store;
  if (const pki::Verification v = verifier_.Verify(chain); !v.ok()) {
    return Internal("the Cert_store just issued does not verify: " + v.failure->ToString());
  }
  SITECHAIN_ASSIGN_OR_RETURN(std::string blob, upload.writer_.Commit());
  const TimePoint now = clock_.Now();
  ReleaseRecord record;
  record.name = rel.name;
  record.version = rel.version;
  record.release_counter = rel.release_counter;
  record.developer_id = upload.developer_.id;
  record.developer = upload.developer_.name;
  record.digest_algorithm = pki::HashAlgorithmName(upload.expected_.algorithm);
  record.digest = upload.expected_.Hex();
  record.size = upload.declared_size_;
  record.blob = blob;
  record.cert_dev_pem = upload.cert_dev_.ToPem();
  record.cert_store_pem = cert_store.ToPem();
  record.developer_certificate_pem = upload.developer_.certificate_pem;
  record.published_at = now;
  auto id = db_.InsertRelease(record, now);
  if (!id.ok()) {
    // Keep the blob only if an earlier release has the same bytes.
    auto referenced = db_.ReferencedBlobs();
    if (referenced.ok() &&
        std::find(referenced->begin(), referenced->end(), blob) == referenced->end()) {
      (void)blobs_.Remove(blob);
    }
    return id.status();
  }
  record.id = *id;
  return Published{std::move(record), std::move(cert_store)};
}

// --- catalog and download

Result<std::vector<ReleaseRecord>> StoreService::ListReleases(const ReleaseFilter& filter) {
  ReleaseFilter f = filter;
  f.limit = limits_.PageSize(f.limit);
  std::lock_guard lock(mu_);
  return db_.ListReleases(f);
}

Result<ReleaseRecord> StoreService::FindRelease(const std::string& name,
                                                const std::string& version) {
  std::lock_guard lock(mu_);
  return db_.FindRelease(name, version);
}

Result<UniqueFd> StoreService::OpenBlob(const ReleaseRecord& release) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::HashAlgorithm alg,
                             pki::ParseHashAlgorithm(release.digest_algorithm));
  SITECHAIN_ASSIGN_OR_RETURN(auto bytes, HexDecode(release.digest));
  auto fd = blobs_.Open(pki::Digest{alg, std::move(bytes)});
  if (fd.status().code() == StatusCode::kNotFound) {
    return DataLoss("the executable of " + release.name + " " + release.version +
                    " is missing from the blob directory");
  }
  return fd;
}

// --- revocation

Result<RevocationRecord> StoreService::RevokeRelease(
    const std::optional<DeveloperRecord>& developer, const std::string& name,
    const std::string& version, const std::string& reason) {
  SITECHAIN_RETURN_IF_ERROR(CheckText("reason", reason, /*required=*/true));
  if (name.empty() || version.empty()) {
    return InvalidArgument("name which release to revoke: a name and a version");
  }
  Result<RevocationRecord> r = [&] {
    std::lock_guard lock(mu_);
    return db_.RevokeRelease(name, version, reason,
                             developer ? "developer:" + developer->name : "admin",
                             developer ? std::optional(developer->id) : std::nullopt, clock_.Now());
  }();
  if (r.ok()) NotifyRevocation(r->sequence);
  return r;
}

Result<RevocationRecord> StoreService::RevokeDeveloper(const std::string& name,
                                                       const std::string& reason) {
  SITECHAIN_RETURN_IF_ERROR(CheckText("reason", reason, /*required=*/true));
  uint64_t last = 0;
  Result<RevocationRecord> r = [&]() -> Result<RevocationRecord> {
    std::lock_guard lock(mu_);
    SITECHAIN_ASSIGN_OR_RETURN(auto rec, db_.RevokeDeveloper(name, reason, "admin", clock_.Now()));
    SITECHAIN_ASSIGN_OR_RETURN(last, db_.LastRevocationSequence());
    return rec;
  }();
  if (r.ok()) NotifyRevocation(last);
  return r;
}

Result<std::vector<RevocationRecord>> StoreService::RevocationsSince(uint64_t after_sequence,
                                                                     uint32_t limit) {
  if (limit == 0 || limit > limits_.max_revocations_per_call) {
    limit = limits_.max_revocations_per_call;
  }
  std::lock_guard lock(mu_);
  return db_.RevocationsSince(after_sequence, limit);
}

Result<uint64_t> StoreService::LastRevocationSequence() {
  std::lock_guard lock(mu_);
  return db_.LastRevocationSequence();
}

void StoreService::NotifyRevocation(uint64_t sequence) {
  {
    std::lock_guard lock(feed_mu_);
    last_sequence_ = std::max(last_sequence_, sequence);
  }
  feed_cv_.notify_all();
}

bool StoreService::WaitForRevocation(uint64_t after_sequence, std::chrono::milliseconds timeout) {
  std::unique_lock lock(feed_mu_);
  feed_cv_.wait_for(lock, timeout,
                    [&] { return last_sequence_ > after_sequence || shutting_down_; });
  return last_sequence_ > after_sequence;
}

void StoreService::Shutdown() {
  {
    std::lock_guard lock(feed_mu_);
    shutting_down_ = true;
  }
  feed_cv_.notify_all();
}

bool StoreService::shutting_down() {
  std::lock_guard lock(feed_mu_);
  return shutting_down_;
}

Result<StoreStats> StoreService::Stats() {
  std::lock_guard lock(mu_);
  return db_.Stats(clock_.Now());
}

}  // namespace sitechain::store
