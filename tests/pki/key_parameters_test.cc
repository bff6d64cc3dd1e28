// Tests of the key parameters checked before any signature work (pki/key_parameters.h), and of
// every path that now goes through them: CSR parsing (FromDer/FromPem), the public-key loader
// that certificates and VerifyMessage use, and PublicKeyType.

#include "pki/key_parameters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/hex.h"
#include "common/random.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/hostile_key_csr.h"

namespace sitechain::pki {
namespace {

namespace t = sitechain::testing;
using Bytes = std::vector<uint8_t>;

Bytes FromHex(const std::string& hex) { return HexDecode(hex).value(); }

// Made with OpenSSL 3 (as in key_test.cc).
constexpr const char* kP384Spki =
    "3076301006072a8648ce3d020106052b81040022036200049268e6103acb32f997fdf4925c4ffab17a5d9e3ebec2"
    "bcfb986b636e77392dea41e66bc4956e3cd8b0e404331241e6b8ec1113a793b842f718a62ea5e7d0b7a45320ea7d"
    "cc513759a87386e2318511dd76b644196f6247b2588285ab99a25013";
constexpr const char* kX25519Spki =
    "302a300506032b656e032100610de30c763c1eea01b125d22092bf1e70986cf7e68926c37723851bb30ba201";

::testing::AssertionResult RefusedWith(const Result<KeyType>& r, const std::string& fragment) {
  if (r.ok()) return ::testing::AssertionFailure() << "accepted as " << KeyTypeName(*r);
  if (r.status().code() != StatusCode::kInvalidArgument ||
      r.status().message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "expected INVALID_ARGUMENT with '" << fragment << "', got " << r.status().ToString();
  }
  return ::testing::AssertionSuccess();
}

class KeyParametersTest : public ::testing::Test {
 protected:
  SeededRandom rng_{17};
};

TEST_F(KeyParametersTest, AcceptsTheProfilesKeys) {
  for (KeyType type : {KeyType::kEd25519, KeyType::kEcdsaP256}) {
    Result<KeyType> r = CheckKeyParameters(PrivateKey::Generate(type, rng_).PublicKeyDer());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, type);
  }
  // RSA is judged by its numbers alone: a random modulus of the right size passes this check.
  Result<KeyType> rsa2048 = CheckKeyParameters(t::RandomRsaSpki(2048, t::kExponent65537, rng_));
  ASSERT_TRUE(rsa2048.ok()) << rsa2048.status().ToString();
  EXPECT_EQ(*rsa2048, KeyType::kRsa2048);
  Result<KeyType> rsa3072 = CheckKeyParameters(t::RandomRsaSpki(3072, t::kExponent65537, rng_));
  ASSERT_TRUE(rsa3072.ok()) << rsa3072.status().ToString();
  EXPECT_EQ(*rsa3072, KeyType::kRsa3072);
}

TEST_F(KeyParametersTest, RefusesRsaOfOtherSizesAndExponents) {
  for (size_t bits : {size_t{1024}, size_t{2047}, size_t{2049}, size_t{4096}}) {
    EXPECT_TRUE(RefusedWith(CheckKeyParameters(t::RandomRsaSpki(bits, t::kExponent65537, rng_)),
                            "the key is RSA with a " + std::to_string(bits) + "-bit modulus; " +
                                "sitechain accepts " + kAllowedKeysText));
  }
  for (size_t bits : {size_t{4097}, size_t{8192}, size_t{16384}, size_t{65536}}) {
    EXPECT_TRUE(RefusedWith(CheckKeyParameters(t::RandomRsaSpki(bits, t::kExponent65537, rng_)),
                            std::to_string(bits) + "-bit modulus, more than the 4096 bits"));
  }
  EXPECT_TRUE(RefusedWith(
      CheckKeyParameters(t::RandomRsaSpki(2048, t::kExponent3, rng_)),
      "public exponent is 3, not 65537; sitechain accepts " + std::string(kAllowedKeysText)));
  EXPECT_TRUE(RefusedWith(CheckKeyParameters(t::RandomRsaSpki(2048, {0x01, 0x00, 0x03}, rng_)),
                          "public exponent is 65539"));
  EXPECT_TRUE(
      RefusedWith(CheckKeyParameters(t::RandomRsaSpki(2048, t::RandomOddNumber(65536, rng_), rng_)),
                  "public exponent is a 65536-bit number"));
}

TEST_F(KeyParametersTest, RefusesOtherAlgorithmsCurvesAndEncodings) {
  EXPECT_TRUE(RefusedWith(CheckKeyParameters(FromHex(kP384Spki)), "the curve secp384r1"));
  EXPECT_TRUE(RefusedWith(CheckKeyParameters(FromHex(kX25519Spki)), "the key's algorithm is"));
  // P-256 with explicit parameters instead of the curve's name: a SEQUENCE where the OID goes.
  Bytes p256 = PrivateKey::Generate(KeyType::kEcdsaP256, rng_).PublicKeyDer();
  const Bytes named = t::der::Oid("1.2.840.10045.3.1.7");
  const auto at = std::search(p256.begin(), p256.end(), named.begin(), named.end());
  ASSERT_NE(at, p256.end());
  Bytes explicit_params = p256;
  explicit_params[at - p256.begin()] = 0x30;  // same length, now a SEQUENCE
  EXPECT_TRUE(RefusedWith(CheckKeyParameters(explicit_params), "does not name its curve"));
  // Malformed input of every kind: INVALID_ARGUMENT, never an exception.
  Bytes ed = PrivateKey::Generate(KeyType::kEd25519, rng_).PublicKeyDer();
  Bytes trailing = ed;
  trailing.push_back(0);
  for (const Bytes& der :
       {Bytes{}, Bytes{0x30, 0x00}, Bytes(ed.begin(), ed.end() - 1), trailing, Bytes(64, 0xff)}) {
    EXPECT_TRUE(RefusedWith(CheckKeyParameters(der), "")) << HexEncode(der);
  }
}

// The attack of issue 17: a CSR naming a 16384-bit RSA key (and one with a huge exponent) with a
// random signature. Parsing refuses it by the key's parameters, so no caller can get as far as
// checking its signature.
TEST_F(KeyParametersTest, CsrParsingRefusesOversizedKeysBeforeAnySignatureCheck) {
  const Bytes oversized = t::CsrDerWithKey(t::RandomRsaSpki(16384, t::kExponent65537, rng_),
                                           "mallory", 16384 / 8, rng_);
  const Bytes huge_exponent = t::CsrDerWithKey(
      t::RandomRsaSpki(2048, t::RandomOddNumber(16384, rng_), rng_), "mallory", 256, rng_);
  for (const Bytes& der : {oversized, huge_exponent}) {
    Result<CertificateRequest> from_der = CertificateRequest::FromDer(der);
    ASSERT_FALSE(from_der.ok());
    EXPECT_EQ(from_der.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(from_der.status().message().find("the CSR's public key is refused"),
              std::string::npos)
        << from_der.status().ToString();
    EXPECT_NE(from_der.status().message().find(kAllowedKeysText), std::string::npos);
    Result<CertificateRequest> from_pem =
        CertificateRequest::FromPem(t::der::Pem("CERTIFICATE REQUEST", der));
    ASSERT_FALSE(from_pem.ok());
    EXPECT_EQ(from_pem.status().ToString(), from_der.status().ToString());
  }
  // The control: the same hand-made shape with a profile-sized key parses (and its random
  // signature then fails CheckRequest, as any bad signature does).
  Result<CertificateRequest> control = CertificateRequest::FromDer(
      t::CsrDerWithKey(t::RandomRsaSpki(2048, t::kExponent65537, rng_), "mallory", 256, rng_));
  ASSERT_TRUE(control.ok()) << control.status().ToString();
  EXPECT_EQ(CheckRequest(*control, "developer").code(), StatusCode::kUnauthenticated);
}

TEST_F(KeyParametersTest, KeysFromElsewhereGoThroughTheSameCheck) {
  const Bytes oversized = t::RandomRsaSpki(16384, t::kExponent65537, rng_);
  EXPECT_TRUE(RefusedWith(PublicKeyType(oversized), "16384-bit modulus"));
  EXPECT_FALSE(VerifyMessage(oversized, "m", Bytes(2048, 0x5a)));
  // Profile keys still sign and verify, and CSRs made by Create still check out.
  const PrivateKey key = PrivateKey::Generate(KeyType::kEcdsaP256, rng_);
  EXPECT_TRUE(VerifyMessage(key.PublicKeyDer(), "m", SignMessage(key, "m", rng_)));
  Result<CertificateRequest> csr = CertificateRequest::Create(key, "alice", rng_);
  ASSERT_TRUE(csr.ok());
  EXPECT_TRUE(CheckRequest(*csr, "developer").ok());
  Result<CertificateRequest> parsed = CertificateRequest::FromDer(csr->ToDer());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(CheckRequest(*parsed, "developer").ok());
}

}  // namespace
}  // namespace sitechain::pki
