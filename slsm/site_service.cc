#include "slsm/site_service.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/hex.h"
#include "common/time_format.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/profile.h"

namespace sitechain::slsm {
namespace {

std::string Sha256Hex(std::string_view data) {
  return pki::HashBytes(pki::HashAlgorithm::kSha256, data).Hex();
}
std::string Sha256Hex(const std::vector<uint8_t>& data) {
  return Sha256Hex(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

Seconds Scaled(Seconds s, double fraction) {
  return Seconds(static_cast<int64_t>(std::llround(static_cast<double>(s.count()) * fraction)));
}

// A policy as the certificate carries it: a JSON object in compact form.
Result<std::string> CompactPolicy(const std::string& text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return InvalidArgument("the policy is " + std::to_string(text.size()) + " bytes; at most " +
                           std::to_string(max_bytes) + " are allowed");
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("the policy is not valid JSON: ") + e.what());
  }
  if (!json.is_object()) return InvalidArgument("the policy must be a JSON object ({...})");
  std::string compact = json.dump();
  if (compact.size() > max_bytes) return InvalidArgument("the compact policy is too large");
  return compact;
}

// 100 -> "100", 2.5 -> "2.5".
std::string FormatRate(double rate) {
  std::ostringstream out;
  out << rate;
  return out.str();
}

std::string JoinTokenHash(std::string_view id, std::string_view secret) {
  return Sha256Hex(std::string(id) + "." + std::string(secret));
}

}  // namespace

Status SiteOptions::Validate() const {
  if (cert_site_lifetime < Seconds(10)) {
    return InvalidArgument("the Cert_site lifetime must be at least 10 s");
  }
  if (node_lifetime < Seconds(60))
    return InvalidArgument("the node lifetime must be at least 60 s");
  if (node_recovery_grace < Seconds(0)) return InvalidArgument("the recovery grace must be >= 0");
  if (default_token_ttl <= Seconds(0) || max_token_ttl < default_token_ttl) {
    return InvalidArgument("the join token TTLs must be positive, the default within the maximum");
  }
  if (!(renew_window_start > 0 && renew_window_start < renew_window_end && renew_window_end < 1)) {
    return InvalidArgument("the renewal window must satisfy 0 < start < end < 1");
  }
  if (!(max_issuance_per_second > 0) || issuance_burst < 1) {
    return InvalidArgument("the issuance rate must be positive and the burst at least 1");
  }
  if (policy_push_window < Seconds(0)) return InvalidArgument("the push window must be >= 0");
  if (max_executable_bytes == 0 || max_policy_bytes == 0 || max_renewals_per_call == 0) {
    return InvalidArgument("the size limits must be positive");
  }
  // A larger limit would accept policies that no Cert_site can carry.
  if (max_policy_bytes > pki::kMaxSitePolicyBytes) {
    return InvalidArgument("the policy limit is at most " +
                           std::to_string(pki::kMaxSitePolicyBytes) +
                           " bytes (what a certificate's sitePolicy holds)");
  }
  return Status::Ok();
}

SiteService::SiteService(slca::SiteCa ca, pki::Certificate store_root, SiteDatabase db,
                         storage::BlobStore packages, ReleaseSource& source, NodeNotifier& nodes,
                         const Clock& clock, Random& rng, SiteOptions options)
    : clock_(clock),
      options_(std::move(options)),
      packages_(std::move(packages)),
      verifier_(clock, options_.verify),
      store_root_(std::move(store_root)),
      source_(source),
      nodes_(nodes),
      ca_(std::move(ca)),
      db_(std::move(db)),
      rng_(rng),
      bucket_(options_.issuance_burst),
      bucket_updated_(clock.Now()) {}

Result<std::unique_ptr<SiteService>> SiteService::Create(slca::SiteCa ca,
                                                         pki::Certificate store_root,
                                                         SiteDatabase db, storage::BlobStore packages,
                                                         ReleaseSource& source, NodeNotifier& nodes,
                                                         const Clock& clock, Random& rng,
                                                         SiteOptions options) {
  SITECHAIN_RETURN_IF_ERROR(options.Validate());
  SITECHAIN_ASSIGN_OR_RETURN(auto referenced, db.ReferencedBlobs());
  SITECHAIN_ASSIGN_OR_RETURN(auto present, packages.List());
  const std::set<std::string> keep(referenced.begin(), referenced.end());
  for (const auto& name : present) {
    if (!keep.contains(name)) SITECHAIN_RETURN_IF_ERROR(packages.Remove(name));
  }
  return std::unique_ptr<SiteService>(new SiteService(std::move(ca), std::move(store_root),
                                                      std::move(db), std::move(packages), source,
                                                      nodes, clock, rng, std::move(options)));
}

// --- install ---------------------------------------------------------------------------------

Result<ReleaseRecord> SiteService::Install(const std::string& name, const std::string& version) {
  SITECHAIN_RETURN_IF_ERROR(pki::ValidateIdentifier("release name", name));
  std::optional<ReleaseHeader> header;
  std::optional<storage::BlobStore::Writer> writer;
  Status s = source_.Download(
      name, version,
      [&](const ReleaseHeader& h) -> Status {
        if (h.name != name || (!version.empty() && h.version != version)) {
          return DataLoss("the store sent " + h.name + " " + h.version + " for " + name + " " +
                          version);
        }
        {
          std::lock_guard lock(mu_);
          auto known = db_.FindRelease(h.name, h.version);
          if (known.ok()) {
            return AlreadyExists(h.name + " " + h.version + " is already installed");
          }
          if (known.status().code() != StatusCode::kNotFound) return known.status();
        }
        if (h.size > options_.max_executable_bytes) {
          return ResourceExhausted("the executable is " + std::to_string(h.size) +
                                   " bytes; this site accepts at most " +
                                   std::to_string(options_.max_executable_bytes));
        }
        SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(h.digest_algorithm));
        SITECHAIN_ASSIGN_OR_RETURN(auto w, packages_.StartUpload(alg, h.size));
        writer.emplace(std::move(w));
        header = h;
        return Status::Ok();
      },
      [&](std::span<const uint8_t> chunk) -> Status {
        if (!writer) return DataLoss("the store sent data before the release header");
        return writer->Append(chunk);
      });
  SITECHAIN_RETURN_IF_ERROR(s);
  if (!header || !writer) return DataLoss("the store's reply carried no release");
  if (writer->size() != header->size) {
    return DataLoss("the store sent " + std::to_string(writer->size()) + " of " +
                    std::to_string(header->size) + " bytes of " + name +
                    "; nothing was installed, try again");
  }
  return CommitInstall(*header, *writer);
}

