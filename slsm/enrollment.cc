#include "slsm/enrollment.h"

#include <chrono>
#include <optional>

#include "common/hex.h"
#include "common/time_format.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/profile.h"
#include "slsm/join_token.h"

namespace sitechain::slsm {
namespace {

std::string Sha256Hex(std::string_view data) {
  return pki::HashBytes(pki::HashAlgorithm::kSha256, data).Hex();
}
std::string Sha256Hex(const std::vector<uint8_t>& data) {
  return Sha256Hex(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

// What the site keeps of a token: the hash of its credential part.
std::string JoinTokenHash(const JoinToken& token) {
  return Sha256Hex(token.id + "." + token.secret);
}

Status TokenUsed(const JoinTokenRecord& token) {
  return Unauthenticated("join token " + token.id + " was already used at " +
                         FormatTime(*token.used_at) + "; ask the site admin for a new one");
}

}  // namespace

Enrollment::Enrollment(const slca::SiteCa& ca, SiteDatabase& db, const Clock& clock, Random& rng,
                       const SiteOptions& options)
    : ca_(ca),
      clock_(clock),
      rng_(rng),
      options_(options),
      verifier_(clock, options.verify),
      db_(db),
      log_(db),
      renewals_(static_cast<uint32_t>(options.node_renewal_burst), options.NodeRenewalRefill()) {}

Result<CreatedJoinToken> Enrollment::CreateJoinToken(const std::string& node, Seconds ttl) {
  SITECHAIN_RETURN_IF_ERROR(pki::ValidateIdentifier("node name", node));
  if (ttl == Seconds(0)) ttl = options_.default_token_ttl;
  if (ttl < Seconds(0) || ttl > options_.max_token_ttl) {
    return InvalidArgument("a join token may live 1 s to " +
                           std::to_string(options_.max_token_ttl.count()) + " s");
  }
  std::vector<uint8_t> id(4), secret(16);
  rng_.Fill(id.data(), id.size());
  rng_.Fill(secret.data(), secret.size());
  const JoinToken token{HexEncode(id), HexEncode(secret), ca_.RootFingerprint()};
  CreatedJoinToken out;
  out.token = FormatJoinToken(token);
  const TimePoint now = clock_.Now();
  out.record = {token.id, JoinTokenHash(token), node, now, now + ttl, std::nullopt};
  SITECHAIN_RETURN_IF_ERROR(db_.InsertJoinToken(out.record, now));
  return out;
}

Result<std::vector<NodeRecord>> Enrollment::ListNodes() { return db_.ListNodes(); }

Result<NodeRecord> Enrollment::FindNode(const std::string& node) { return db_.FindNode(node); }

Result<Enrolled> Enrollment::Enroll(const std::string& token, const std::string& node,
                                    std::span<const uint8_t> csr_der) {
  // The fingerprint is for the node; the rest is the credential.
  // The token first (its form, then the database): a caller without a valid one gets nothing of
  // ours parsed or verified.
  SITECHAIN_ASSIGN_OR_RETURN(JoinToken parsed, ParseJoinToken(token));
  const TimePoint now = clock_.Now();
  const std::string hash = JoinTokenHash(parsed);
  auto record = db_.FindJoinTokenByHash(hash);
  if (record.status().code() == StatusCode::kNotFound) {
    return Unauthenticated("unknown join token; ask the site admin for a new one");
  }
  SITECHAIN_RETURN_IF_ERROR(record.status());
  if (record->used_at) return TokenUsed(*record);
  if (now >= record->expires_at) {
    return Unauthenticated("join token " + record->id + " expired at " +
                           FormatTime(record->expires_at) + "; ask the site admin for a new one");
  }
  if (record->node != node) {
    return PermissionDenied("join token " + record->id + " was made for node '" + record->node +
                            "', not '" + node + "'");
  }
  // Refuses a key outside the profile by its parameters, before IssueNode verifies with it.
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::FromDer(csr_der));
  // No lock is held while signing: two enrollments racing with one token may both sign; the
  // transaction of EnrollNode lets only one of them use it, and the other is refused as if it
  // had come second (its certificate is dropped, never handed out).
  SITECHAIN_ASSIGN_OR_RETURN(auto cert,
                             ca_.IssueNode(csr, node, options_.node_lifetime, {clock_, rng_}));
  NodeRecord n;
  n.name = node;
  n.key_fingerprint = Sha256Hex(cert.PublicKeyDer());
  n.certificate_serial = cert.SerialHex();
  n.certificate_not_after = cert.NotAfter();
  n.enrolled_at = now;
  if (Status s = db_.EnrollNode(n, record->id, now); !s.ok()) {
    if (s.code() == StatusCode::kUnauthenticated) {
      auto used = db_.FindJoinTokenByHash(hash);
      if (used.ok() && used->used_at) return TokenUsed(*used);
    }
    return s;
  }
  SITECHAIN_RETURN_IF_ERROR(log_.LogIssued(
      {cert.SerialHex(), "node", cert.Subject().ToString(), node, "", cert.NotAfter(), now}));
  return Enrolled{std::move(cert), ca_.root()};
}

Result<NodeRecord> Enrollment::AuthenticateNode(const std::optional<std::string>& peer_pem) {
  return Authenticate(peer_pem, Seconds(0));
}

Result<NodeRecord> Enrollment::AuthenticateNodeForRenewal(
    const std::optional<std::string>& peer_pem) {
  return Authenticate(peer_pem, options_.node_recovery_grace);
}

Result<NodeRecord> Enrollment::Authenticate(const std::optional<std::string>& peer_pem,
                                            Seconds expired_grace) {
  if (!peer_pem) {
    return Unauthenticated("this call needs mutual TLS with the node certificate of site '" +
                           ca_.site() + "' (enroll the node first)");
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
                           ca_.site() + "': " + v.failure->ToString());
  }
  const std::string name = cert.Subject().common_name;
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

Result<pki::Certificate> Enrollment::RenewNode(const NodeRecord& node,
                                               std::span<const uint8_t> csr_der) {
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::FromDer(csr_der));
  if (Sha256Hex(csr.PublicKeyDer()) != node.key_fingerprint) {
    return InvalidArgument("the CSR is for another key than node '" + node.name +
                           "' enrolled with; a new key needs a new join token");
  }
  // Taken before the signature check and the signing, which are what the limit spares.
  const TimePoint now = clock_.Now();
  if (std::optional<TimePoint> retry = renewals_.TryTake(node.name, now)) {
    return ResourceExhausted(
        "node '" + node.name + "' renews its certificate too often: at most " +
        std::to_string(renewals_.burst()) + " renewals at once, then one every " +
        std::to_string(renewals_.refill().count()) + " s (node_renewal_burst per node_lifetime); " +
        "retry after " + FormatTime(*retry) + " (in " +
        std::to_string(std::chrono::duration_cast<Seconds>(*retry - now).count()) + " s)");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto cert,
                             ca_.IssueNode(csr, node.name, options_.node_lifetime, {clock_, rng_}));
  SITECHAIN_RETURN_IF_ERROR(log_.LogIssued({cert.SerialHex(), "node", cert.Subject().ToString(),
                                            node.name, "", cert.NotAfter(), clock_.Now()}));
  return cert;
}

void Enrollment::NodeSeen(const std::string& node) { (void)db_.TouchNode(node, clock_.Now()); }

Status Enrollment::Evict(const std::string& node) { return db_.EvictNode(node, clock_.Now()); }

}  // namespace sitechain::slsm
