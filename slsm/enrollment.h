#pragma once
// Enrollment: join tokens, nodes enrolling with them, node authentication on every call (the
// certificate of the mutual-TLS handshake), node-certificate renewal, and the nodes' bookkeeping
// (list, last seen, eviction). Its SQL is enrollment_db.h; the node certificates it issues are
// logged in issued_log.h.
//
// Thread-safe, without a lock of its own: its state is rows of the database, and each change is
// one transaction there (a token's single use is enforced by the transaction that enrolls); the
// in-memory RenewNode limit guards itself.
// Signing holds no lock (the site CA's issuing methods are thread-safe), so enrollments and
// renewals of different nodes run side by side.
// Errors: every refusal is a Status whose message says what was wrong.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/verifier.h"
#include "slca/site_ca.h"
#include "slsm/enrollment_db.h"
#include "slsm/issued_log.h"
#include "slsm/node_renewal_limiter.h"
#include "slsm/records.h"
#include "slsm/site_db.h"
#include "slsm/site_options.h"

namespace sitechain::slsm {

struct CreatedJoinToken {
  std::string token;  // <id>.<secret>.<site root SHA-256>; give it to the node, shown once
  JoinTokenRecord record;
};

struct Enrolled {
  pki::Certificate node_certificate;
  pki::Certificate site_root;
};

class Enrollment final {
 public:
  // Keeps references to everything; they must outlive it.
  Enrollment(const slca::SiteCa& ca, SiteDatabase& db, const Clock& clock, Random& rng,
             const SiteOptions& options);
  Enrollment(const Enrollment&) = delete;
  Enrollment& operator=(const Enrollment&) = delete;

  // INVALID_ARGUMENT for a node name that is not an identifier or a TTL out of range (0: the
  // default).
  Result<CreatedJoinToken> CreateJoinToken(const std::string& node, Seconds ttl);
  Result<std::vector<NodeRecord>> ListNodes();
  // NOT_FOUND for a node that never enrolled.
  Result<NodeRecord> FindNode(const std::string& node);
  // UNAUTHENTICATED for an unknown, used or expired token and PERMISSION_DENIED for a token made
  // for another node, all checked before the CSR is even parsed (the token stays usable if the
  // CSR is refused); INVALID_ARGUMENT for a CSR that does not parse or whose key is outside the
  // profile (before any signature check); the CSR refusals of pki::CheckRequest.
  Result<Enrolled> Enroll(const std::string& token, const std::string& node,
                          std::span<const uint8_t> csr_der);
  // The enrolled, unevicted node whose certificate the client presented in the TLS handshake
  // (which proved it holds the key): UNAUTHENTICATED without one, for one that does not verify
  // under the site root now (another site's, expired) or whose key is not the node's registered
  // key; PERMISSION_DENIED for an evicted node.
  Result<NodeRecord> AuthenticateNode(const std::optional<std::string>& peer_pem);
  // The same for RenewNode, which also accepts a node certificate that expired less than
  // options.node_recovery_grace ago.
  Result<NodeRecord> AuthenticateNodeForRenewal(const std::optional<std::string>& peer_pem);
  // A fresh node certificate for the same key. INVALID_ARGUMENT for a CSR of another key (or one
  // outside the profile); RESOURCE_EXHAUSTED, with the time to retry, for a node over its
  // renewal limit (SiteOptions::node_renewal_burst), before any signature work.
  Result<pki::Certificate> RenewNode(const NodeRecord& node, std::span<const uint8_t> csr_der);
  // Records that the node called (best effort: a failure is not the node's concern).
  void NodeSeen(const std::string& node);
  // Marks the node evicted and removes its instances, in one transaction (deployments.h calls
  // it and tells the nodes). FAILED_PRECONDITION if already evicted, NOT_FOUND if unknown.
  Status Evict(const std::string& node);

 private:
  Result<NodeRecord> Authenticate(const std::optional<std::string>& peer_pem,
                                  Seconds expired_grace);

  const slca::SiteCa& ca_;  // thread-safe issuing (const methods)
  const Clock& clock_;
  Random& rng_;  // thread-safe
  const SiteOptions& options_;
  const pki::Verifier verifier_;
  EnrollmentDb db_;              // thread-safe (the database's lock)
  IssuedLog log_;                // thread-safe (the database's lock)
  NodeRenewalLimiter renewals_;  // thread-safe (its own lock)
};

}  // namespace sitechain::slsm