Result<ReleaseRecord> SiteService::CommitInstall(const ReleaseHeader& h,
                                                 storage::BlobStore::Writer& writer) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::Digest digest, writer.Finish());
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_dev, pki::Certificate::FromPem(h.cert_dev_pem));
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_store, pki::Certificate::FromPem(h.cert_store_pem));
  SITECHAIN_ASSIGN_OR_RETURN(auto identity, pki::Certificate::FromPem(h.developer_certificate_pem));
  SITECHAIN_ASSIGN_OR_RETURN(const std::string blob, writer.Commit());
  std::lock_guard lock(mu_);
  // Drops the blob again if the release is refused (unless another release uses the same one).
  auto discard = [&](Status why) -> Status {
    auto referenced = db_.ReferencedBlobs();
    if (referenced.ok() &&
        std::find(referenced->begin(), referenced->end(), blob) == referenced->end()) {
      (void)packages_.Remove(blob);
    }
    return why;
  };
  auto highest_or = db_.HighestReleaseCounter(h.name);
  if (!highest_or.ok()) return discard(highest_or.status());
  const uint64_t highest = *highest_or;
  // 0 is a valid counter: whether the name has a release is the service's existence.
  auto existing = db_.FindService(h.name);
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
    return discard(existing.status());
  }
  const bool installed_before = existing.ok();
  auto fd = packages_.Open(digest);
  if (!fd.ok()) return discard(fd.status());
  pki::ChainInput input;
  input.store_root = store_root_;
  input.developer_identity = identity;
  input.cert_dev = cert_dev;
  input.cert_store = cert_store;
  input.executable_fd = fd->get();
  if (installed_before) input.highest_release_counter = highest;
  const pki::Verification v = verifier_.Verify(input);
  if (!v.ok()) {
    return discard(InvalidArgument("release " + h.name + " " + h.version + " does not verify: " +
                                   v.failure->ToString() + "; nothing was installed"));
  }
  if (v.release->name != h.name || v.release->version != h.version ||
      v.release->release_counter != h.release_counter) {
    return discard(InvalidArgument("the store's description of " + h.name + " " + h.version +
                                   " does not match its certificates"));
  }
  if (installed_before && v.release->release_counter == highest) {
    return discard(FailedPrecondition("release counter " + std::to_string(highest) + " of " +
                                      h.name + " is already installed under another version"));
  }
  ReleaseRecord r;
  r.name = h.name;
  r.version = h.version;
  r.release_counter = h.release_counter;
  r.developer = identity.Subject().common_name;
  r.digest_algorithm = std::string(pki::HashAlgorithmName(digest.algorithm));
  r.digest = digest.Hex();
  r.size = h.size;
  r.blob = blob;
  r.cert_dev_pem = cert_dev.ToPem();
  r.cert_store_pem = cert_store.ToPem();
  r.developer_certificate_pem = identity.ToPem();
  auto inserted = db_.InsertRelease(r, clock_.Now());
  if (!inserted.ok()) return discard(inserted.status());
  // Instances of the service move to the new release: tell their nodes to fetch it.
  SITECHAIN_ASSIGN_OR_RETURN(auto service, db_.FindService(r.name));
  if (service.release_id == inserted->id) {
    SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(r.name, ""));
    for (const auto& i : instances) nodes_.Deploy(i.node, r.name, r.digest);
  }
  return inserted;
}

