// Test support: CSRs with keys outside the profile (see hostile_key_csr.h).

#include "tests/support/hostile_key_csr.h"

#include "tests/support/hand_made_csr.h"

namespace sitechain::testing {

using Bytes = std::vector<uint8_t>;

namespace {

// A DER INTEGER of a non-negative big-endian magnitude (a leading zero when the top bit is set).
Bytes UnsignedInteger(const Bytes& magnitude) {
  Bytes body = magnitude;
  if (body.empty() || (body[0] & 0x80) != 0) body.insert(body.begin(), 0x00);
  return der::Tlv(0x02, body);
}

Bytes RandomBytes(size_t n, Random& rng) {
  Bytes out(n);
  if (n > 0) rng.Fill(out.data(), out.size());
  return out;
}

}  // namespace

Bytes RandomOddNumber(size_t bits, Random& rng) {
  Bytes n = RandomBytes((bits + 7) / 8, rng);
  const size_t top = (bits - 1) % 8;  // the top bit's position in the first byte
  n[0] = static_cast<uint8_t>((n[0] & ((1u << top) - 1)) | (1u << top));
  n.back() |= 0x01;
  return n;
}

Bytes RandomRsaSpki(size_t modulus_bits, const Bytes& exponent, Random& rng) {
  using der::Cat;
  using der::Tlv;
  const Bytes key = Tlv(
      0x30, Cat({UnsignedInteger(RandomOddNumber(modulus_bits, rng)), UnsignedInteger(exponent)}));
  const Bytes algorithm = Tlv(0x30, Cat({der::Oid("1.2.840.113549.1.1.1"), Bytes{0x05, 0x00}}));
  return Tlv(0x30, Cat({algorithm, Tlv(0x03, Cat({Bytes{0x00}, key}))}));
}

Bytes CsrDerWithKey(const Bytes& spki, const std::string& common_name, size_t signature_bytes,
                    Random& rng) {
  using der::Cat;
  using der::Oid;
  using der::Tlv;
  const Bytes cn = Tlv(0x0C, Bytes(common_name.begin(), common_name.end()));
  const Bytes name = Tlv(0x30, Tlv(0x31, Tlv(0x30, Cat({Oid("2.5.4.3"), cn}))));
  const Bytes info = Tlv(0x30, Cat({Tlv(0x02, {0x00}), name, spki, Tlv(0xA0, {})}));
  const Bytes algorithm = Tlv(0x30, Cat({Oid("1.2.840.113549.1.1.11"), Bytes{0x05, 0x00}}));
  const Bytes signature = Cat({Bytes{0x00}, RandomBytes(signature_bytes, rng)});
  return Tlv(0x30, Cat({info, algorithm, Tlv(0x03, signature)}));
}

}  // namespace sitechain::testing
