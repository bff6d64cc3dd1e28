#include "pki/describe.h"

#include <sstream>

#include "common/hex.h"
#include "common/time_format.h"
#include "pki/extensions.h"
#include "pki/oids.h"

namespace sitechain::pki {
namespace {

nlohmann::json DecodeExtension(const RawExtension& ext) {
  nlohmann::json j = {
      {"oid", ext.oid}, {"name", ExtensionName(ext.oid)}, {"critical", ext.critical}};
  auto hash = [](const Result<Digest>& d) -> nlohmann::json {
    if (!d.ok()) return {{"error", d.status().message()}};
    return {{"algorithm", HashAlgorithmName(d->algorithm)}, {"digest", d->Hex()}};
  };
  if (ext.oid == ExecutableHashOid() || ext.oid == MetadataHashOid()) {
    j["value"] = hash(DecodeHashExtension(ext.value));
  } else if (ext.oid == ServiceReleaseOid()) {
    auto r = DecodeServiceRelease(ext.value);
    j["value"] = r.ok() ? nlohmann::json{{"name", r->name},
                                         {"version", r->version},
                                         {"releaseCounter", r->release_counter}}
                        : nlohmann::json{{"error", r.status().message()}};
  } else if (ext.oid == SitePolicyOid()) {
    auto p = DecodeSitePolicy(ext.value);
    j["value"] =
        p.ok() ? nlohmann::json::parse(*p) : nlohmann::json{{"error", p.status().message()}};
  } else {
    j["der"] = HexEncode(ext.value);
  }
  return j;
}

}  // namespace

nlohmann::json DescribeCertificate(const Certificate& cert) {
  nlohmann::json j;
  j["subject"] = cert.Subject().ToString();
  j["issuer"] = cert.Issuer().ToString();
  j["serial"] = cert.SerialHex();
  j["notBefore"] = FormatTime(cert.NotBefore());
  j["notAfter"] = FormatTime(cert.NotAfter());
  j["publicKeyAlgorithm"] = cert.PublicKeyAlgorithm();
  j["signatureAlgorithm"] = cert.SignatureAlgorithm();
  j["sha256Fingerprint"] = cert.Sha256Fingerprint();
  j["ca"] = cert.IsCa();
  if (auto limit = cert.PathLimit()) j["pathLen"] = *limit;
  j["selfSigned"] = cert.IsSelfSigned();
  j["uris"] = cert.UriSans();
  j["dnsNames"] = cert.DnsSans();
  j["ipAddresses"] = cert.IpSans();
  j["extensions"] = nlohmann::json::array();
  for (const auto& ext : cert.Extensions()) j["extensions"].push_back(DecodeExtension(ext));
  // Names, SANs and decoder messages hold the certificate's bytes, which need not be UTF-8
  // (a PrintableString is copied as it is): replace what is not with U+FFFD, so that dump()
  // of the result never throws.
  return nlohmann::json::parse(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string DescribeCertificateText(const Certificate& cert) {
  const nlohmann::json j = DescribeCertificate(cert);
  std::ostringstream out;
  for (const char* key : {"subject", "issuer", "serial", "notBefore", "notAfter",
                          "publicKeyAlgorithm", "signatureAlgorithm", "sha256Fingerprint"}) {
    out << key << ": " << j[key].get<std::string>() << "\n";
  }
  out << "ca: " << (j["ca"].get<bool>() ? "yes" : "no");
  if (j.contains("pathLen")) out << " (pathLen " << j["pathLen"].get<size_t>() << ")";
  out << (j["selfSigned"].get<bool>() ? ", self-signed" : "") << "\n";
  for (const auto& uri : j["uris"]) out << "uri: " << uri.get<std::string>() << "\n";
  for (const auto& dns : j["dnsNames"]) out << "dns: " << dns.get<std::string>() << "\n";
  for (const auto& ip : j["ipAddresses"]) out << "ip: " << ip.get<std::string>() << "\n";
  out << "extensions:\n";
  for (const auto& ext : j["extensions"]) {
    out << "  " << ext["name"].get<std::string>()
        << (ext["critical"].get<bool>() ? " (critical)" : "");
    if (ext.contains("value")) out << ": " << ext["value"].dump();
    out << "\n";
  }
  return out.str();
}

}  // namespace sitechain::pki