Result<ReleaseRecord> SiteService::ReleaseOfService(const std::string& service) {
  SITECHAIN_ASSIGN_OR_RETURN(auto s, db_.FindService(service));
  return db_.FindReleaseById(s.release_id);
}

Result<std::vector<ServiceView>> SiteService::ListServices() {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto services, db_.ListServices());
  std::vector<ServiceView> out;
  for (auto& s : services) {
    SITECHAIN_ASSIGN_OR_RETURN(auto release, db_.FindReleaseById(s.release_id));
    SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(s.name, ""));
    out.push_back({std::move(s), std::move(release), static_cast<uint32_t>(instances.size())});
  }
  return out;
}

Result<ServiceView> SiteService::SetPolicy(const std::string& service,
                                           const std::string& policy_json) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string compact,
                             CompactPolicy(policy_json, options_.max_policy_bytes));
  std::lock_guard lock(mu_);
  SITECHAIN_RETURN_IF_ERROR(db_.SetPolicy(service, compact, clock_.Now()));
  SITECHAIN_ASSIGN_OR_RETURN(auto record, db_.FindService(service));
  SITECHAIN_ASSIGN_OR_RETURN(auto release, db_.FindReleaseById(record.release_id));
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(service, ""));
  SITECHAIN_ASSIGN_OR_RETURN(auto push, SchedulePush(instances.size(), clock_.Now()));
  for (const auto& i : instances) nodes_.RenewNow(i.node, {service}, push.second, push.first);
  return ServiceView{std::move(record), std::move(release),
                     static_cast<uint32_t>(instances.size())};
}

// --- nodes (admin) ---------------------------------------------------------------------------

