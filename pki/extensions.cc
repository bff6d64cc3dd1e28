#include "pki/extensions.h"

#include <botan/asn1_obj.h>
#include <botan/asn1_str.h>
#include <botan/ber_dec.h>
#include <botan/bigint.h>
#include <botan/der_enc.h>

#include <nlohmann/json.hpp>

namespace sitechain::pki {
namespace {

const Botan::OID& Sha256Oid() {
  static const Botan::OID oid("2.16.840.1.101.3.4.2.1");
  return oid;
}
const Botan::OID& Sha512Oid() {
  static const Botan::OID oid("2.16.840.1.101.3.4.2.3");
  return oid;
}

Status CheckSize(const std::vector<uint8_t>& der, const char* what) {
  if (der.empty()) return InvalidArgument(std::string(what) + ": empty value");
  if (der.size() > kMaxExtensionValueBytes) {
    return InvalidArgument(std::string(what) + ": value of " + std::to_string(der.size()) +
                           " bytes exceeds the limit of " +
                           std::to_string(kMaxExtensionValueBytes));
  }
  return Status::Ok();
}

// Strict DER: what we decoded must re-encode to exactly the input. This refuses BER forms
// (indefinite lengths, non-minimal lengths or integers, other string types) and trailing bytes.
Status CheckCanonical(const std::vector<uint8_t>& der, const std::vector<uint8_t>& reencoded,
                      const char* what) {
  if (der != reencoded) {
    return InvalidArgument(std::string(what) +
                           ": not in canonical DER (trailing bytes or a non-minimal encoding)");
  }
  return Status::Ok();
}

Result<std::string> DecodeUtf8(Botan::BER_Decoder& dec, const char* field) {
  Botan::ASN1_String str;
  dec.decode(str);
  if (str.tagging() != Botan::UTF8_STRING) {
    return InvalidArgument(std::string(field) + " must be a UTF8String");
  }
  return str.value();
}

bool IsIdentifierChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '.' || c == '_' || c == '-');
}

}  // namespace

std::vector<uint8_t> EncodeHashExtension(const Digest& digest) {
  const Botan::OID& oid = digest.algorithm == HashAlgorithm::kSha256 ? Sha256Oid() : Sha512Oid();
  std::vector<uint8_t> out;
  Botan::DER_Encoder(out)
      .start_cons(Botan::SEQUENCE)
      .encode(Botan::AlgorithmIdentifier(oid, Botan::AlgorithmIdentifier::USE_EMPTY_PARAM))
      .encode(digest.bytes, Botan::OCTET_STRING)
      .end_cons();
  return out;
}

Result<Digest> DecodeHashExtension(const std::vector<uint8_t>& der) {
  constexpr const char* kWhat = "hash extension";
  SITECHAIN_RETURN_IF_ERROR(CheckSize(der, kWhat));
  try {
    Botan::AlgorithmIdentifier alg;
    std::vector<uint8_t> bytes;
    Botan::BER_Decoder dec(der);
    dec.start_cons(Botan::SEQUENCE).decode(alg).decode(bytes, Botan::OCTET_STRING).end_cons();
    dec.verify_end();
    Digest d;
    if (alg.get_oid() == Sha256Oid()) {
      d.algorithm = HashAlgorithm::kSha256;
    } else if (alg.get_oid() == Sha512Oid()) {
      d.algorithm = HashAlgorithm::kSha512;
    } else {
      return InvalidArgument(std::string(kWhat) + ": unsupported hash algorithm " +
                             alg.get_oid().to_string() + " (sha256 and sha512 are accepted)");
    }
    const auto& params = alg.get_parameters();
    const bool null_params = params == std::vector<uint8_t>{0x05, 0x00};
    if (!params.empty() && !null_params) {
      return InvalidArgument(std::string(kWhat) + ": hash algorithm has unexpected parameters");
    }
    if (bytes.size() != DigestSize(d.algorithm)) {
      return InvalidArgument(std::string(kWhat) + ": digest is " + std::to_string(bytes.size()) +
                             " bytes, but " + std::string(HashAlgorithmName(d.algorithm)) +
                             " digests are " + std::to_string(DigestSize(d.algorithm)));
    }
    d.bytes = std::move(bytes);
    std::vector<uint8_t> again;
    Botan::DER_Encoder(again)
        .start_cons(Botan::SEQUENCE)
        .encode(Botan::AlgorithmIdentifier(alg.get_oid(), params))
        .encode(d.bytes, Botan::OCTET_STRING)
        .end_cons();
    SITECHAIN_RETURN_IF_ERROR(CheckCanonical(der, again, kWhat));
    return d;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(kWhat) + ": malformed DER (" + e.what() + ")");
  }
}

