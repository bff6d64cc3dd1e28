#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/result.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::pki {

// A PKCS#10 certificate signing request. Issuers take only the subject's common name and public
// key from it; anything else it asks for is either refused or ignored, never copied.
class CertificateRequest final {
 public:
  // A CSR for `key` with subject CN=common_name and no extension requests.
  static Result<CertificateRequest> Create(const PrivateKey& key, std::string_view common_name,
                                           Random& rng);
  // Decodes a CSR without checking its signature (CheckRequest does). Refusals: RESOURCE_EXHAUSTED
  // for input over the size limit; INVALID_ARGUMENT for a malformed CSR, and for a public key
  // whose parameters are not the profile's (pki/key_parameters.h), checked here so that no
  // caller ever verifies a signature with a key too costly to use (a 16384-bit RSA modulus, a
  // huge exponent).
  static Result<CertificateRequest> FromPem(std::string_view pem);
  // DER, as the node-facing site API carries CSRs. The same refusals as FromPem.
  static Result<CertificateRequest> FromDer(std::span<const uint8_t> der);
  static Result<CertificateRequest> Load(const std::string& path);

  std::string ToPem() const;
  std::vector<uint8_t> ToDer() const;
  Status Save(const std::string& path, bool overwrite = false) const;

  std::string CommonName() const;
  std::vector<uint8_t> PublicKeyDer() const;
  // True if the CSR's self-signature verifies with its own public key.
  bool SignatureValid() const;
  // The extensions the CSR asks for (PKCS#9 extensionRequest), in order.
  std::vector<RawExtension> RequestedExtensions() const;
  bool RequestsCa() const;

  struct Impl;
  explicit CertificateRequest(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  // PEM or DER (Botan tells them apart).
  static Result<CertificateRequest> Parse(const uint8_t* data, size_t size);
  std::shared_ptr<const Impl> impl_;
};

// What every sitechain issuer requires of a CSR for a leaf or restricted key (a developer's, a
// node's): a self-signature that verifies (UNAUTHENTICATED otherwise), no CA rights and no
// extension requests (PERMISSION_DENIED), and a CN of 1 to 64 bytes (INVALID_ARGUMENT). `who`
// names the requester in messages ("developer", "node").
Status CheckRequest(const CertificateRequest& csr, std::string_view who);

}  // namespace sitechain::pki