Result<CreatedJoinToken> SiteService::CreateJoinToken(const std::string& node, Seconds ttl) {
  SITECHAIN_RETURN_IF_ERROR(pki::ValidateIdentifier("node name", node));
  if (ttl == Seconds(0)) ttl = options_.default_token_ttl;
  if (ttl < Seconds(0) || ttl > options_.max_token_ttl) {
    return InvalidArgument("a join token may live 1 s to " +
                           std::to_string(options_.max_token_ttl.count()) + " s");
  }
  std::lock_guard lock(mu_);
  std::vector<uint8_t> id(4), secret(16);
  rng_.Fill(id.data(), id.size());
  rng_.Fill(secret.data(), secret.size());
  CreatedJoinToken out;
  const std::string id_hex = HexEncode(id), secret_hex = HexEncode(secret);
  out.token = id_hex + "." + secret_hex + "." + ca_.RootFingerprint();
  const TimePoint now = clock_.Now();
  out.record = {id_hex, JoinTokenHash(id_hex, secret_hex), node, now, now + ttl, std::nullopt};
  SITECHAIN_RETURN_IF_ERROR(db_.InsertJoinToken(out.record, now));
  return out;
}

Result<std::vector<NodeRecord>> SiteService::ListNodes() {
  std::lock_guard lock(mu_);
  return db_.ListNodes();
}

Result<NodeRecord> SiteService::EvictNode(const std::string& node) {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances("", node));
  SITECHAIN_RETURN_IF_ERROR(db_.EvictNode(node, clock_.Now()));
  for (const auto& i : instances) nodes_.Stop(node, i.service, "the node was evicted");
  nodes_.Disconnect(node, PermissionDenied("node '" + node +
                                           "' was evicted; it needs a new join "
                                           "token"));
  return db_.FindNode(node);
}

Result<std::vector<InstanceRecord>> SiteService::Deploy(const std::string& service,
                                                        const std::vector<std::string>& nodes) {
  if (nodes.empty()) return InvalidArgument("name at least one node to deploy to");
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto release, ReleaseOfService(service));
  if (release.revoked) {
    return FailedPrecondition(service + " runs " + release.version + ", which the store revoked (" +
                              release.revocation_reason + "); install a newer release first");
  }
  for (const auto& n : nodes) {  // all or nothing: check every node first
    SITECHAIN_ASSIGN_OR_RETURN(auto node, db_.FindNode(n));
    if (node.evicted_at) {
      return FailedPrecondition("node '" + n + "' is evicted; enroll it again with a new token");
    }
  }
  const TimePoint now = clock_.Now();
  std::vector<InstanceRecord> added;
  for (const auto& n : nodes) {
    Status s = db_.InsertInstance(service, n, now);
    if (s.code() == StatusCode::kAlreadyExists) continue;
    SITECHAIN_RETURN_IF_ERROR(s);
    SITECHAIN_ASSIGN_OR_RETURN(auto instance, db_.FindInstance(service, n));
    added.push_back(std::move(instance));
    nodes_.Deploy(n, service, release.digest);
  }
  return added;
}

Result<std::vector<InstanceRecord>> SiteService::Undeploy(const std::string& service,
                                                          const std::vector<std::string>& nodes) {
  if (nodes.empty()) return InvalidArgument("name at least one node to undeploy from");
  std::lock_guard lock(mu_);
  std::vector<InstanceRecord> removed;
  for (const auto& n : nodes) {  // all or nothing, as Deploy: check every node first
    SITECHAIN_ASSIGN_OR_RETURN(auto instance, db_.FindInstance(service, n));
    removed.push_back(std::move(instance));
  }
  for (const auto& i : removed) {
    SITECHAIN_RETURN_IF_ERROR(db_.DeleteInstance(service, i.node, clock_.Now()));
    nodes_.Stop(i.node, service, "undeployed by the site admin");
  }
  return removed;
}

