// Test support: hand-made PKCS#10 CSRs (see hand_made_csr.h).

#include "tests/support/hand_made_csr.h"

#include "pki/oids.h"

namespace sitechain::testing {

using Bytes = std::vector<uint8_t>;

namespace der {

Bytes Tlv(uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  const size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xff) {
    out.insert(out.end(), {0x81, static_cast<uint8_t>(n)});
  } else {
    out.insert(out.end(), {0x82, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes Oid(std::string_view dotted) {
  std::vector<uint64_t> arcs{0};
  for (char c : dotted) {
    if (c == '.') {
      arcs.push_back(0);
    } else {
      arcs.back() = arcs.back() * 10 + static_cast<uint64_t>(c - '0');
    }
  }
  Bytes body{static_cast<uint8_t>(arcs[0] * 40 + arcs[1])};
  for (size_t i = 2; i < arcs.size(); ++i) {
    Bytes base128;
    uint64_t v = arcs[i];
    do {
      base128.insert(base128.begin(),
                     static_cast<uint8_t>((v & 0x7f) | (base128.empty() ? 0 : 0x80)));
      v >>= 7;
    } while (v != 0);
    body.insert(body.end(), base128.begin(), base128.end());
  }
  return Tlv(0x06, body);
}

std::string Pem(std::string_view label, const Bytes& der) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < der.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(der[i]) << 16;
    if (i + 1 < der.size()) n |= static_cast<uint32_t>(der[i + 1]) << 8;
    if (i + 2 < der.size()) n |= der[i + 2];
    b64.push_back(kAlphabet[(n >> 18) & 63]);
    b64.push_back(kAlphabet[(n >> 12) & 63]);
    b64.push_back(i + 1 < der.size() ? kAlphabet[(n >> 6) & 63] : '=');
    b64.push_back(i + 2 < der.size() ? kAlphabet[n & 63] : '=');
  }
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

}  // namespace der

std::string HandMadeCsrPem(const pki::PrivateKey& key, const CsrRequest& request, Random& rng) {
  using der::Cat;
  using der::Oid;
  using der::Tlv;
  const Bytes cn = Tlv(0x0C, Bytes(request.common_name.begin(), request.common_name.end()));
  const Bytes name = Tlv(0x30, Tlv(0x31, Tlv(0x30, Cat({Oid("2.5.4.3"), cn}))));
  Bytes attributes;
  if (!request.extensions.empty()) {
    Bytes exts;
    for (const pki::RawExtension& e : request.extensions) {
      exts = Cat({exts, Tlv(0x30, Cat({Oid(e.oid), e.critical ? Bytes{0x01, 0x01, 0xff} : Bytes{},
                                       Tlv(0x04, e.value)}))});
    }
    attributes = Tlv(0x30, Cat({Oid("1.2.840.113549.1.9.14"), Tlv(0x31, Tlv(0x30, exts))}));
  }
  const Bytes info =
      Tlv(0x30, Cat({Tlv(0x02, {0x00}), name, key.PublicKeyDer(), Tlv(0xA0, attributes)}));
  const pki::PrivateKey& signer = request.signer != nullptr ? *request.signer : key;
  Bytes signature = pki::SignMessage(
      signer, std::string_view(reinterpret_cast<const char*>(info.data()), info.size()), rng);
  if (request.corrupt_signature) signature[10] ^= 0x01;
  const Bytes der = Tlv(
      0x30, Cat({info, Tlv(0x30, Oid("1.3.101.112")), Tlv(0x03, Cat({Bytes{0x00}, signature}))}));
  return der::Pem("CERTIFICATE REQUEST", der);
}

std::string HandMadeCsrPem(const pki::PrivateKey& key, const std::string& common_name,
                           const std::vector<pki::RawExtension>& extensions, Random& rng) {
  CsrRequest request;
  request.common_name = common_name;
  request.extensions = extensions;
  return HandMadeCsrPem(key, request, rng);
}

std::string HandMadeCsrPem(const pki::PrivateKey& key, const std::string& common_name,
                           const std::vector<pki::RawExtension>& extensions,
                           const pki::PrivateKey& signer, Random& rng) {
  CsrRequest request;
  request.common_name = common_name;
  request.extensions = extensions;
  request.signer = &signer;
  return HandMadeCsrPem(key, request, rng);
}

pki::RawExtension CaTrueExtension() {
  return pki::RawExtension{pki::kBasicConstraintsOid, true, {0x30, 0x03, 0x01, 0x01, 0xff}};
}

}  // namespace sitechain::testing
