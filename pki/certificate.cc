#include "pki/certificate.h"

#include <botan/pem.h>
#include <botan/x509_ext.h>

#include "common/files.h"
#include "common/hex.h"
#include "pki/hash.h"
#include "pki/internal.h"

namespace sitechain::pki {
namespace {

constexpr const char* kCn = "X520.CommonName";
constexpr const char* kOu = "X520.OrganizationalUnit";
constexpr const char* kO = "X520.Organization";

// Returns the single PEM block's DER, refusing other labels, several blocks and stray text.
Result<std::vector<uint8_t>> SinglePemBlock(std::string_view pem, const std::string& label) {
  if (pem.size() > kMaxCertificateBytes * 2) {
    return ResourceExhausted("PEM input of " + std::to_string(pem.size()) + " bytes is too large");
  }
  const std::string begin = "-----BEGIN " + label + "-----";
  const std::string end = "-----END " + label + "-----";
  size_t b = pem.find(begin);
  size_t e = pem.find(end);
  if (b == std::string_view::npos || e == std::string_view::npos || e < b) {
    return InvalidArgument("not a PEM " + label + " (expected a '" + begin + "' block)");
  }
  auto blank = [](std::string_view s) {
    return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
  };
  if (!blank(pem.substr(0, b)) || !blank(pem.substr(e + end.size()))) {
    return InvalidArgument("PEM input must hold exactly one " + label + " and nothing else");
  }
  try {
    Botan::secure_vector<uint8_t> der =
        Botan::PEM_Code::decode_check_label(std::string(pem.substr(b, e + end.size() - b)), label);
    return std::vector<uint8_t>(der.begin(), der.end());
  } catch (const std::exception& ex) {
    return InvalidArgument("malformed PEM " + label + ": " + ex.what());
  }
}

// Botan turns a validity time into a std::chrono::system_clock time point (nanoseconds) only
// for the years 1970 to 2261: it throws for earlier ones and overflows for later ones. Such a
// certificate is refused when parsed, so that NotBefore and NotAfter never fail.
Status CheckRepresentable(const Botan::X509_Time& t, const char* which) {
  const std::string readable = t.readable_string();  // "YYYY/MM/DD HH:MM:SS UTC"
  const int year = std::stoi(readable.substr(0, 4));
  if (year < 1970 || year > 2261) {
    return InvalidArgument(std::string("certificate ") + which + " " + readable +
                           " is outside the years 1970 to 2261 that sitechain represents");
  }
  return Status::Ok();
}

}  // namespace

std::string DistinguishedName::ToString() const {
  std::string out = "CN=" + common_name;
  if (!organizational_unit.empty()) out += ", OU=" + organizational_unit;
  if (!organization.empty()) out += ", O=" + organization;
  return out;
}

Result<Certificate> Certificate::FromDer(const std::vector<uint8_t>& der) {
  if (der.size() > kMaxCertificateBytes) {
    return ResourceExhausted("certificate of " + std::to_string(der.size()) +
                             " bytes exceeds the limit of " + std::to_string(kMaxCertificateBytes));
  }
  try {
    Botan::X509_Certificate cert(der);
    if (cert.BER_encode() != der) {
      return InvalidArgument("certificate is not in canonical DER or has trailing bytes");
    }
    if (cert.x509_version() != 3) return InvalidArgument("certificate is not X.509 version 3");
    SITECHAIN_RETURN_IF_ERROR(CheckRepresentable(cert.not_before(), "notBefore"));
    SITECHAIN_RETURN_IF_ERROR(CheckRepresentable(cert.not_after(), "notAfter"));
    return internal::Wrap(std::move(cert));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("malformed certificate: ") + e.what());
  }
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  SITECHAIN_ASSIGN_OR_RETURN(auto der, SinglePemBlock(pem, "CERTIFICATE"));
  return FromDer(der);
}

Result<Certificate> Certificate::Load(const std::string& path) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, kMaxCertificateBytes * 2));
  Result<Certificate> cert = FromPem(pem);
  if (!cert.ok()) return cert.status().WithContext(path);
  return cert;
}

std::string Certificate::ToPem() const { return impl_->cert.PEM_encode(); }
std::vector<uint8_t> Certificate::ToDer() const { return impl_->cert.BER_encode(); }

Status Certificate::Save(const std::string& path, bool overwrite) const {
  return WriteFileAtomic(path, ToPem(), 0644, overwrite);
}

