#include "pki/issuer.h"

#include <arpa/inet.h>
#include <botan/ber_dec.h>
#include <botan/pubkey.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

#include "pki/internal.h"

namespace sitechain::pki {
namespace {

bool IsIpLiteral(const std::string& s, int family) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(family, s.c_str(), buf) == 1;
}

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

Status ValidateDnsName(const std::string& name) {
  if (name.empty()) return InvalidArgument("a DNS name SAN is empty");
  const auto bad = [&](const std::string& why) {
    return InvalidArgument("DNS name SAN '" + name.substr(0, 64) + (name.size() > 64 ? "..." : "") +
                           "' " + why);
  };
  if (name.size() > 253) return bad("is longer than 253 bytes");
  if (name.find('*') != std::string::npos) return bad("is a wildcard; wildcards are not issued");
  if (IsIpLiteral(name, AF_INET) || IsIpLiteral(name, AF_INET6)) {
    return bad("is an IP address; give it as an IP SAN");
  }
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view label =
        std::string_view(name).substr(start, dot == std::string::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63) {
      return bad("must be labels of 1 to 63 characters separated by single dots");
    }
    for (const char c : label) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return bad("may hold only letters, digits, '-' and '.'");
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad("has a label that starts or ends with '-'");
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return Status::Ok();
}

Status ValidateIpAddress(const std::string& ip) {
  if (IsIpLiteral(ip, AF_INET)) return Status::Ok();
  if (IsIpLiteral(ip, AF_INET6)) {
    return InvalidArgument("IP SAN '" + ip +
                           "' is IPv6, which is not supported (Botan 2 encodes only IPv4 "
                           "addresses in subjectAltName)");
  }
  return InvalidArgument("IP SAN '" + ip.substr(0, 64) + "' is not an IPv4 address");
}

namespace {

Status ValidateSans(const CertificateSpec& spec) {
  std::set<std::string> seen;
  for (const auto& dns : spec.dns_sans) {
    SITECHAIN_RETURN_IF_ERROR(ValidateDnsName(dns));
    std::string lower = dns;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!seen.insert(lower).second) return InvalidArgument("DNS name SAN '" + dns + "' repeats");
  }
  seen.clear();
  for (const auto& ip : spec.ip_sans) {
    SITECHAIN_RETURN_IF_ERROR(ValidateIpAddress(ip));
    if (!seen.insert(ip).second) return InvalidArgument("IP SAN '" + ip + "' repeats");
  }
  return Status::Ok();
}

}  // namespace

Result<Certificate> IssueCertificate(const CertificateSpec& spec, const Issuer& issuer,
                                     Random& rng) {
  if (spec.subject.common_name.empty()) return InvalidArgument("certificate subject has no CN");
  if (spec.not_after <= spec.not_before) {
    return InvalidArgument("certificate notAfter must be after notBefore");
  }
  if (!spec.is_ca && spec.path_limit) return InvalidArgument("pathLen given for a non-CA");
  SITECHAIN_RETURN_IF_ERROR(ValidateSans(spec));
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
    const unsigned eku = spec.ext_key_usage;
    if (eku != 0) {
      std::vector<Botan::OID> purposes;
      if (eku & kServerAuth) purposes.push_back(Botan::OID::from_string("PKIX.ServerAuth"));
      if (eku & kClientAuth) purposes.push_back(Botan::OID::from_string("PKIX.ClientAuth"));
      exts.add(new Botan::Cert_Extension::Extended_Key_Usage(purposes));
    }
    if (!spec.uri_sans.empty() || !spec.dns_sans.empty() || !spec.ip_sans.empty()) {
      // Botan writes DNS names, then URIs, then IP addresses, each kind in the order given.
      Botan::AlternativeName alt;
      for (const auto& dns : spec.dns_sans) alt.add_attribute("DNS", dns);
      for (const auto& uri : spec.uri_sans) alt.add_attribute("URI", uri);
      for (const auto& ip : spec.ip_sans) alt.add_attribute("IP", ip);
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
    Botan::X509_DN subject;
    if (spec.subject_der.empty()) {
      subject = internal::ToBotanDn(spec.subject);
    } else {
      // Decoding keeps the original bytes, which Botan then encodes unchanged.
      Botan::BER_Decoder(spec.subject_der).decode(subject).verify_end();
    }
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
