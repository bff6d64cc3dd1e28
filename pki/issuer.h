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

// Everything that goes into one certificate. IssueCertificate signs exactly this and nothing
// else: there is no path by which a request's extensions reach a certificate unless a builder
// put them here. The role builders (builders.h) fill it in from their allow-lists.
struct CertificateSpec {
  DistinguishedName subject;
  std::vector<uint8_t> subject_public_key;  // DER SubjectPublicKeyInfo
  TimePoint not_before;
  TimePoint not_after;
  bool is_ca = false;
  std::optional<size_t> path_limit;  // CA only
  unsigned key_usage = 0;            // KeyUsageBits; 0 = no keyUsage extension
  bool tls_ext_key_usage = false;    // extKeyUsage serverAuth + clientAuth
  std::vector<std::string> uri_sans;
  // Further extensions, added after the standard ones, byte for byte.
  std::vector<RawExtension> extra_extensions;
};

// The signing side: the issuer's certificate (nullopt for a self-signed root, whose issuer is
// its own subject) and its private key.
struct Issuer {
  const Certificate* certificate = nullptr;  // null: self-signed
  const PrivateKey& key;
};

// Signs spec with the issuer's key (SHA-256 where the algorithm takes a hash), adding
// basicConstraints, keyUsage, extKeyUsage, subjectAltName, subjectKeyIdentifier and
// authorityKeyIdentifier as the spec says. The serial is 16 random bytes from rng.
// INVALID_ARGUMENT if the spec is inconsistent (notAfter before notBefore, empty subject CN,
// pathLen on a non-CA, a subject key that does not parse or is not a supported type) or if
// issuer.key is not the key of issuer.certificate.
Result<Certificate> IssueCertificate(const CertificateSpec& spec, const Issuer& issuer,
                                     Random& rng);

}  // namespace sitechain::pki
