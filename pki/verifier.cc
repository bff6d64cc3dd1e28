#include "pki/verifier.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/time_format.h"
#include "pki/hash.h"
#include "pki/internal.h"
#include "pki/oids.h"

namespace sitechain::pki {
namespace {

using MaybeFailure = std::optional<Failure>;

Failure Fail(int rule, CertRole cert, Reason reason, std::string detail) {
  return Failure{rule, cert, reason, std::move(detail)};
}

// The chain rule a certificate of this role belongs to.
int ChainRule(CertRole role) {
  switch (role) {
    case CertRole::kStoreRoot:
    case CertRole::kDeveloperIdentity:
    case CertRole::kCertDev:
      return 1;
    case CertRole::kCertStore:
      return 2;
    case CertRole::kSiteRoot:
    case CertRole::kNode:
    case CertRole::kCertSite:
      return 3;
    case CertRole::kTlsServer:
      return 0;  // outside the release chain
  }
  return 1;
}

bool IsRoot(CertRole role) { return role == CertRole::kStoreRoot || role == CertRole::kSiteRoot; }
bool IsRelease(CertRole role) {
  return role == CertRole::kCertDev || role == CertRole::kCertStore || role == CertRole::kCertSite;
}

// Splits "spiffe://<site>/node/<node>[/svc/<service>]"; false if it has another shape.
bool ParseSpiffe(const std::string& uri, const std::string& site, std::string* node,
                 std::string* service) {
  const std::string prefix = "spiffe://" + site + "/node/";
  if (uri.rfind(prefix, 0) != 0) return false;
  std::string rest = uri.substr(prefix.size());
  size_t svc = rest.find("/svc/");
  *node = rest.substr(0, svc);
  *service = svc == std::string::npos ? "" : rest.substr(svc + 5);
  if (!ValidateIdentifier("node", *node).ok()) return false;
  return svc == std::string::npos || ValidateIdentifier("service", *service).ok();
}

// The role's profile: CA flags, allow-listed extensions, required sitechain extensions, SANs.
MaybeFailure CheckProfile(const Certificate& cert, CertRole role, const Certificate& issuer) {
  const int rule = ChainRule(role);
  const std::string_view name = CertRoleName(role);
  const auto& allowed = AllowedExtensionOids(role);
  const std::vector<RawExtension> exts = cert.Extensions();
  for (size_t i = 0; i < exts.size(); ++i) {
    // A repeated extension would let two readers see two different values.
    for (size_t j = 0; j < i; ++j) {
      if (exts[j].oid == exts[i].oid) {
        return Fail(rule, role, Reason::kExtensionMalformed,
                    "the " + std::string(name) + " carries " + ExtensionName(exts[i].oid) +
                        " more than once");
      }
    }
    // sitechain's own extensions are non-critical so that any TLS stack accepts the certificate.
    if (exts[i].critical && exts[i].oid.rfind(std::string(kOidArc) + ".", 0) == 0) {
      return Fail(rule, role, Reason::kExtensionMalformed,
                  "the " + std::string(name) + " marks " + ExtensionName(exts[i].oid) +
                      " critical; sitechain extensions must be non-critical");
    }
  }
  for (const auto& ext : exts) {
    if (std::find(allowed.begin(), allowed.end(), ext.oid) == allowed.end()) {
      return Fail(role == CertRole::kCertStore ? 4 : rule, role, Reason::kExtensionNotAllowed,
                  "the " + std::string(name) + " carries " + ExtensionName(ext.oid) +
                      ", which its profile does not allow");
    }
  }
  const bool must_be_ca = IsRoot(role) || role == CertRole::kDeveloperIdentity;
  if (cert.IsCa() != must_be_ca) {
    return Fail(rule, role, Reason::kWrongRole,
                std::string("the ") + std::string(name) + (must_be_ca ? " is not" : " is") +
                    " a CA certificate");
  }
  if (must_be_ca) {
    const auto usage = cert.impl().cert.constraints();
    if (usage != Botan::NO_CONSTRAINTS && !(usage & Botan::KEY_CERT_SIGN)) {
      return Fail(rule, role, Reason::kWrongRole,
                  "the " + std::string(name) + " may not sign certificates (keyUsage)");
    }
  }
  // CheckLink verified the signature with the root's own key; here only the names.
  if (IsRoot(role) && cert.IssuerDnDer() != cert.SubjectDnDer()) {
    return Fail(rule, role, Reason::kNotTrustAnchor,
                "the " + std::string(name) + " is not a self-signed certificate");
  }
  if (role == CertRole::kDeveloperIdentity && cert.PathLimit() != std::optional<size_t>(0)) {
    return Fail(rule, role, Reason::kWrongRole,
                "the developer identity must carry pathLen 0 (it issues only Cert_dev)");
  }
  if (IsRelease(role)) {
    auto exe = cert.FindExtension(ExecutableHashOid());
    auto rel = cert.FindExtension(ServiceReleaseOid());
    if (!exe || !rel) {
      return Fail(
          rule, role, Reason::kExtensionMissing,
          "the " + std::string(name) + " lacks " + (exe ? "serviceRelease" : "executableHash"));
    }
    if (auto d = DecodeHashExtension(exe->value); !d.ok()) {
      return Fail(rule, role, Reason::kExtensionMalformed, d.status().message());
    }
    if (auto r = DecodeServiceRelease(rel->value); !r.ok()) {
      return Fail(rule, role, Reason::kExtensionMalformed, r.status().message());
    }
    if (auto meta = cert.FindExtension(MetadataHashOid())) {
      if (auto d = DecodeHashExtension(meta->value); !d.ok()) {
        return Fail(rule, role, Reason::kExtensionMalformed,
                    "metadataHash: " + d.status().message());
      }
    }
  }
  if (role == CertRole::kCertSite) {
    auto policy = cert.FindExtension(SitePolicyOid());
    if (!policy)
      return Fail(rule, role, Reason::kExtensionMissing, "the cert-site lacks sitePolicy");
    if (auto p = DecodeSitePolicy(policy->value); !p.ok()) {
      return Fail(rule, role, Reason::kExtensionMalformed, p.status().message());
    }
  }
  if (role == CertRole::kNode || role == CertRole::kCertSite) {
    const auto uris = cert.UriSans();
    std::string node, service;
    const std::string site = issuer.Subject().common_name;
    if (uris.size() != 1 || !ParseSpiffe(uris[0], site, &node, &service) ||
        (role == CertRole::kNode) != service.empty()) {
      return Fail(rule, role, Reason::kWrongRole,
                  "the " + std::string(name) + " must carry exactly one URI SAN of the form " +
                      (role == CertRole::kNode ? NodeSpiffeId(site, "<node>")
                                               : ServiceSpiffeId(site, "<node>", "<service>")));
    }
    // One identity for every reader: the subject names what the URI SAN names, exactly.
    const DistinguishedName expected = role == CertRole::kNode
                                           ? DistinguishedName{node, "", site}
                                           : DistinguishedName{service, node, site};
    if (!cert.SubjectIs(expected)) {
      return Fail(rule, role, Reason::kSubjectMismatch,
                  "the " + std::string(name) + "'s subject '" + cert.Subject().ToString() +
                      "' does not name exactly what its URI SAN " + uris[0] + " names ('" +
                      expected.ToString() + "')");
    }
  }
  return std::nullopt;
}

// Shared helper state for one evaluation.
struct Eval {
  TimePoint t;
  Seconds skew;
};

MaybeFailure CheckLink(const Certificate& cert, CertRole role, const Certificate& issuer,
                       const Eval& ev) {
  const int rule = ChainRule(role);
  const std::string name(CertRoleName(role));
  for (const auto& ext : cert.Extensions()) {
    if (ext.critical && !IsKnownExtension(ext.oid)) {
      return Fail(8, role, Reason::kUnknownCriticalExtension,
                  "the " + name + " carries the unknown critical extension " + ext.oid);
    }
  }
  if (cert.IssuerDnDer() != issuer.SubjectDnDer()) {
    return Fail(rule, role, IsRoot(role) ? Reason::kNotTrustAnchor : Reason::kIssuerMismatch,
                "the " + name + " was issued by '" + cert.Issuer().ToString() + "', not by '" +
                    issuer.Subject().ToString() + "'");
  }
  if (!cert.SignatureVerifiesWith(issuer)) {
    return Fail(rule, role, Reason::kBadSignature,
                "the " + name + "'s signature does not verify with the key of '" +
                    issuer.Subject().ToString() + "'");
  }
  // Both name the evaluation time: a clock that is off shows here first.
  if (ev.t + ev.skew < cert.NotBefore()) {
    return Fail(
        rule, role, Reason::kNotYetValid,
        "the " + name + " is not valid before " + FormatTime(cert.NotBefore()) +
            ", and this clock says " + FormatTime(ev.t) + ", " +
            std::to_string(std::chrono::duration_cast<Seconds>(cert.NotBefore() - ev.t).count()) +
            " s earlier, more than the clock-skew allowance of " + std::to_string(ev.skew.count()) +
            " s (is this clock behind?)");
  }
  if (ev.t > cert.NotAfter()) {
    return Fail(rule, role, Reason::kExpired,
                "the " + name + " expired at " + FormatTime(cert.NotAfter()) +
                    ", and this clock says " + FormatTime(ev.t) +
                    " (no allowance after notAfter; is this clock ahead?)");
  }
  return CheckProfile(cert, role, issuer);
}

MaybeFailure CheckRoot(const Certificate& root, CertRole role, int rule, const Eval& ev) {
  MaybeFailure f = CheckLink(root, role, root, ev);
  if (f && f->rule != 8) f->rule = rule;
  return f;
}

// Roots are checked once, up front; a rule that needs one only requires it to be present.
MaybeFailure RequireRoot(const std::optional<Certificate>& root, CertRole role, int rule) {
  if (root) return std::nullopt;
  return Fail(rule, role, Reason::kMissingInput,
              "the " + std::string(CertRoleName(role)) + " (trust anchor) is needed for rule " +
                  std::to_string(rule));
}

// Rules 4 and 5: the protected extensions of `later` equal those of `earlier`, byte for byte.
MaybeFailure CompareProtected(const Certificate& earlier, CertRole earlier_role,
                              const Certificate& later, CertRole later_role, int rule) {
  for (const auto& oid : ProtectedExtensionOids()) {
    auto a = earlier.FindExtension(oid);
    auto b = later.FindExtension(oid);
    if (a.has_value() != b.has_value() ||
        (a && (a->value != b->value || a->critical != b->critical))) {
      return Fail(rule, later_role, Reason::kExtensionMismatch,
                  ExtensionName(oid) + " of the " + std::string(CertRoleName(later_role)) +
                      " differs from the " + std::string(CertRoleName(earlier_role)) + "'s");
    }
  }
  return std::nullopt;
}

// Rule 6 for one hash extension: the file's digest equals the one in every given certificate.
// The file is read and hashed once per algorithm the certificates name (normally once in all):
// on a node this runs before every start, over executables of any size.
MaybeFailure CheckDigest(const std::vector<std::pair<CertRole, const Certificate*>>& certs,
                         const std::string& oid, const std::string& what, int fd,
                         const std::string& path) {
  std::optional<Digest> computed[2];  // by HashAlgorithm
  for (const auto& [role, cert] : certs) {
    auto ext = cert->FindExtension(oid);
    if (!ext) {
      return Fail(6, role, Reason::kExtensionMissing,
                  "a " + what + " was given but the " + std::string(CertRoleName(role)) +
                      " has no " + ExtensionName(oid));
    }
    const Digest expected = DecodeHashExtension(ext->value).value();  // profile-checked already
    std::optional<Digest>& actual = computed[static_cast<int>(expected.algorithm)];
    if (!actual) {
      Result<Digest> d =
          fd >= 0 ? HashFd(expected.algorithm, fd) : HashFile(expected.algorithm, path);
      if (!d.ok()) return Fail(6, role, Reason::kExecutableUnreadable, d.status().message());
      actual = std::move(d).value();
    }
    if (actual->bytes != expected.bytes) {
      return Fail(6, role, Reason::kDigestMismatch,
                  "the " + what + "'s " + std::string(HashAlgorithmName(expected.algorithm)) +
                      " is " + actual->Hex() + " but the " + std::string(CertRoleName(role)) +
                      " says " + expected.Hex() + ": the file was modified");
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kMissingInput:
      return "MISSING_INPUT";
    case Reason::kNotTrustAnchor:
      return "NOT_TRUST_ANCHOR";
    case Reason::kIssuerMismatch:
      return "ISSUER_MISMATCH";
    case Reason::kBadSignature:
      return "BAD_SIGNATURE";
    case Reason::kNotYetValid:
      return "NOT_YET_VALID";
    case Reason::kExpired:
      return "EXPIRED";
    case Reason::kWrongRole:
      return "WRONG_ROLE";
    case Reason::kExtensionNotAllowed:
      return "EXTENSION_NOT_ALLOWED";
    case Reason::kExtensionMissing:
      return "EXTENSION_MISSING";
    case Reason::kExtensionMalformed:
      return "EXTENSION_MALFORMED";
    case Reason::kSubjectMismatch:
      return "SUBJECT_MISMATCH";
    case Reason::kKeyMismatch:
      return "KEY_MISMATCH";
    case Reason::kExtensionMismatch:
      return "EXTENSION_MISMATCH";
    case Reason::kWrongNode:
      return "WRONG_NODE";
    case Reason::kDigestMismatch:
      return "DIGEST_MISMATCH";
    case Reason::kExecutableUnreadable:
      return "EXECUTABLE_UNREADABLE";
    case Reason::kRollback:
      return "ROLLBACK";
    case Reason::kUnknownCriticalExtension:
      return "UNKNOWN_CRITICAL_EXTENSION";
  }
  return "UNKNOWN";
}

std::string Failure::ToString() const {
  return "rule " + std::to_string(rule) + ", " + std::string(CertRoleName(certificate)) + ": " +
         std::string(ReasonName(reason)) + ": " + detail;
}

Verification Verifier::Verify(const ChainInput& input) const {
  return VerifyAt(input, clock_.Now());
}

Verification Verifier::VerifyIssuedBy(const Certificate& cert, CertRole role,
                                      const Certificate& issuer) const {
  Verification out;
  out.evaluated_at = clock_.Now();
  const Eval ev{out.evaluated_at, options_.clock_skew};
  if (!IsRoot(role)) {
    CertRole issuer_role = role == CertRole::kCertDev ? CertRole::kDeveloperIdentity
                           : ChainRule(role) == 3     ? CertRole::kSiteRoot
                                                      : CertRole::kStoreRoot;
    // The issuer's own profile (CA rights), without its validity: a caller checks the issuer
    // chain separately; here we only refuse to treat a non-CA as an issuer.
    if (!issuer.IsCa()) {
      out.failure = Fail(ChainRule(role), issuer_role, Reason::kWrongRole,
                         "the issuer '" + issuer.Subject().ToString() + "' is not a CA");
      return out;
    }
  }
  out.failure = CheckLink(cert, role, issuer, ev);
  if (!out.failure) out.rules_checked = {ChainRule(role), 8};
  return out;
}

Verification Verifier::VerifyAt(const ChainInput& in, TimePoint t) const {
  Verification out;
  out.evaluated_at = t;
  const Eval ev{t, options_.clock_skew};
  std::vector<int> checked;
  auto run = [&]() -> MaybeFailure {
    if (!in.cert_dev && !in.cert_store && !in.cert_site && !in.developer_identity &&
        !in.store_root && !in.site_root) {
      return Fail(1, CertRole::kCertDev, Reason::kMissingInput, "no certificate to verify");
    }
    // Each trust anchor given is checked once, under the first rule that uses it.
    if (in.store_root) {
      const int rule = in.cert_store && !in.cert_dev && !in.developer_identity ? 2 : 1;
      if (auto f = CheckRoot(*in.store_root, CertRole::kStoreRoot, rule, ev)) return f;
    }
    if (in.site_root) {
      if (auto f = CheckRoot(*in.site_root, CertRole::kSiteRoot, 3, ev)) return f;
    }
    // Rule 1: Cert_dev -> developer identity -> store root.
    if (in.cert_dev || in.developer_identity) {
      if (!in.developer_identity) {
        return Fail(1, CertRole::kDeveloperIdentity, Reason::kMissingInput,
                    "verifying a Cert_dev needs the developer identity certificate that issued it");
      }
      if (auto f = RequireRoot(in.store_root, CertRole::kStoreRoot, 1)) return f;
      if (auto f =
              CheckLink(*in.developer_identity, CertRole::kDeveloperIdentity, *in.store_root, ev)) {
        return f;
      }
      if (in.cert_dev) {
        if (auto f = CheckLink(*in.cert_dev, CertRole::kCertDev, *in.developer_identity, ev))
          return f;
        if (in.cert_dev->PublicKeyDer() != in.developer_identity->PublicKeyDer()) {
          return Fail(1, CertRole::kCertDev, Reason::kKeyMismatch,
                      "the Cert_dev's subject key is not the developer's key");
        }
      }
      checked.push_back(1);
    }
    // Rule 2: Cert_store -> store root.
    if (in.cert_store) {
      if (auto f = RequireRoot(in.store_root, CertRole::kStoreRoot, 2)) return f;
      if (auto f = CheckLink(*in.cert_store, CertRole::kCertStore, *in.store_root, ev)) return f;
      checked.push_back(2);
    }
    // Rule 3: Cert_site -> site root.
    if (in.cert_site) {
      if (auto f = RequireRoot(in.site_root, CertRole::kSiteRoot, 3)) return f;
      if (auto f = CheckLink(*in.cert_site, CertRole::kCertSite, *in.site_root, ev)) return f;
      checked.push_back(3);
    }
    // Rule 4: the store did not tamper.
    if (in.cert_dev && in.cert_store) {
      if (in.cert_store->SubjectDnDer() != in.cert_dev->SubjectDnDer()) {
        return Fail(4, CertRole::kCertStore, Reason::kSubjectMismatch,
                    "the Cert_store's subject '" + in.cert_store->Subject().ToString() +
                        "' differs from the Cert_dev's '" + in.cert_dev->Subject().ToString() +
                        "'");
      }
      if (in.cert_store->PublicKeyDer() != in.cert_dev->PublicKeyDer()) {
        return Fail(4, CertRole::kCertStore, Reason::kKeyMismatch,
                    "the Cert_store's subject key differs from the Cert_dev's");
      }
      if (auto f = CompareProtected(*in.cert_dev, CertRole::kCertDev, *in.cert_store,
                                    CertRole::kCertStore, 4)) {
        return f;
      }
      checked.push_back(4);
    }
    // Rule 5: the site manager did not tamper, and the certificate names this node.
    if (in.expected_node_id && !in.cert_site) {
      return Fail(5, CertRole::kCertSite, Reason::kMissingInput,
                  "a node was given but no Cert_site to check it against");
    }
    if (in.cert_site && !in.cert_store && (in.expected_node_id || in.cert_dev)) {
      // Without Cert_store, Cert_site's release data cannot be tied to what the store signed.
      return Fail(5, CertRole::kCertStore, Reason::kMissingInput,
                  "checking a Cert_site against its release (rule 5) needs the Cert_store");
    }
    if (in.cert_site && in.cert_store) {
      if (in.cert_store) {
        if (auto f = CompareProtected(*in.cert_store, CertRole::kCertStore, *in.cert_site,
                                      CertRole::kCertSite, 5)) {
          return f;
        }
      }
      if (in.expected_node_id) {
        const std::string uri = in.cert_site->UriSans().at(0);  // profile: exactly one
        if (uri.rfind(*in.expected_node_id + "/svc/", 0) != 0) {
          return Fail(
              5, CertRole::kCertSite, Reason::kWrongNode,
              "the Cert_site is for " + uri + ", not for a service on " + *in.expected_node_id);
        }
      }
      checked.push_back(5);
    }
    // The release certificates present, in chain order.
    std::vector<std::pair<CertRole, const Certificate*>> releases;
    if (in.cert_dev) releases.emplace_back(CertRole::kCertDev, &*in.cert_dev);
    if (in.cert_store) releases.emplace_back(CertRole::kCertStore, &*in.cert_store);
    if (in.cert_site) releases.emplace_back(CertRole::kCertSite, &*in.cert_site);
    // Rule 6: the executable (and metadata) are the ones that were signed.
    const bool have_exe = in.executable_path || in.executable_fd >= 0;
    if (in.executable_path && in.executable_fd >= 0) {
      return Fail(6, CertRole::kCertDev, Reason::kMissingInput,
                  "give the executable as a path or as a descriptor, not both");
    }
    if (have_exe || in.metadata_path) {
      if (releases.empty()) {
        return Fail(6, CertRole::kCertDev, Reason::kMissingInput,
                    "a file was given but no certificate that carries its digest");
      }
      if (have_exe) {
        if (auto f = CheckDigest(releases, ExecutableHashOid(), "executable", in.executable_fd,
                                 in.executable_path.value_or(""))) {
          return f;
        }
      }
      const bool has_meta = releases.front().second->FindExtension(MetadataHashOid()).has_value();
      if (in.metadata_path) {
        if (auto f =
                CheckDigest(releases, MetadataHashOid(), "metadata file", -1, *in.metadata_path)) {
          return f;
        }
      } else if (has_meta && have_exe) {
        return Fail(6, releases.front().first, Reason::kMissingInput,
                    "the certificates carry a metadataHash: give the metadata file too");
      }
      checked.push_back(6);
    }
    if (!releases.empty()) {
      out.release =
          DecodeServiceRelease(releases.front().second->FindExtension(ServiceReleaseOid())->value)
              .value();
    }
    // Rule 7: anti-rollback.
    if (in.highest_release_counter) {
      if (!out.release) {
        return Fail(7, CertRole::kCertDev, Reason::kMissingInput,
                    "a release counter was given but no certificate that carries a release");
      }
      if (out.release->release_counter < *in.highest_release_counter) {
        return Fail(7, releases.front().first, Reason::kRollback,
                    "release " + out.release->name + " " + out.release->version + " has counter " +
                        std::to_string(out.release->release_counter) + ", lower than the " +
                        std::to_string(*in.highest_release_counter) +
                        " already accepted: a rollback");
      }
      checked.push_back(7);
    }
    checked.push_back(8);  // every certificate above went through CheckLink
    return std::nullopt;
  };
  out.failure = run();
  if (out.failure) {
    out.release.reset();
  } else {
    std::sort(checked.begin(), checked.end());
    out.rules_checked = std::move(checked);
  }
  return out;
}

}  // namespace sitechain::pki
