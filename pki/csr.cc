#include "pki/csr.h"

#include <botan/ber_dec.h>
#include <botan/data_src.h>
#include <botan/der_enc.h>
#include <botan/pem.h>
#include <botan/pkcs10.h>
#include <botan/x509_ext.h>

#include "common/files.h"
#include "pki/internal.h"
#include "pki/key_parameters.h"
#include "pki/oids.h"

namespace sitechain::pki {

namespace internal {

void Pkcs10::force_decode() {
  Botan::BER_Decoder info(signed_body());
  size_t version = 0;
  info.decode(version);
  if (version != 0) {
    throw Botan::Decoding_Error("unknown PKCS #10 version " + std::to_string(version));
  }
  info.decode(subject_);
  const Botan::BER_Object key = info.get_next_object();
  if (!key.is_a(Botan::SEQUENCE, Botan::CONSTRUCTED)) {
    throw Botan::Decoding_Error("the PKCS #10 public key is not a SEQUENCE");
  }
  public_key_bits_.clear();
  Botan::DER_Encoder(public_key_bits_)
      .start_cons(Botan::SEQUENCE)
      .raw_bytes(key.bits(), key.length())
      .end_cons();
  const Botan::BER_Object attributes = info.get_next_object();
  if (attributes.is_a(0, Botan::ASN1_Tag(Botan::CONSTRUCTED | Botan::CONTEXT_SPECIFIC))) {
    Botan::BER_Decoder list(attributes);
    while (list.more_items()) {
      Botan::Attribute attribute;
      list.decode(attribute);
      if (attribute.get_oid() == Botan::OID::from_string("PKCS9.ExtensionRequest")) {
        Botan::BER_Decoder(attribute.get_parameters()).decode(extensions_).verify_end();
      }
    }
    list.verify_end();
  } else if (attributes.is_set()) {
    throw Botan::Decoding_Error("unexpected field after the PKCS #10 public key");
  }
  info.verify_end();
}

}  // namespace internal

CertificateRequest::Impl::Impl(Botan::DataSource& src) : req(src), der(req.BER_encode()) {
  const auto* basic =
      req.extensions().get_extension_object_as<Botan::Cert_Extension::Basic_Constraints>();
  requests_ca = basic != nullptr && basic->get_is_ca();
}

Result<CertificateRequest> CertificateRequest::Create(const PrivateKey& key,
                                                      std::string_view common_name, Random& rng) {
  if (common_name.empty() || common_name.size() > 64) {
    return InvalidArgument("the name in a CSR must be 1 to 64 bytes");
  }
  internal::RngAdapter brng(rng);
  const Botan::Private_Key& k = *key.impl().key;
  const bool ed = k.algo_name() == "Ed25519";
  try {
    const std::vector<uint8_t> der =
        Botan::PKCS10_Request::create(
            k, internal::ToBotanDn(DistinguishedName{std::string(common_name), "", ""}),
            Botan::Extensions(), ed ? "SHA-512" : "SHA-256", brng, ed ? "Pure" : "")
            .BER_encode();
    Botan::DataSource_Memory src(der);
    return CertificateRequest(std::make_shared<const Impl>(src));
  } catch (const std::exception& e) {
    return Internal(std::string("cannot create the CSR: ") + e.what());
  }
}

Result<CertificateRequest> CertificateRequest::FromPem(std::string_view pem) {
  if (pem.size() > kMaxCertificateBytes * 2) return ResourceExhausted("CSR input is too large");
  if (pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string_view::npos) {
    return InvalidArgument(
        "not a PEM CSR (expected a '-----BEGIN CERTIFICATE REQUEST-----' block)");
  }
  return Parse(reinterpret_cast<const uint8_t*>(pem.data()), pem.size());
}

Result<CertificateRequest> CertificateRequest::FromDer(std::span<const uint8_t> der) {
  if (der.size() > kMaxCertificateBytes) return ResourceExhausted("CSR input is too large");
  if (der.empty()) return InvalidArgument("the CSR is empty");
  return Parse(der.data(), der.size());
}

Result<CertificateRequest> CertificateRequest::Parse(const uint8_t* data, size_t size) {
  std::shared_ptr<const Impl> impl;
  try {
    Botan::DataSource_Memory src(data, size);
    impl = std::make_shared<const Impl>(src);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("malformed CSR: ") + e.what());
  }
  // Decoding checked nothing with the key; this runs before anyone can (CheckRequest's signature
  // check), so that a key too costly to use is refused for the price of decoding it.
  if (Result<KeyType> type = CheckKeyParameters(impl->req.public_key_bits()); !type.ok()) {
    return InvalidArgument("the CSR's public key is refused: " + type.status().message());
  }
  return CertificateRequest(std::move(impl));
}

Result<CertificateRequest> CertificateRequest::Load(const std::string& path) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, kMaxCertificateBytes * 2));
  Result<CertificateRequest> req = FromPem(pem);
  if (!req.ok()) return req.status().WithContext(path);
  return req;
}

std::string CertificateRequest::ToPem() const {
  return Botan::PEM_Code::encode(impl_->der, "CERTIFICATE REQUEST");
}

std::vector<uint8_t> CertificateRequest::ToDer() const { return impl_->der; }

Status CertificateRequest::Save(const std::string& path, bool overwrite) const {
  return WriteFileAtomic(path, ToPem(), 0644, overwrite);
}

std::string CertificateRequest::CommonName() const {
  return internal::FromBotanDn(impl_->req.subject()).common_name;
}

std::vector<uint8_t> CertificateRequest::PublicKeyDer() const {
  return impl_->req.public_key_bits();
}

bool CertificateRequest::SignatureValid() const {
  try {
    // LoadPublicKey checks the key's parameters first (CSRs made by Create skip Parse).
    const std::unique_ptr<Botan::Public_Key> key =
        internal::LoadPublicKey(impl_->req.public_key_bits());
    return key && impl_->req.check_signature(*key);
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<RawExtension> CertificateRequest::RequestedExtensions() const {
  return internal::RawExtensionsOf(impl_->req.extensions());
}

bool CertificateRequest::RequestsCa() const { return impl_->requests_ca; }

Status CheckRequest(const CertificateRequest& csr, std::string_view who) {
  if (!csr.SignatureValid()) {
    return Unauthenticated(
        "the CSR's signature does not verify with its own key: it was altered "
        "or not made with the key it names");
  }
  if (csr.RequestsCa()) {
    return PermissionDenied("the CSR asks for CA rights; a " + std::string(who) +
                            " CSR must not (the issuer decides what the certificate may do)");
  }
  if (const auto exts = csr.RequestedExtensions(); !exts.empty()) {
    return PermissionDenied("the CSR asks for the extension " + ExtensionName(exts[0].oid) + "; " +
                            std::string(who) + " CSRs must not request extensions");
  }
  const std::string cn = csr.CommonName();
  if (cn.empty() || cn.size() > 64) {
    return InvalidArgument("the CSR's common name (the " + std::string(who) +
                           "'s name) must be 1 to 64 bytes");
  }
  return Status::Ok();
}

}  // namespace sitechain::pki