Result<std::vector<InstanceRecord>> SiteService::ListInstances(const std::string& service,
                                                               const std::string& node) {
  std::lock_guard lock(mu_);
  return db_.ListInstances(service, node);
}

Result<std::vector<IssuedRecord>> SiteService::ListIssued(uint32_t limit) {
  std::lock_guard lock(mu_);
  return db_.ListIssued(limit == 0 ? 100 : std::min<uint32_t>(limit, 10000));
}

Result<SiteCounts> SiteService::Counts() {
  std::lock_guard lock(mu_);
  return db_.Counts();
}

// --- nodes (calls) ---------------------------------------------------------------------------

Result<Enrolled> SiteService::Enroll(const std::string& token, const std::string& node,
                                     std::span<const uint8_t> csr_der) {
  // <id>.<secret>.<fingerprint>; the fingerprint is for the node, the rest is the credential.
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string::npos ? dot1 : token.find('.', dot1 + 1);
  if (token.size() > 256 || dot2 == std::string::npos) {
    return Unauthenticated("malformed join token; ask the site admin for one (slsm tokens create)");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::FromDer(csr_der));
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  auto record = db_.FindJoinTokenByHash(
      JoinTokenHash(token.substr(0, dot1), token.substr(dot1 + 1, dot2 - dot1 - 1)));
  if (record.status().code() == StatusCode::kNotFound) {
    return Unauthenticated("unknown join token; ask the site admin for a new one");
  }
  SITECHAIN_RETURN_IF_ERROR(record.status());
  if (record->used_at) {
    return Unauthenticated("join token " + record->id + " was already used at " +
                           FormatTime(*record->used_at) + "; ask the site admin for a new one");
  }
  if (now >= record->expires_at) {
    return Unauthenticated("join token " + record->id + " expired at " +
                           FormatTime(record->expires_at) + "; ask the site admin for a new one");
  }
  if (record->node != node) {
    return PermissionDenied("join token " + record->id + " was made for node '" + record->node +
                            "', not '" + node + "'");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto cert,
                             ca_.IssueNode(csr, node, options_.node_lifetime, {clock_, rng_}));
  NodeRecord n;
  n.name = node;
  n.key_fingerprint = Sha256Hex(cert.PublicKeyDer());
  n.certificate_serial = cert.SerialHex();
  n.certificate_not_after = cert.NotAfter();
  n.enrolled_at = now;
  SITECHAIN_RETURN_IF_ERROR(db_.EnrollNode(n, record->id, now));
  SITECHAIN_RETURN_IF_ERROR(db_.LogIssued(
      {cert.SerialHex(), "node", cert.Subject().ToString(), node, "", cert.NotAfter(), now}));
  return Enrolled{std::move(cert), ca_.root()};
}

Result<NodeRecord> SiteService::AuthenticateNode(const std::optional<std::string>& peer_pem) {
  return Authenticate(peer_pem, Seconds(0));
}

Result<NodeRecord> SiteService::AuthenticateNodeForRenewal(
    const std::optional<std::string>& peer_pem) {
  return Authenticate(peer_pem, options_.node_recovery_grace);
}

