#include "pki/issuer.h"

#include <botan/pubkey.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>

#include "pki/internal.h"

namespace sitechain::pki {
namespace {

// Carries a RawExtension's bytes into a Botan certificate unchanged.
class RawBotanExtension final : public Botan::Certificate_Extension {
 public:
  explicit RawBotanExtension(RawExtension ext) : ext_(std::move(ext)), oid_(ext_.oid) {}
  Botan::OID oid_of() const override { return oid_; }
  std::string oid_name() const override { return ""; }
  Botan::Certificate_Extension* copy() const override { return new RawBotanExtension(ext_); }
  void contents_to(Botan::Data_Store&, Botan::Data_Store&) const override {}

 private:
  std::vector<uint8_t> encode_inner() const override { return ext_.value; }
  void decode_inner(const std::vector<uint8_t>&) override {}
  RawExtension ext_;
  Botan::OID oid_;
};

Botan::Key_Constraints ToBotanUsage(unsigned usage) {
  unsigned c = Botan::NO_CONSTRAINTS;
  if (usage & kDigitalSignature) c |= Botan::DIGITAL_SIGNATURE;
  if (usage & kKeyCertSign) c |= Botan::KEY_CERT_SIGN;
  if (usage & kCrlSign) c |= Botan::CRL_SIGN;
  return static_cast<Botan::Key_Constraints>(c);
}

// The key identifier of a public key: SHA-1 over the subjectPublicKey BIT STRING contents, as
// RFC 5280 §4.2.1.2 method 1 describes (and as OpenSSL computes it).
std::vector<uint8_t> KeyId(const Botan::Public_Key& key) {
  return Botan::Cert_Extension::Subject_Key_ID(key.public_key_bits(), "SHA-1").get_key_id();
}

}  // namespace

Result<Certificate> IssueCertificate(const CertificateSpec& spec, const Issuer& issuer,
                                     Random& rng) {
  if (spec.subject.common_name.empty()) return InvalidArgument("certificate subject has no CN");
  if (spec.not_after <= spec.not_before) {
    return InvalidArgument("certificate notAfter must be after notBefore");
  }
  if (!spec.is_ca && spec.path_limit) return InvalidArgument("pathLen given for a non-CA");
  const auto subject_key = internal::LoadPublicKey(spec.subject_public_key);
  if (!subject_key) {
    return InvalidArgument("the subject public key is not a valid SubjectPublicKeyInfo");
  }
  SITECHAIN_RETURN_IF_ERROR(
      internal::ClassifyKey(*subject_key).status().WithContext("subject key"));
  internal::RngAdapter brng(rng);
  const Botan::Private_Key& key = *issuer.key.impl().key;
  const bool self_signed = issuer.certificate == nullptr;
  if (!self_signed && issuer.certificate->PublicKeyDer() != issuer.key.PublicKeyDer()) {
    return InvalidArgument("the issuer key does not belong to the issuer certificate");
  }

  try {
    Botan::Extensions exts;
    exts.add(new Botan::Cert_Extension::Basic_Constraints(
                 spec.is_ca, spec.path_limit.value_or(Botan::Cert_Extension::NO_CERT_PATH_LIMIT)),
             true);
    if (spec.key_usage != 0) {
      exts.add(new Botan::Cert_Extension::Key_Usage(ToBotanUsage(spec.key_usage)), true);
    }
    if (spec.tls_ext_key_usage) {
      exts.add(new Botan::Cert_Extension::Extended_Key_Usage(std::vector<Botan::OID>{
          Botan::OID::from_string("PKIX.ServerAuth"), Botan::OID::from_string("PKIX.ClientAuth")}));
    }
    if (!spec.uri_sans.empty()) {
      Botan::AlternativeName alt;
      for (const auto& uri : spec.uri_sans) alt.add_attribute("URI", uri);
      exts.add(new Botan::Cert_Extension::Subject_Alternative_Name(alt));
    }
    exts.add(new Botan::Cert_Extension::Subject_Key_ID(KeyId(*subject_key)));
    exts.add(new Botan::Cert_Extension::Authority_Key_ID(
        KeyId(self_signed ? *subject_key : *issuer.certificate->impl().PublicKey())));
    for (const auto& extra : spec.extra_extensions) {
      exts.add(new RawBotanExtension(extra), extra.critical);
    }

    Botan::AlgorithmIdentifier sig_algo;
    std::unique_ptr<Botan::PK_Signer> signer(Botan::choose_sig_format(
        key, brng, key.algo_name() == "Ed25519" ? "SHA-512" : "SHA-256", sig_algo));
    const Botan::X509_DN subject = internal::ToBotanDn(spec.subject);
    const Botan::X509_DN issuer_dn =
        self_signed ? subject : issuer.certificate->impl().cert.subject_dn();
    Botan::X509_Certificate cert = Botan::X509_CA::make_cert(
        signer.get(), brng, sig_algo, spec.subject_public_key, Botan::X509_Time(spec.not_before),
        Botan::X509_Time(spec.not_after), issuer_dn, subject, exts);
    return internal::Wrap(std::move(cert));
  } catch (const std::exception& e) {
    return Internal(std::string("cannot sign the certificate: ") + e.what());
  }
}

}  // namespace sitechain::pki
