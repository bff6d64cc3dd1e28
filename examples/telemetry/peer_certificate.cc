#include "examples/telemetry/peer_certificate.h"

#include <grpc/grpc_security_constants.h>

#include <cstdint>
#include <vector>

namespace sitechain::examples {
namespace {

// The bytes of the first base64 body between "-----BEGIN CERTIFICATE-----" and its END line;
// nullopt if there is none or it is not base64.
std::optional<std::vector<uint8_t>> FirstCertificateDer(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  const size_t begin = pem.find(kBegin);
  if (begin == std::string_view::npos) return std::nullopt;
  const size_t body = begin + kBegin.size();
  const size_t end = pem.find(kEnd, body);
  if (end == std::string_view::npos) return std::nullopt;
  std::vector<uint8_t> out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : pem.substr(body, end - body)) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t') {
      continue;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<uint8_t>(bits >> count));
    }
  }
  return out;
}

// A DER reader over one buffer: each Enter/Skip reads one tag-length-value at `pos_`.
class Der final {
 public:
  explicit Der(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}

  // Reads the header of a TLV with `tag`; on success `pos_` is at its contents and `length` is
  // their size.
  bool Header(uint8_t tag, size_t& length) {
    if (pos_ + 2 > bytes_.size() || bytes_[pos_] != tag) return false;
    ++pos_;
    const uint8_t first = bytes_[pos_++];
    if (first < 0x80) {
      length = first;
    } else {
      const size_t octets = first & 0x7f;
      if (octets == 0 || octets > 4 || pos_ + octets > bytes_.size()) return false;
      length = 0;
      for (size_t i = 0; i < octets; ++i) length = (length << 8) | bytes_[pos_++];
    }
    return pos_ + length <= bytes_.size();
  }
  bool Enter(uint8_t tag) {
    size_t length;
    return Header(tag, length);
  }
  bool Skip(uint8_t tag) {
    size_t length;
    if (!Header(tag, length)) return false;
    pos_ += length;
    return true;
  }
  bool Peek(uint8_t tag) const { return pos_ < bytes_.size() && bytes_[pos_] == tag; }
  size_t pos() const { return pos_; }

 private:
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
};

constexpr uint8_t kSequence = 0x30;
constexpr uint8_t kExplicitVersion = 0xa0;  // [0] EXPLICIT Version
constexpr uint8_t kInteger = 0x02;

std::string AuthProperty(const grpc::AuthContext& auth, const char* name) {
  const auto values = auth.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values[0].data(), values[0].size());
}

}  // namespace

std::optional<std::string> CertificateSerialHex(std::string_view pem) {
  const auto der = FirstCertificateDer(pem);
  if (!der) return std::nullopt;
  Der in(*der);
  if (!in.Enter(kSequence) || !in.Enter(kSequence)) return std::nullopt;
  if (in.Peek(kExplicitVersion) && !in.Skip(kExplicitVersion)) return std::nullopt;
  size_t length;
  if (!in.Header(kInteger, length) || length == 0) return std::nullopt;
  size_t at = in.pos();
  const size_t end = at + length;
  while (at + 1 < end && (*der)[at] == 0) ++at;  // the sign octet and any other leading zero
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (; at < end; ++at) {
    hex.push_back(kDigits[(*der)[at] >> 4]);
    hex.push_back(kDigits[(*der)[at] & 0xf]);
  }
  return hex;
}

std::string PeerCertificateSerial(const grpc::AuthContext& auth) {
  return CertificateSerialHex(AuthProperty(auth, GRPC_X509_PEM_CERT_PROPERTY_NAME)).value_or("?");
}

std::string PeerSpiffeId(const grpc::AuthContext& auth) {
  const std::string id = AuthProperty(auth, GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  return id.empty() ? "?" : id;
}

}  // namespace sitechain::examples
