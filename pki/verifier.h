#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "pki/certificate.h"
#include "pki/extensions.h"
#include "pki/profile.h"

namespace sitechain::pki {

// Why a chain was refused. Stable names (ReasonName) go to logs, CLIs and JSON.
enum class Reason {
  kMissingInput,              // a certificate or trust root the requested check needs is absent
  kNotTrustAnchor,            // a given root is not a valid self-signed CA certificate
  kIssuerMismatch,            // issuer DN does not name the expected issuer
  kBadSignature,              // the issuer's key does not verify the signature
  kNotYetValid,               // T + skew is before notBefore
  kExpired,                   // T is after notAfter
  kWrongRole,                 // CA flag, pathLen, keyUsage or SAN shape wrong for the role
  kExtensionNotAllowed,       // an extension outside the role's allow-list
  kExtensionMissing,          // a required sitechain extension is absent
  kExtensionMalformed,        // a sitechain extension does not decode strictly, or repeats
  kSubjectMismatch,           // Cert_store's subject differs from Cert_dev's, or a node
                              // certificate's or Cert_site's from what its URI SAN names
  kKeyMismatch,               // a subject key differs where the profile requires the same key
  kExtensionMismatch,         // a protected extension differs byte for byte
  kWrongNode,                 // Cert_site names another node
  kDigestMismatch,            // the executable's digest differs from executableHash
  kExecutableUnreadable,      // the executable could not be read
  kRollback,                  // releaseCounter lower than one already seen for the name
  kUnknownCriticalExtension,  // rule 8
};

std::string_view ReasonName(Reason reason);  // e.g. "DIGEST_MISMATCH"

// What the verifier found wrong: which rule (1-8 of ARCHITECTURE.md §3), which certificate
// (the role; "executable" for rule 6 is reported on the certificate holding the digest), the
// coded reason and a sentence for people.
struct Failure {
  int rule = 0;
  CertRole certificate = CertRole::kCertDev;
  Reason reason = Reason::kMissingInput;
  std::string detail;

  // "rule 6, cert-dev: DIGEST_MISMATCH: ..."
  std::string ToString() const;
};

// What to verify. Every field is optional; each rule runs when its inputs are present and a
// certificate given without what it needs to be checked is refused (MISSING_INPUT), so that
// nothing is accepted unchecked. A rule is listed in Verification::rules_checked only if it ran:
// e.g. a Cert_store alone passes rule 2 without claiming rule 4, and Cert_site with an expected
// node or with Cert_dev needs Cert_store (rule 5 compares against it).
struct ChainInput {
  std::optional<Certificate> store_root;
  std::optional<Certificate> site_root;
  std::optional<Certificate> developer_identity;
  std::optional<Certificate> cert_dev;
  std::optional<Certificate> cert_store;
  std::optional<Certificate> cert_site;

  // Rule 6: the executable, as a path or an open descriptor (hashed with pread; its offset is
  // left alone, so it can be exec'd afterwards). Giving both is refused.
  std::optional<std::string> executable_path;
  int executable_fd = -1;
  // Rule 6 for metadataHash: the metadata file, if the certificates carry metadataHash.
  std::optional<std::string> metadata_path;

  // Rule 5 on a node: this node's SPIFFE ID (spiffe://<site>/node/<node>).
  std::optional<std::string> expected_node_id;
  // Rule 7: the highest releaseCounter already accepted for this service name.
  std::optional<uint64_t> highest_release_counter;
};

struct VerifyOptions {
  // Allowance for clocks that run behind the issuer's: applies to notBefore only; nothing is
  // accepted after notAfter.
  Seconds clock_skew{60};
};

// The outcome: either OK with what was established, or the first failure in rule order.
struct Verification {
  std::optional<Failure> failure;
  std::vector<int> rules_checked;  // ascending, the rules that ran and passed
  std::optional<ServiceRelease> release;
  TimePoint evaluated_at;

  bool ok() const { return !failure.has_value(); }
};

// The verifier used on every side: store, slsm, nlsm, devkit and the issuers themselves.
// Stateless apart from its options; thread-safe.
class Verifier final {
 public:
  explicit Verifier(const Clock& clock, VerifyOptions options = {})
      : clock_(clock), options_(options) {}

  // Evaluates all applicable rules at one time T = clock.Now(), failing closed.
  Verification Verify(const ChainInput& input) const;
  // Same at an explicit time T.
  Verification VerifyAt(const ChainInput& input, TimePoint t) const;

  // Checks one link at clock.Now(): that `cert` is a valid certificate of `role` issued by
  // `issuer` (for a root, pass the root itself as its issuer): rule 8, issuer name, signature,
  // validity with the skew allowance, and the role's profile (CA flags, allow-listed
  // extensions, required sitechain extensions, SAN shape). Failures carry the role's chain rule
  // (1: developer identity and Cert_dev, 2: Cert_store, 3: site root, node and Cert_site),
  // except rule 8 for unknown critical extensions and rule 4 for an extension outside
  // Cert_store's allow-list (the store added something: rule 4 says it must not).
  // Issuers use this to check what they just signed; servers use it to check client identities.
  Verification VerifyIssuedBy(const Certificate& cert, CertRole role,
                              const Certificate& issuer) const;

 private:
  const Clock& clock_;
  VerifyOptions options_;
};

}  // namespace sitechain::pki
