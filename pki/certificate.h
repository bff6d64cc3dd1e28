#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace sitechain::pki {

// One extension as it is in the certificate: OID, criticality and the raw value bytes (the
// contents of extnValue). Protected extensions are compared as these bytes.
struct RawExtension {
  std::string oid;  // dotted form
  bool critical = false;
  std::vector<uint8_t> value;

  bool operator==(const RawExtension&) const = default;
};

// The parts of a distinguished name sitechain uses. Encoded O, OU, CN (most general first).
struct DistinguishedName {
  std::string common_name;
  std::string organizational_unit;  // empty = absent
  std::string organization;         // empty = absent

  bool operator==(const DistinguishedName&) const = default;
  std::string ToString() const;  // "CN=a, OU=b, O=c"
};

// Maximum size of a certificate or CSR sitechain parses (PEM or DER).
inline constexpr size_t kMaxCertificateBytes = 64 * 1024;

// An immutable, parsed X.509 v3 certificate. Cheap to copy (shares the parsed form).
class Certificate final {
 public:
  // Parsing refuses oversized input (RESOURCE_EXHAUSTED) and anything that is not exactly one
  // well-formed certificate (INVALID_ARGUMENT), including a validity time outside the years
  // 1970 to 2261, which a TimePoint cannot hold.
  static Result<Certificate> FromPem(std::string_view pem);
  static Result<Certificate> FromDer(const std::vector<uint8_t>& der);
  static Result<Certificate> Load(const std::string& path);  // PEM file

  std::string ToPem() const;
  std::vector<uint8_t> ToDer() const;
  // Writes the PEM atomically (mode 0644).
  Status Save(const std::string& path, bool overwrite = true) const;

  DistinguishedName Subject() const;
  DistinguishedName Issuer() const;
  // True if the subject holds exactly dn's attributes, each once (O and OU only where dn's are
  // not empty) and nothing else: Subject() reads the first of each and would not see a second
  // CN, say, that another reader takes.
  bool SubjectIs(const DistinguishedName& dn) const;
  // The DER of the subject / issuer Name, for exact comparison.
  std::vector<uint8_t> SubjectDnDer() const;
  std::vector<uint8_t> IssuerDnDer() const;
  std::string SerialHex() const;
  TimePoint NotBefore() const;
  TimePoint NotAfter() const;
  bool IsCa() const;
  std::optional<size_t> PathLimit() const;  // for CA certificates with a pathLen
  bool IsSelfSigned() const;                // subject == issuer and self-signature verifies

  std::vector<uint8_t> PublicKeyDer() const;  // SubjectPublicKeyInfo
  std::string PublicKeyAlgorithm() const;     // "Ed25519", "ECDSA", "RSA"
  std::string SignatureAlgorithm() const;     // e.g. "Ed25519", "ECDSA/EMSA1(SHA-256)"
  std::string Sha256Fingerprint() const;      // lower-case hex of SHA-256 over the DER

  // Every extension in certificate order.
  std::vector<RawExtension> Extensions() const;
  // The extension with this OID; nullopt if absent.
  std::optional<RawExtension> FindExtension(const std::string& oid) const;
  std::vector<std::string> UriSans() const;
  // DNS names and IPv4 addresses (dotted quad) of the subjectAltName, in certificate order.
  // Botan 2 decodes only 4-byte iPAddress names: an IPv6 SAN is not listed.
  std::vector<std::string> DnsSans() const;
  std::vector<std::string> IpSans() const;

  // True if issuer's public key verifies this certificate's signature with an accepted
  // algorithm (Ed25519, ECDSA with SHA-256/384/512, RSA PKCS#1 v1.5 with SHA-256/384/512).
  bool SignatureVerifiesWith(const std::vector<uint8_t>& issuer_spki_der) const;
  // The same with the issuer's certificate: reuses its parsed key (much faster for RSA).
  bool SignatureVerifiesWith(const Certificate& issuer) const;

  bool operator==(const Certificate& other) const { return ToDer() == other.ToDer(); }

  struct Impl;
  const Impl& impl() const { return *impl_; }  // for pki/ internals only
  explicit Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace sitechain::pki