Result<NodeRecord> SiteService::Authenticate(const std::optional<std::string>& peer_pem,
                                             Seconds expired_grace) {
  if (!peer_pem) {
    return Unauthenticated("this call needs mutual TLS with the node certificate of site '" +
                           site() + "' (enroll the node first)");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::FromPem(*peer_pem));
  pki::Verification v = verifier_.VerifyIssuedBy(cert, pki::CertRole::kNode, ca_.root());
  if (!v.ok() && v.failure->reason == pki::Reason::kExpired && expired_grace > Seconds(0) &&
      clock_.Now() - cert.NotAfter() <= expired_grace) {
    // A node that was offline past its certificate's expiry may recover with proof of its key
    // (the handshake): everything but the time must still check out, at the last valid second.
    const ManualClock then(cert.NotAfter() - Seconds(1));
    v = pki::Verifier(then, options_.verify).VerifyIssuedBy(cert, pki::CertRole::kNode, ca_.root());
  }
  if (!v.ok()) {
    return Unauthenticated("the client certificate is not a valid node certificate of site '" +
                           site() + "': " + v.failure->ToString());
  }
  const std::string name = cert.Subject().common_name;
  std::lock_guard lock(mu_);
  auto node = db_.FindNode(name);
  if (node.status().code() == StatusCode::kNotFound) {
    return Unauthenticated("node '" + name + "' is not enrolled at this site");
  }
  SITECHAIN_RETURN_IF_ERROR(node.status());
  if (node->evicted_at) {
    return PermissionDenied("node '" + name + "' was evicted at " + FormatTime(*node->evicted_at) +
                            "; it needs a new join token");
  }
  if (node->key_fingerprint != Sha256Hex(cert.PublicKeyDer())) {
    return Unauthenticated("the certificate of node '" + name +
                           "' is for a key the site no longer knows (the node re-enrolled)");
  }
  return node;
}

Result<pki::Certificate> SiteService::RenewNode(const NodeRecord& node,
                                                std::span<const uint8_t> csr_der) {
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::FromDer(csr_der));
  if (Sha256Hex(csr.PublicKeyDer()) != node.key_fingerprint) {
    return InvalidArgument("the CSR is for another key than node '" + node.name +
                           "' enrolled with; a new key needs a new join token");
  }
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto cert,
                             ca_.IssueNode(csr, node.name, options_.node_lifetime, {clock_, rng_}));
  SITECHAIN_RETURN_IF_ERROR(db_.LogIssued({cert.SerialHex(), "node", cert.Subject().ToString(),
                                           node.name, "", cert.NotAfter(), clock_.Now()}));
  return cert;
}

Result<Package> SiteService::PackageFor(const NodeRecord& node, const std::string& service) {
  std::lock_guard lock(mu_);
  auto instance = db_.FindInstance(service, node.name);
  if (instance.status().code() == StatusCode::kNotFound) {
    return PermissionDenied("service '" + service + "' is not deployed to node '" + node.name +
                            "'");
  }
  SITECHAIN_RETURN_IF_ERROR(instance.status());
  SITECHAIN_ASSIGN_OR_RETURN(auto release, ReleaseOfService(service));
  if (release.revoked) {
    return FailedPrecondition(service + " " + release.version +
                              " was revoked at the store: " + release.revocation_reason);
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(release.digest_algorithm));
  SITECHAIN_ASSIGN_OR_RETURN(auto bytes, HexDecode(release.digest));
  SITECHAIN_ASSIGN_OR_RETURN(auto fd, packages_.Open(pki::Digest{alg, std::move(bytes)}));
  return Package{std::move(release), std::move(fd)};
}

bool SiteService::TakeIssuanceToken(TimePoint now) {
  const double elapsed = std::chrono::duration<double>(now - bucket_updated_).count();
  if (elapsed > 0) {
    bucket_ =
        std::min(options_.issuance_burst, bucket_ + elapsed * options_.max_issuance_per_second);
    bucket_updated_ = now;
  }
  if (bucket_ < 1) return false;
  bucket_ -= 1;
  return true;
}

Result<std::pair<TimePoint, Seconds>> SiteService::SchedulePush(size_t count, TimePoint now) {
  // The rate the limit leaves for pushes: what the regular renewals of every instance (one per
  // lifetime, in the suggested window) do not use, at least a tenth of the limit.
  SITECHAIN_ASSIGN_OR_RETURN(auto counts, db_.Counts());
  const double mean_renewal_age = static_cast<double>(options_.cert_site_lifetime.count()) *
                                  (options_.renew_window_start + options_.renew_window_end) / 2;
  const double regular = static_cast<double>(counts.instances) / std::max(1.0, mean_renewal_age);
  const double rate = options_.max_issuance_per_second;
  const double push_rate = std::max(0.1 * rate, 0.9 * rate - regular);
  // n re-issuances at push_rate need n / push_rate seconds; each push is spread over at least
  // policy_push_window. Pushes queue behind each other: the next one starts when this one's
  // share of the rate is used, so that however many are queued their sum stays at push_rate.
  const double needed_s = static_cast<double>(count) / push_rate;
  const TimePoint start = std::max(now, push_free_at_);
  push_free_at_ = start + std::chrono::duration_cast<TimePoint::duration>(
                              std::chrono::duration<double>(needed_s));
  const Seconds window =
      std::max(options_.policy_push_window, Seconds(static_cast<int64_t>(std::ceil(needed_s))));
  return std::pair{start <= now ? TimePoint{} : start, window};
}