DistinguishedName Certificate::Subject() const {
  return internal::FromBotanDn(impl_->cert.subject_dn());
}
bool Certificate::SubjectIs(const DistinguishedName& dn) const {
  const size_t attributes =
      1 + (dn.organizational_unit.empty() ? 0 : 1) + (dn.organization.empty() ? 0 : 1);
  return Subject() == dn && impl_->cert.subject_dn().dn_info().size() == attributes;
}
DistinguishedName Certificate::Issuer() const {
  return internal::FromBotanDn(impl_->cert.issuer_dn());
}
std::vector<uint8_t> Certificate::SubjectDnDer() const { return impl_->cert.raw_subject_dn(); }
std::vector<uint8_t> Certificate::IssuerDnDer() const { return impl_->cert.raw_issuer_dn(); }
std::string Certificate::SerialHex() const { return HexEncode(impl_->cert.serial_number()); }
TimePoint Certificate::NotBefore() const { return impl_->cert.not_before().to_std_timepoint(); }
TimePoint Certificate::NotAfter() const { return impl_->cert.not_after().to_std_timepoint(); }
bool Certificate::IsCa() const { return impl_->cert.is_CA_cert(); }

std::optional<size_t> Certificate::PathLimit() const {
  if (!IsCa()) return std::nullopt;
  size_t limit = impl_->cert.path_limit();
  if (limit == Botan::Cert_Extension::NO_CERT_PATH_LIMIT) return std::nullopt;
  return limit;
}

bool Certificate::IsSelfSigned() const {
  return impl_->cert.is_self_signed() && SignatureVerifiesWith(*this);
}

std::vector<uint8_t> Certificate::PublicKeyDer() const {
  return impl_->cert.subject_public_key_info();
}

std::string Certificate::PublicKeyAlgorithm() const {
  const Botan::Public_Key* key = impl_->PublicKey();
  return key ? key->algo_name() : "unknown";
}

std::string Certificate::SignatureAlgorithm() const {
  return impl_->cert.signature_algorithm().get_oid().to_formatted_string();
}

std::string Certificate::Sha256Fingerprint() const {
  auto der = ToDer();
  return HashBytes(HashAlgorithm::kSha256,
                   std::string_view(reinterpret_cast<const char*>(der.data()), der.size()))
      .Hex();
}

std::vector<RawExtension> Certificate::Extensions() const {
  return internal::RawExtensionsOf(impl_->cert.v3_extensions());
}

std::optional<RawExtension> Certificate::FindExtension(const std::string& oid) const {
  for (auto& ext : Extensions()) {
    if (ext.oid == oid) return ext;
  }
  return std::nullopt;
}

std::vector<std::string> Certificate::UriSans() const {
  return impl_->cert.subject_alt_name().get_attribute("URI");
}

std::vector<std::string> Certificate::DnsSans() const {
  return impl_->cert.subject_alt_name().get_attribute("DNS");
}

std::vector<std::string> Certificate::IpSans() const {
  return impl_->cert.subject_alt_name().get_attribute("IP");
}

const Botan::Public_Key* Certificate::Impl::PublicKey() const {
  std::call_once(key_once_,
                 [this] { key_ = internal::LoadPublicKey(cert.subject_public_key_info()); });
  return key_.get();
}

namespace {
// Accepted signature algorithms: Ed25519, and ECDSA/RSA with SHA-2 (never SHA-1 or MD5).
bool VerifiesWith(const Botan::X509_Certificate& cert, const Botan::Public_Key* key) {
  if (key == nullptr) return false;
  try {
    if (cert.verify_signature(*key) != Botan::Certificate_Status_Code::VERIFIED) return false;
    const std::string hash = cert.hash_used_for_signature();
    return hash == "SHA-256" || hash == "SHA-384" || hash == "SHA-512";
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

bool Certificate::SignatureVerifiesWith(const std::vector<uint8_t>& issuer_spki_der) const {
  return VerifiesWith(impl_->cert, internal::LoadPublicKey(issuer_spki_der).get());
}

bool Certificate::SignatureVerifiesWith(const Certificate& issuer) const {
  return VerifiesWith(impl_->cert, issuer.impl().PublicKey());
}

namespace internal {

Certificate Wrap(Botan::X509_Certificate cert) {
  return Certificate(std::make_shared<const Certificate::Impl>(std::move(cert)));
}

Botan::X509_DN ToBotanDn(const DistinguishedName& dn) {
  Botan::X509_DN out;
  if (!dn.organization.empty()) out.add_attribute(kO, dn.organization);
  if (!dn.organizational_unit.empty()) out.add_attribute(kOu, dn.organizational_unit);
  out.add_attribute(kCn, dn.common_name);
  return out;
}

DistinguishedName FromBotanDn(const Botan::X509_DN& dn) {
  return DistinguishedName{dn.get_first_attribute(kCn), dn.get_first_attribute(kOu),
                           dn.get_first_attribute(kO)};
}

std::vector<RawExtension> RawExtensionsOf(const Botan::Extensions& exts) {
  std::vector<RawExtension> out;
  for (const Botan::OID& oid : exts.get_extension_oids()) {
    out.push_back(RawExtension{oid.to_string(), exts.critical_extension_set(oid),
                               exts.get_extension_bits(oid)});
  }
  return out;
}

}  // namespace internal
}  // namespace sitechain::pki
