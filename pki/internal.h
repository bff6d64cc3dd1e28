#pragma once
// Private to pki/*.cc: the Botan-side definitions of the opaque types. Never include this from
// outside pki/.

#include <botan/asn1_obj.h>
#include <botan/pk_keys.h>
#include <botan/pkcs10.h>
#include <botan/pkix_types.h>
#include <botan/rng.h>
#include <botan/x509cert.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/random.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"

namespace sitechain::pki {

struct PrivateKey::Impl {
  std::unique_ptr<Botan::Private_Key> key;
};

struct Certificate::Impl {
  explicit Impl(Botan::X509_Certificate c) : cert(std::move(c)) {}
  // The subject public key, parsed on first use and kept: parsing an RSA key costs ~15x a
  // signature check. nullptr if the key does not parse. Thread-safe.
  const Botan::Public_Key* PublicKey() const;

  Botan::X509_Certificate cert;

 private:
  mutable std::once_flag key_once_;
  mutable std::unique_ptr<Botan::Public_Key> key_;  // set once under key_once_
};

namespace internal {

// A PKCS#10 request decoded without checking its self-signature: Botan's PKCS10_Request checks
// it while decoding, which would leave the issuers' own check (CheckRequest) unreachable and
// untestable. Every issuer calls CheckRequest, which checks it
// (CertificateRequest::SignatureValid). Decodes what PKCS10_Request does: version 0, subject,
// SubjectPublicKeyInfo, and the extensions of a PKCS#9 extensionRequest (other attributes are
// ignored).
class Pkcs10 final : public Botan::X509_Object {
 public:
  explicit Pkcs10(Botan::DataSource& src) { load_data(src); }
  std::string PEM_label() const override { return "CERTIFICATE REQUEST"; }
  std::vector<std::string> alternate_PEM_labels() const override {
    return {"NEW CERTIFICATE REQUEST"};
  }

  const Botan::X509_DN& subject() const { return subject_; }
  const std::vector<uint8_t>& public_key_bits() const { return public_key_bits_; }
  const Botan::Extensions& extensions() const { return extensions_; }

 private:
  void force_decode() override;

  Botan::X509_DN subject_;
  std::vector<uint8_t> public_key_bits_;  // the SubjectPublicKeyInfo, DER
  Botan::Extensions extensions_;
};

}  // namespace internal

struct CertificateRequest::Impl {
  // Decodes `src` and encodes it again (Botan decodes some fields it cannot encode, e.g. an
  // algorithm OID with an invalid prefix: such a CSR is malformed). Throws on either.
  // Whether it asks for CA rights is read here too, as Botan's PKCS10_Request does, so that a
  // malformed basicConstraints throws here and nowhere later.
  explicit Impl(Botan::DataSource& src);

  internal::Pkcs10 req;
  std::vector<uint8_t> der;  // the CSR as ToDer returns it
  bool requests_ca = false;  // a basicConstraints extension request with CA:TRUE
};

namespace internal {

// Lets Botan draw randomness from the injected sitechain::Random.
class RngAdapter final : public Botan::RandomNumberGenerator {
 public:
  explicit RngAdapter(Random& rng) : rng_(rng) {}
  void randomize(uint8_t output[], size_t length) override { rng_.Fill(output, length); }
  bool accepts_input() const override { return false; }
  void add_entropy(const uint8_t[], size_t) override {}
  std::string name() const override { return "sitechain::Random"; }
  void clear() override {}
  bool is_seeded() const override { return true; }

 private:
  Random& rng_;
};

Certificate Wrap(Botan::X509_Certificate cert);
Botan::X509_DN ToBotanDn(const DistinguishedName& dn);
DistinguishedName FromBotanDn(const Botan::X509_DN& dn);
std::vector<RawExtension> RawExtensionsOf(const Botan::Extensions& exts);
// One of the supported key types, or INVALID_ARGUMENT naming what is wrong (RSA-1024, P-384…).
Result<KeyType> ClassifyKey(const Botan::Public_Key& key);
// Loads a DER SubjectPublicKeyInfo; nullptr if it does not parse or if its parameters are not the
// profile's (CheckKeyParameters, pki/key_parameters.h, checked first: no other key reaches
// Botan's key classes).
std::unique_ptr<Botan::Public_Key> LoadPublicKey(const std::vector<uint8_t>& spki_der);

}  // namespace internal
}  // namespace sitechain::pki