Result<RenewalResult> SiteService::IssueOne(const NodeRecord& node, const RenewalRequest& request,
                                            TimePoint now, std::vector<IssuedRecord>& issued) {
  RenewalResult out;
  out.service = request.service;
  auto refuse = [&](Status s) -> Result<RenewalResult> {
    out.status = std::move(s);
    return out;
  };
  auto instance = db_.FindInstance(request.service, node.name);
  if (instance.status().code() == StatusCode::kNotFound) {
    return refuse(PermissionDenied("service '" + request.service + "' is not deployed to node '" +
                                   node.name + "'"));
  }
  SITECHAIN_RETURN_IF_ERROR(instance.status());
  SITECHAIN_ASSIGN_OR_RETURN(auto service, db_.FindService(request.service));
  SITECHAIN_ASSIGN_OR_RETURN(auto release, db_.FindReleaseById(service.release_id));
  if (release.revoked) {
    return refuse(FailedPrecondition(request.service + " " + release.version +
                                     " was revoked at the store: " + release.revocation_reason));
  }
  auto csr = pki::CertificateRequest::FromDer(request.csr_der);
  if (!csr.ok()) return refuse(csr.status());
  if (Status s = pki::CheckRequest(*csr, "service instance"); !s.ok()) return refuse(s);
  if (!TakeIssuanceToken(now)) {
    const auto wait = Seconds(
        static_cast<int64_t>(std::ceil((1 - bucket_) / options_.max_issuance_per_second)) + 1);
    out.renew_after = now + wait;
    out.renew_before = now + wait + options_.policy_push_window;
    return refuse(ResourceExhausted("the site issues at most " +
                                    FormatRate(options_.max_issuance_per_second) +
                                    " certificates per second; retry after the suggested time"));
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_store, pki::Certificate::FromPem(release.cert_store_pem));
  pki::SiteBinding binding{node.name, request.service, csr->PublicKeyDer(), service.policy_json};
  auto cert = ca_.IssueCertSite(cert_store, binding, options_.cert_site_lifetime, {clock_, rng_});
  if (!cert.ok()) return refuse(cert.status());
  issued.push_back({cert->SerialHex(), "site", cert->Subject().ToString(), node.name,
                    request.service, cert->NotAfter(), now});
  const Seconds lifetime = options_.cert_site_lifetime;
  out.renew_after = now + Scaled(lifetime, options_.renew_window_start);
  out.renew_before = now + Scaled(lifetime, options_.renew_window_end);
  out.certificate = std::move(*cert);
  return out;
}

Result<std::vector<RenewalResult>> SiteService::Renew(const NodeRecord& node,
                                                      const std::vector<RenewalRequest>& requests) {
  if (requests.empty()) return InvalidArgument("a renewal names at least one instance");
  if (requests.size() > options_.max_renewals_per_call) {
    return InvalidArgument("at most " + std::to_string(options_.max_renewals_per_call) +
                           " instances renew in one call");
  }
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  std::vector<RenewalResult> out;
  out.reserve(requests.size());
  std::vector<IssuedRecord> issued;
  for (const auto& r : requests) {
    SITECHAIN_ASSIGN_OR_RETURN(auto result, IssueOne(node, r, now, issued));
    out.push_back(std::move(result));
  }
  // One commit for the whole call: a commit (and its fsync) per certificate, under mu_, capped
  // the site at ~1 / fsync-time certificates per second. Nothing is handed out unless logged.
  SITECHAIN_RETURN_IF_ERROR(db_.LogIssuedAll(issued));
  return out;
}