Status ValidateServiceRelease(const ServiceRelease& r) {
  if (r.name.empty() || r.name.size() > kMaxServiceNameBytes) {
    return InvalidArgument("service name must be 1 to " + std::to_string(kMaxServiceNameBytes) +
                           " bytes");
  }
  for (size_t i = 0; i < r.name.size(); ++i) {
    if (!IsIdentifierChar(r.name[i], i == 0)) {
      return InvalidArgument("service name '" + r.name +
                             "' may hold only a-z, 0-9 and . _ - (starting with a-z or 0-9)");
    }
  }
  if (r.version.empty() || r.version.size() > kMaxVersionBytes) {
    return InvalidArgument("version must be 1 to " + std::to_string(kMaxVersionBytes) + " bytes");
  }
  for (char c : r.version) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument("version '" + r.version +
                             "' may hold only printable ASCII without spaces");
    }
  }
  if (r.release_counter > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgument("release counter must be below 2^63");
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> EncodeServiceRelease(const ServiceRelease& r) {
  SITECHAIN_RETURN_IF_ERROR(ValidateServiceRelease(r));
  std::vector<uint8_t> out;
  Botan::DER_Encoder(out)
      .start_cons(Botan::SEQUENCE)
      .encode(Botan::ASN1_String(r.name, Botan::UTF8_STRING))
      .encode(Botan::ASN1_String(r.version, Botan::UTF8_STRING))
      .encode(Botan::BigInt(r.release_counter))
      .end_cons();
  return out;
}

Result<ServiceRelease> DecodeServiceRelease(const std::vector<uint8_t>& der) {
  constexpr const char* kWhat = "serviceRelease";
  SITECHAIN_RETURN_IF_ERROR(CheckSize(der, kWhat));
  try {
    Botan::BER_Decoder outer(der);
    Botan::BER_Decoder seq = outer.start_cons(Botan::SEQUENCE);
    ServiceRelease r;
    SITECHAIN_ASSIGN_OR_RETURN(r.name, DecodeUtf8(seq, "serviceRelease.name"));
    SITECHAIN_ASSIGN_OR_RETURN(r.version, DecodeUtf8(seq, "serviceRelease.version"));
    Botan::BigInt counter;
    seq.decode(counter);
    seq.end_cons();
    outer.verify_end();
    if (counter.is_negative()) return InvalidArgument("serviceRelease: negative releaseCounter");
    if (counter.bits() > 63) return InvalidArgument("serviceRelease: releaseCounter ≥ 2^63");
    r.release_counter = 0;
    for (size_t i = 0; i < 8; ++i) {
      r.release_counter |= static_cast<uint64_t>(counter.byte_at(i)) << (8 * i);
    }
    SITECHAIN_RETURN_IF_ERROR(ValidateServiceRelease(r).WithContext(kWhat));
    SITECHAIN_ASSIGN_OR_RETURN(auto again, EncodeServiceRelease(r));
    SITECHAIN_RETURN_IF_ERROR(CheckCanonical(der, again, kWhat));
    return r;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(kWhat) + ": malformed DER (" + e.what() + ")");
  }
}

namespace {
Status ValidateSitePolicy(const std::string& json) {
  if (json.size() > kMaxSitePolicyBytes) {
    return InvalidArgument("sitePolicy of " + std::to_string(json.size()) +
                           " bytes exceeds the limit of " + std::to_string(kMaxSitePolicyBytes));
  }
  // nlohmann::json stops at a NUL byte: refuse it, or bytes after it would hide from readers.
  if (json.find('\0') != std::string::npos) {
    return InvalidArgument("sitePolicy must not contain NUL bytes");
  }
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgument(
        "sitePolicy must be a JSON object, e.g. {\"args\":[\"--port\",\"8080\"]}");
  }
  return Status::Ok();
}
}  // namespace

Result<std::vector<uint8_t>> EncodeSitePolicy(const std::string& json_object) {
  SITECHAIN_RETURN_IF_ERROR(ValidateSitePolicy(json_object));
  std::vector<uint8_t> out;
  Botan::DER_Encoder(out).encode(Botan::ASN1_String(json_object, Botan::UTF8_STRING));
  return out;
}

Result<std::string> DecodeSitePolicy(const std::vector<uint8_t>& der) {
  constexpr const char* kWhat = "sitePolicy";
  SITECHAIN_RETURN_IF_ERROR(CheckSize(der, kWhat));
  try {
    Botan::BER_Decoder dec(der);
    SITECHAIN_ASSIGN_OR_RETURN(std::string json, DecodeUtf8(dec, kWhat));
    dec.verify_end();
    SITECHAIN_RETURN_IF_ERROR(ValidateSitePolicy(json));
    SITECHAIN_ASSIGN_OR_RETURN(auto again, EncodeSitePolicy(json));
    SITECHAIN_RETURN_IF_ERROR(CheckCanonical(der, again, kWhat));
    return json;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(kWhat) + ": malformed DER (" + e.what() + ")");
  }
}

}  // namespace sitechain::pki
