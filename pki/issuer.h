#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::pki {

// keyUsage bits sitechain uses.
enum KeyUsageBits : unsigned {
  kDigitalSignature = 1u << 0,
  kKeyCertSign = 1u << 1,
  kCrlSign = 1u << 2,
};

// extKeyUsage purposes sitechain uses.
enum ExtKeyUsageBits : unsigned {
  kServerAuth = 1u << 0,  // id-kp-serverAuth
  kClientAuth = 1u << 1,  // id-kp-clientAuth
};

// Everything that goes into one certificate. IssueCertificate signs exactly this and nothing
// else: there is no path by which a request's extensions reach a certificate unless a builder
// put them here. The role builders (builders.h) fill it in from their allow-lists.
struct CertificateSpec {
  DistinguishedName subject;
  // When non-empty, the subject's DER, used byte for byte instead of encoding `subject` (which
  // must still hold its CN): Cert_store copies Cert_dev's subject exactly, whatever string
  // types its issuer chose (rule 4 compares DER).
  std::vector<uint8_t> subject_der;
  std::vector<uint8_t> subject_public_key;  // DER SubjectPublicKeyInfo
  TimePoint not_before;
  TimePoint not_after;
  bool is_ca = false;
  std::optional<size_t> path_limit;  // CA only
  unsigned key_usage = 0;            // KeyUsageBits; 0 = no keyUsage extension
  unsigned ext_key_usage = 0;        // ExtKeyUsageBits; 0 = no extKeyUsage extension
  // subjectAltName entries (one extension holding all three kinds; none = no extension).
  std::vector<std::string> uri_sans;
  // DNS names: 1 to 253 bytes, labels of 1 to 63 letters, digits and '-' (not at either end of
  // a label) separated by '.'; no wildcards, no IP literals, no duplicates (case-insensitive).
  std::vector<std::string> dns_sans;
  // IP addresses as IPv4 dotted-quad literals (inet_pton), no duplicates. IPv6 is refused:
  // Botan 2's AlternativeName encodes and decodes only 4-byte iPAddress names.
  std::vector<std::string> ip_sans;
  // Further extensions, added after the standard ones, byte for byte.
  std::vector<RawExtension> extra_extensions;
};

// The signing side: the issuer's certificate (nullopt for a self-signed root, whose issuer is
// its own subject) and its private key.
struct Issuer {
  const Certificate* certificate = nullptr;  // null: self-signed
  const PrivateKey& key;
};

// The rules of CertificateSpec::dns_sans and ::ip_sans for one name; INVALID_ARGUMENT saying
// what is wrong (an IPv6 address is refused as unsupported).
Status ValidateDnsName(const std::string& name);
Status ValidateIpAddress(const std::string& ip);

// Signs spec with the issuer's key (SHA-256 where the algorithm takes a hash), adding
// basicConstraints, keyUsage, extKeyUsage, subjectAltName, subjectKeyIdentifier and
// authorityKeyIdentifier as the spec says. The serial is 16 random bytes from rng.
// INVALID_ARGUMENT if the spec is inconsistent (notAfter before notBefore, empty subject CN,
// pathLen on a non-CA, a subject key that does not parse or is not a supported type, a DNS or
// IP SAN that breaks the rules above, an IPv6 SAN) or if issuer.key is not the key of
// issuer.certificate.
Result<Certificate> IssueCertificate(const CertificateSpec& spec, const Issuer& issuer,
                                     Random& rng);

}  // namespace sitechain::pki