void SiteService::ReportInstance(const std::string& node, const std::string& service,
                                 const std::string& state, const std::string& detail) {
  std::lock_guard lock(mu_);
  (void)db_.SetInstanceState(service, node, state.substr(0, 64), detail.substr(0, 1024));
}

void SiteService::ReportInstances(const std::string& node,
                                  std::vector<SiteDatabase::InstanceState> states) {
  for (auto& s : states) {
    s.state = s.state.substr(0, 64);
    s.detail = s.detail.substr(0, 1024);
  }
  std::lock_guard lock(mu_);
  (void)db_.SetInstanceStates(node, states);
}

void SiteService::NodeSeen(const std::string& node) {
  std::lock_guard lock(mu_);
  (void)db_.TouchNode(node, clock_.Now());
}

Status SiteService::Reconcile(const std::string& node,
                              const std::vector<std::string>& reported_services) {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances("", node));
  std::set<std::string> should_run;
  std::vector<std::string> stale;
  for (const auto& i : instances) {
    SITECHAIN_ASSIGN_OR_RETURN(auto service, db_.FindService(i.service));
    SITECHAIN_ASSIGN_OR_RETURN(auto release, db_.FindReleaseById(service.release_id));
    if (release.revoked) continue;
    should_run.insert(i.service);
    nodes_.Deploy(node, i.service, release.digest);
    // Issued (notAfter - lifetime) no later than the policy's last change, to the second: the
    // node missed the push while it was away, or it was queued when the node left.
    if (i.certificate_not_after &&
        *i.certificate_not_after - options_.cert_site_lifetime <= service.updated_at) {
      stale.push_back(i.service);
    }
  }
  if (!stale.empty()) {
    SITECHAIN_ASSIGN_OR_RETURN(auto push, SchedulePush(stale.size(), clock_.Now()));
    nodes_.RenewNow(node, stale, push.second, push.first);
  }
  for (const auto& s : reported_services) {
    if (!should_run.contains(s)) nodes_.Stop(node, s, "not deployed to this node (any more)");
  }
  return Status::Ok();
}

// --- store feed ------------------------------------------------------------------------------

Status SiteService::StopEverywhere(const std::string& service, const std::string& reason) {
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(service, ""));
  for (const auto& i : instances) nodes_.Stop(i.node, service, reason);
  return Status::Ok();
}

Status SiteService::ApplyRevocation(const StoreRevocation& r) {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  SITECHAIN_ASSIGN_OR_RETURN(auto services, db_.ListServices());
  if (r.developer) {
    SITECHAIN_RETURN_IF_ERROR(db_.MarkDeveloperRevoked(r.developer_name, r.reason, now).status());
  } else {
    SITECHAIN_RETURN_IF_ERROR(db_.MarkReleaseRevoked(r.name, r.version, r.reason, now).status());
  }
  // Stop every service whose current release is now revoked.
  for (const auto& s : services) {
    SITECHAIN_ASSIGN_OR_RETURN(auto release, db_.FindReleaseById(s.release_id));
    const bool hit = r.developer ? release.developer == r.developer_name
                                 : release.name == r.name && release.version == r.version;
    if (hit && release.revoked) {
      SITECHAIN_RETURN_IF_ERROR(StopEverywhere(
          s.name, "release " + release.version + " was revoked at the store: " + r.reason));
    }
  }
  return db_.SetLastFeedSequence(r.sequence);
}

Result<uint64_t> SiteService::LastFeedSequence() {
  std::lock_guard lock(mu_);
  return db_.LastFeedSequence();
}

}  // namespace sitechain::slsm
