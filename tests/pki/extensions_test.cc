#include "pki/extensions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/hex.h"
#include "pki/hash.h"
#include "pki/oids.h"

namespace sitechain::pki {
namespace {

using Bytes = std::vector<uint8_t>;

// --- a tiny DER writer, so malformed encodings can be built byte by byte ---

Bytes Hex(std::string_view hex) {
  Result<Bytes> r = HexDecode(hex);
  EXPECT_TRUE(r.ok()) << hex;
  return r.ok() ? *r : Bytes{};
}

Bytes Raw(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Minimal definite length.
Bytes Length(size_t n) {
  if (n < 0x80) return {static_cast<uint8_t>(n)};
  Bytes be;
  for (size_t v = n; v > 0; v >>= 8) be.insert(be.begin(), static_cast<uint8_t>(v & 0xff));
  Bytes out = {static_cast<uint8_t>(0x80 | be.size())};
  out.insert(out.end(), be.begin(), be.end());
  return out;
}

Bytes Tlv(uint8_t tag, const Bytes& content) {
  return Cat({{tag}, Length(content.size()), content});
}
Bytes Seq(std::initializer_list<Bytes> items) { return Tlv(0x30, Cat(items)); }
Bytes Utf8(std::string_view s) { return Tlv(0x0C, Raw(s)); }
Bytes Octets(const Bytes& b) { return Tlv(0x04, b); }
Bytes Null() { return {0x05, 0x00}; }
// INTEGER with the given two's-complement content bytes, exactly as given.
Bytes IntegerRaw(std::string_view content_hex) { return Tlv(0x02, Hex(content_hex)); }

Bytes Oid(std::initializer_list<uint64_t> arcs) {
  auto it = arcs.begin();
  const uint64_t first = *it++;
  const uint64_t second = *it++;
  Bytes content;
  auto base128 = [&content](uint64_t v) {
    Bytes groups = {static_cast<uint8_t>(v & 0x7f)};
    for (v >>= 7; v > 0; v >>= 7)
      groups.insert(groups.begin(), static_cast<uint8_t>(0x80 | (v & 0x7f)));
    content.insert(content.end(), groups.begin(), groups.end());
  };
  base128(first * 40 + second);
  for (; it != arcs.end(); ++it) base128(*it);
  return Tlv(0x06, content);
}

const Bytes kSha256Oid = Oid({2, 16, 840, 1, 101, 3, 4, 2, 1});
const Bytes kSha384Oid = Oid({2, 16, 840, 1, 101, 3, 4, 2, 2});
const Bytes kSha512Oid = Oid({2, 16, 840, 1, 101, 3, 4, 2, 3});
const Bytes kSha224Oid = Oid({2, 16, 840, 1, 101, 3, 4, 2, 4});
const Bytes kSha3_256Oid = Oid({2, 16, 840, 1, 101, 3, 4, 2, 8});
const Bytes kSha1Oid = Oid({1, 3, 14, 3, 2, 26});
const Bytes kMd5Oid = Oid({1, 2, 840, 113549, 2, 5});

Bytes HashExt(const Bytes& alg_oid, const Bytes& digest) {
  return Seq({Seq({alg_oid}), Octets(digest)});
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Asserts r failed with INVALID_ARGUMENT and, if given, a message naming `field`.
template <typename T>
::testing::AssertionResult IsInvalid(const Result<T>& r, std::string_view field = "") {
  if (r.ok()) return ::testing::AssertionFailure() << "accepted";
  if (r.status().code() != StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong code: " << r.status().ToString();
  }
  if (!field.empty() &&
      Lower(r.status().message()).find(Lower(std::string(field))) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message does not name '" << field << "': " << r.status().message();
  }
  return ::testing::AssertionSuccess();
}

Digest Filled(HashAlgorithm alg, uint8_t byte) { return Digest{alg, Bytes(DigestSize(alg), byte)}; }

// ================================ OIDs ================================

TEST(ExtensionOidsTest, ArcAndNames) {
  EXPECT_STREQ(kOidArc, "1.3.6.1.4.1.32473.17");
  EXPECT_EQ(ExecutableHashOid(), "1.3.6.1.4.1.32473.17.1");
  EXPECT_EQ(MetadataHashOid(), "1.3.6.1.4.1.32473.17.2");
  EXPECT_EQ(ServiceReleaseOid(), "1.3.6.1.4.1.32473.17.3");
  EXPECT_EQ(SitePolicyOid(), "1.3.6.1.4.1.32473.17.4");
  EXPECT_EQ(ExtensionName(ExecutableHashOid()), "executableHash");
  EXPECT_EQ(ExtensionName(MetadataHashOid()), "metadataHash");
  EXPECT_EQ(ExtensionName(ServiceReleaseOid()), "serviceRelease");
  EXPECT_EQ(ExtensionName(SitePolicyOid()), "sitePolicy");
  EXPECT_EQ(ExtensionName(kBasicConstraintsOid), "basicConstraints");
  EXPECT_EQ(ExtensionName("1.2.3.4.5"), "1.2.3.4.5");
}

// ======================= executableHash / metadataHash =======================

TEST(HashExtensionTest, RoundTripsBothAlgorithms) {
  for (HashAlgorithm alg : {HashAlgorithm::kSha256, HashAlgorithm::kSha512}) {
    // executableHash over an executable, metadataHash over its metadata: the same codec.
    for (const Digest& d : {HashBytes(alg, "executable bytes"), HashBytes(alg, "{\"meta\":1}"),
                            Filled(alg, 0x00), Filled(alg, 0xff)}) {
      const Bytes der = EncodeHashExtension(d);
      EXPECT_LE(der.size(), kMaxExtensionValueBytes);
      Result<Digest> back = DecodeHashExtension(der);
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(*back, d);
      EXPECT_EQ(EncodeHashExtension(*back), der);
    }
  }
}

TEST(HashExtensionTest, Sha256EncodingIsDerExact) {
  const Digest d = HashBytes(HashAlgorithm::kSha256, "abc");
  const Bytes expected =
      Hex("302f"                    // SEQUENCE, 47 bytes
          "300b"                    //   AlgorithmIdentifier, 11 bytes (no parameters)
          "0609608648016503040201"  //     id-sha256
          "0420"                    //   OCTET STRING, 32 bytes
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(EncodeHashExtension(d)), HexEncode(expected));
  EXPECT_EQ(EncodeHashExtension(d), HashExt(kSha256Oid, d.bytes));
}

TEST(HashExtensionTest, Sha512EncodingIsDerExact) {
  const Digest d = Filled(HashAlgorithm::kSha512, 0xab);
  const Bytes expected = Cat({Hex("304f"                    // SEQUENCE, 79 bytes
                                  "300b"                    //   AlgorithmIdentifier
                                  "0609608648016503040203"  //     id-sha512
                                  "0440"),                  //   OCTET STRING, 64 bytes
                              Bytes(64, 0xab)});
  EXPECT_EQ(HexEncode(EncodeHashExtension(d)), HexEncode(expected));
}

TEST(HashExtensionTest, AcceptsNullParameters) {
  const Digest d = HashBytes(HashAlgorithm::kSha512, "abc");
  const Bytes with_null = Seq({Seq({kSha512Oid, Null()}), Octets(d.bytes)});
  Result<Digest> back = DecodeHashExtension(with_null);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
}

TEST(HashExtensionTest, RejectsTrailingBytes) {
  const Bytes good = EncodeHashExtension(HashBytes(HashAlgorithm::kSha256, "x"));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Cat({good, {0x00}}))));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Cat({good, good}))));
}

TEST(HashExtensionTest, RejectsEveryTruncation) {
  for (HashAlgorithm alg : {HashAlgorithm::kSha256, HashAlgorithm::kSha512}) {
    const Bytes good = EncodeHashExtension(HashBytes(alg, "x"));
    for (size_t len = 0; len < good.size(); ++len) {
      EXPECT_TRUE(IsInvalid(DecodeHashExtension(Bytes(good.begin(), good.begin() + len))))
          << HashAlgorithmName(alg) << " prefix of " << len << " bytes";
    }
  }
}

TEST(HashExtensionTest, RejectsDigestLengthThatDoesNotFitTheAlgorithm) {
  for (size_t n : {0, 1, 20, 31, 33, 48, 64}) {
    EXPECT_TRUE(IsInvalid(DecodeHashExtension(HashExt(kSha256Oid, Bytes(n, 1))), "digest"))
        << "sha256 with " << n << " bytes";
  }
  for (size_t n : {0, 32, 48, 63, 65, 128}) {
    EXPECT_TRUE(IsInvalid(DecodeHashExtension(HashExt(kSha512Oid, Bytes(n, 1))), "digest"))
        << "sha512 with " << n << " bytes";
  }
}

TEST(HashExtensionTest, RejectsUnknownHashAlgorithms) {
  struct Case {
    const char* name;
    Bytes oid;
    size_t digest_size;
  };
  for (const Case& c :
       {Case{"sha1", kSha1Oid, 20}, Case{"md5", kMd5Oid, 16}, Case{"sha384", kSha384Oid, 48},
        Case{"sha224", kSha224Oid, 28}, Case{"sha3-256 (right length)", kSha3_256Oid, 32},
        Case{"sha1 with sha256 length", kSha1Oid, 32},
        Case{"rsaEncryption", Oid({1, 2, 840, 113549, 1, 1, 1}), 32},
        Case{"sitechain arc", Oid({1, 3, 6, 1, 4, 1, 32473, 17, 1}), 32}}) {
    EXPECT_TRUE(
        IsInvalid(DecodeHashExtension(HashExt(c.oid, Bytes(c.digest_size, 7))), "algorithm"))
        << c.name;
  }
}

TEST(HashExtensionTest, RejectsWrongOuterTag) {
  const Bytes inner = Cat({Seq({kSha256Oid}), Octets(Bytes(32, 1))});
  for (uint8_t tag : {0x31 /* SET */, 0xA0 /* [0] */, 0x10 /* primitive SEQUENCE */,
                      0x04 /* OCTET STRING */, 0x0C /* UTF8String */}) {
    EXPECT_TRUE(IsInvalid(DecodeHashExtension(Tlv(tag, inner)))) << std::hex << int{tag};
  }
}

TEST(HashExtensionTest, RejectsWrongInnerTypes) {
  const Bytes digest(32, 1);
  // Digest as BIT STRING, as UTF8String, or as an INTEGER.
  EXPECT_TRUE(
      IsInvalid(DecodeHashExtension(Seq({Seq({kSha256Oid}), Tlv(0x03, Cat({{0}, digest}))}))));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Seq({kSha256Oid}), Tlv(0x0C, digest)}))));
  // AlgorithmIdentifier as a bare OID (not wrapped in a SEQUENCE), or as a SET.
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({kSha256Oid, Octets(digest)}))));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Tlv(0x31, kSha256Oid), Octets(digest)}))));
  // Fields in the wrong order.
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Octets(digest), Seq({kSha256Oid})}))));
}

TEST(HashExtensionTest, RejectsUnexpectedParameters) {
  const Bytes digest(32, 1);
  for (const Bytes& params : {Octets({}), Cat({Null(), Null()}), IntegerRaw("00"), Seq({})}) {
    EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Seq({kSha256Oid, params}), Octets(digest)}))))
        << HexEncode(params);
  }
}

TEST(HashExtensionTest, RejectsMissingOrExtraFields) {
  const Bytes digest(32, 1);
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Seq({kSha256Oid})}))));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Octets(digest)}))));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({}))));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Seq({kSha256Oid}), Octets(digest), Null()}))));
  EXPECT_TRUE(
      IsInvalid(DecodeHashExtension(Seq({Seq({kSha256Oid}), Octets(digest), Octets(digest)}))));
}

// BER is not DER: the same value with a non-minimal form must not decode, or two certificates
// could carry "the same" extension in different bytes.
TEST(HashExtensionTest, RejectsNonDerForms) {
  const Bytes digest = HashBytes(HashAlgorithm::kSha256, "abc").bytes;
  const Bytes alg = Seq({kSha256Oid});
  const Bytes body = Cat({alg, Octets(digest)});
  // Long-form outer length for a short value.
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Cat({Hex("30812f"), body}))));
  // Long-form length on the OCTET STRING.
  const Bytes long_octets = Cat({Hex("048120"), digest});
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(
      Cat({{0x30, static_cast<uint8_t>(alg.size() + long_octets.size())}, alg, long_octets}))));
  // Indefinite length.
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Cat({Hex("3080"), body, Hex("0000")}))));
  // A constructed OCTET STRING holding the digest in two pieces.
  const Bytes pieces = Tlv(0x24, Cat({Octets(Bytes(digest.begin(), digest.begin() + 16)),
                                      Octets(Bytes(digest.begin() + 16, digest.end()))}));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({alg, pieces}))));
  // The id-sha256 OID with its last arc padded (0x80 0x01 instead of 0x01).
  const Bytes padded_oid = Hex("060a60864801650304028001");
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Seq({Seq({padded_oid}), Octets(digest)}))));
}

TEST(HashExtensionTest, RejectsEmptyAndOversizedInput) {
  EXPECT_TRUE(IsInvalid(DecodeHashExtension({})));
  const Bytes huge = HashExt(kSha256Oid, Bytes(kMaxExtensionValueBytes, 1));
  ASSERT_GT(huge.size(), kMaxExtensionValueBytes);
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(huge)));
  EXPECT_TRUE(IsInvalid(DecodeHashExtension(Bytes(kMaxExtensionValueBytes + 1, 0x30))));
}

// ============================== serviceRelease ==============================

ServiceRelease Release(std::string name, std::string version, uint64_t counter) {
  ServiceRelease r;
  r.name = std::move(name);
  r.version = std::move(version);
  r.release_counter = counter;
  return r;
}

constexpr uint64_t kMaxCounter = (uint64_t{1} << 63) - 1;

TEST(ServiceReleaseTest, RoundTrips) {
  for (const ServiceRelease& r :
       {Release("hello", "1.2.3", 7), Release("hello", "1.2.3", 0),
        Release("hello", "1.2.3", kMaxCounter), Release("a", "1", 127), Release("a", "1", 128),
        Release("a", "1", 255), Release("a", "1", 256), Release("a", "1", uint64_t{1} << 32),
        Release("a", "1", uint64_t{1} << 62), Release("0svc", "v", 1),
        Release("temp-sensor_v2.eu", "1.0.0-rc.1+build.5", 42),
        Release(std::string(kMaxServiceNameBytes, 'n'), std::string(kMaxVersionBytes, 'v'), 9),
        Release("x", "!~#%&'()*,/:;<=>?@[]^`{|}\"\\$", 3)}) {
    ASSERT_TRUE(ValidateServiceRelease(r).ok()) << r.name << " " << r.version;
    Result<Bytes> der = EncodeServiceRelease(r);
    ASSERT_TRUE(der.ok()) << der.status().ToString();
    EXPECT_LE(der->size(), kMaxExtensionValueBytes);
    Result<ServiceRelease> back = DecodeServiceRelease(*der);
    ASSERT_TRUE(back.ok()) << r.name << " " << r.release_counter << ": "
                           << back.status().ToString();
    EXPECT_EQ(*back, r);
  }
}

TEST(ServiceReleaseTest, EncodingIsDerExact) {
  Result<Bytes> der = EncodeServiceRelease(Release("hello", "1.2.3", 7));
  ASSERT_TRUE(der.ok()) << der.status().ToString();
  EXPECT_EQ(HexEncode(*der),
            "3011"            // SEQUENCE, 17 bytes
            "0c0568656c6c6f"  //   UTF8String "hello"
            "0c05312e322e33"  //   UTF8String "1.2.3"
            "020107");        //   INTEGER 7
}

TEST(ServiceReleaseTest, CounterEncodingsAreMinimal) {
  struct Case {
    uint64_t counter;
    const char* integer_hex;
  };
  for (const Case& c :
       {Case{0, "020100"}, Case{1, "020101"}, Case{127, "02017f"}, Case{128, "02020080"},
        Case{255, "020200ff"}, Case{256, "02020100"}, Case{kMaxCounter, "02087fffffffffffffff"},
        Case{uint64_t{1} << 62, "02084000000000000000"}}) {
    Result<Bytes> der = EncodeServiceRelease(Release("a", "1", c.counter));
    ASSERT_TRUE(der.ok()) << der.status().ToString();
    const Bytes expected = Seq({Utf8("a"), Utf8("1"), Hex(c.integer_hex)});
    EXPECT_EQ(HexEncode(*der), HexEncode(expected)) << c.counter;
  }
}

TEST(ServiceReleaseTest, ValidateRefusesBadNames) {
  for (const std::string& name :
       {std::string(), std::string("Hello"), std::string("HELLO"), std::string("-svc"),
        std::string(".svc"), std::string("_svc"), std::string("my svc"), std::string("a/b"),
        std::string("a:b"), std::string("café"), std::string("a\nb"), std::string("a\0b", 3),
        std::string("svc\t"), std::string(kMaxServiceNameBytes + 1, 'n')}) {
    const ServiceRelease r = Release(name, "1.0", 1);
    Status s = ValidateServiceRelease(r);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "'" << name << "'";
    EXPECT_TRUE(IsInvalid(EncodeServiceRelease(r), "name")) << "'" << name << "'";
  }
}

TEST(ServiceReleaseTest, ValidateRefusesBadVersions) {
  for (const std::string& version :
       {std::string(), std::string("1.0 beta"), std::string(" 1.0"), std::string("1.0\n"),
        std::string("1.0\t"), std::string("1.\x7f"), std::string("1.0\0", 4), std::string("1.0é"),
        std::string(kMaxVersionBytes + 1, 'v')}) {
    const ServiceRelease r = Release("svc", version, 1);
    Status s = ValidateServiceRelease(r);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "'" << version << "'";
    EXPECT_TRUE(IsInvalid(EncodeServiceRelease(r), "version")) << "'" << version << "'";
  }
}

TEST(ServiceReleaseTest, ValidateRefusesCounterFrom2To63) {
  for (uint64_t counter : {uint64_t{1} << 63, (uint64_t{1} << 63) + 1, UINT64_MAX}) {
    const ServiceRelease r = Release("svc", "1", counter);
    EXPECT_EQ(ValidateServiceRelease(r).code(), StatusCode::kInvalidArgument) << counter;
    EXPECT_TRUE(IsInvalid(EncodeServiceRelease(r), "counter")) << counter;
  }
  EXPECT_TRUE(ValidateServiceRelease(Release("svc", "1", kMaxCounter)).ok());
}

Bytes ReleaseDer(std::string_view name, std::string_view version, std::string_view integer_hex) {
  return Seq({Utf8(name), Utf8(version), IntegerRaw(integer_hex)});
}

TEST(ServiceReleaseTest, HandBuiltValidEncodingDecodes) {
  Result<ServiceRelease> r = DecodeServiceRelease(ReleaseDer("svc", "2.0", "0100"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Release("svc", "2.0", 256));
}

TEST(ServiceReleaseTest, RejectsNegativeCounter) {
  for (const char* integer : {"ff", "80", "ff00", "8000000000000000", "ffffffffffffffff"}) {
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(ReleaseDer("svc", "1", integer)), "counter"))
        << integer;
  }
}

TEST(ServiceReleaseTest, RejectsCounterFrom2To63) {
  for (const char* integer : {"008000000000000000", "00ffffffffffffffff", "010000000000000000",
                              "7fffffffffffffffffffffffffffffff"}) {
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(ReleaseDer("svc", "1", integer)), "counter"))
        << integer;
  }
}

TEST(ServiceReleaseTest, RejectsNonMinimalOrEmptyInteger) {
  for (const char* integer : {"", "0007", "0000", "00000000000000000001", "ff80"}) {
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(ReleaseDer("svc", "1", integer)))) << integer;
  }
}

TEST(ServiceReleaseTest, RejectsOversizedFields) {
  EXPECT_TRUE(IsInvalid(
      DecodeServiceRelease(ReleaseDer(std::string(kMaxServiceNameBytes + 1, 'n'), "1", "01")),
      "name"));
  EXPECT_TRUE(IsInvalid(
      DecodeServiceRelease(ReleaseDer("svc", std::string(kMaxVersionBytes + 1, 'v'), "01")),
      "version"));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(ReleaseDer(std::string(5000, 'n'), "1", "01"))));
  const Bytes huge = ReleaseDer("svc", std::string(kMaxExtensionValueBytes, 'v'), "01");
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(huge)));
}

TEST(ServiceReleaseTest, RejectsInvalidNamesAndVersions) {
  for (const std::string& name :
       {std::string(), std::string("Hello"), std::string("-svc"), std::string("my svc"),
        std::string("a/b"), std::string("café"), std::string("a\0b", 3)}) {
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(ReleaseDer(name, "1", "01")), "name"))
        << "'" << name << "'";
  }
  for (const std::string& version :
       {std::string(), std::string("1 0"), std::string("1.0\n"), std::string("1\0", 2)}) {
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(ReleaseDer("svc", version, "01")), "version"))
        << "'" << version << "'";
  }
}

TEST(ServiceReleaseTest, RejectsWrongTypes) {
  const Bytes name = Utf8("svc"), version = Utf8("1"), counter = IntegerRaw("01");
  // Outer tag other than SEQUENCE.
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Tlv(0x31, Cat({name, version, counter})))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Tlv(0xA0, Cat({name, version, counter})))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Tlv(0x04, Cat({name, version, counter})))));
  // Strings that are not UTF8String: PrintableString, IA5String, OCTET STRING, BMPString.
  for (uint8_t tag : {0x13, 0x16, 0x04, 0x1E}) {
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({Tlv(tag, Raw("svc")), version, counter}))))
        << std::hex << int{tag};
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, Tlv(tag, Raw("1")), counter}))))
        << std::hex << int{tag};
  }
  // Counter as ENUMERATED, as a UTF8String, as a BOOLEAN.
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, version, Tlv(0x0A, {1})}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, version, Utf8("1")}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, version, Tlv(0x01, {0xff})}))));
}

TEST(ServiceReleaseTest, RejectsMissingExtraAndReorderedFields) {
  const Bytes name = Utf8("svc"), version = Utf8("1"), counter = IntegerRaw("01");
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, version}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, counter}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, version, counter, counter}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({name, version, counter, Null()}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Seq({counter, name, version}))));
}

TEST(ServiceReleaseTest, RejectsTrailingBytes) {
  const Bytes good = ReleaseDer("svc", "1", "01");
  ASSERT_TRUE(DecodeServiceRelease(good).ok());
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Cat({good, {0x00}}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Cat({good, Null()}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Cat({good, good}))));
}

TEST(ServiceReleaseTest, RejectsEveryTruncation) {
  Result<Bytes> good = EncodeServiceRelease(Release("temp-sensor", "1.4.2", 1234567));
  ASSERT_TRUE(good.ok());
  for (size_t len = 0; len < good->size(); ++len) {
    EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Bytes(good->begin(), good->begin() + len))))
        << "prefix of " << len << " bytes";
  }
}

TEST(ServiceReleaseTest, RejectsNonDerLengths) {
  const Bytes body = Cat({Utf8("svc"), Utf8("1"), IntegerRaw("01")});
  EXPECT_TRUE(IsInvalid(
      DecodeServiceRelease(Cat({{0x30, 0x81, static_cast<uint8_t>(body.size())}, body}))));
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(Cat({Hex("3080"), body, Hex("0000")}))));
  const Bytes long_name = Cat({Hex("0c8103"), Raw("svc")});
  const Bytes rest = Cat({Utf8("1"), IntegerRaw("01")});
  EXPECT_TRUE(IsInvalid(DecodeServiceRelease(
      Cat({{0x30, static_cast<uint8_t>(long_name.size() + rest.size())}, long_name, rest}))));
}

// ================================ sitePolicy ================================

// A JSON object of exactly n bytes (n >= 8): {"p":"…"} padded with the letter x.
std::string PolicyOfSize(size_t n) { return "{\"p\":\"" + std::string(n - 8, 'x') + "\"}"; }

TEST(SitePolicyTest, RoundTrips) {
  for (const std::string& policy :
       {std::string("{}"), std::string("{\"args\":[\"--port\",\"8080\"]}"),
        std::string("{\"env\":{\"LOG\":\"debug\"},\"max_mem_mb\":64,\"net\":false}"),
        std::string("{\"greeting\":\"h\xc3\xa9llo \xe2\x98\x83\"}"), PolicyOfSize(9),
        PolicyOfSize(kMaxSitePolicyBytes)}) {
    Result<Bytes> der = EncodeSitePolicy(policy);
    ASSERT_TRUE(der.ok()) << policy.size() << ": " << der.status().ToString();
    EXPECT_LE(der->size(), kMaxExtensionValueBytes);
    Result<std::string> back = DecodeSitePolicy(*der);
    ASSERT_TRUE(back.ok()) << policy.size() << ": " << back.status().ToString();
    EXPECT_EQ(*back, policy);
  }
}

TEST(SitePolicyTest, EncodingIsDerExact) {
  Result<Bytes> empty = EncodeSitePolicy("{}");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(HexEncode(*empty), "0c027b7d");  // UTF8String "{}"

  Result<Bytes> small = EncodeSitePolicy("{\"a\":1}");
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(HexEncode(*small), "0c077b2261223a317d");

  const std::string big = PolicyOfSize(kMaxSitePolicyBytes);
  ASSERT_EQ(big.size(), 4096u);
  Result<Bytes> der = EncodeSitePolicy(big);
  ASSERT_TRUE(der.ok()) << der.status().ToString();
  EXPECT_EQ(HexEncode(*der), HexEncode(Cat({Hex("0c821000"), Raw(big)})));
}

TEST(SitePolicyTest, EncodeRefusesOversizedPolicy) {
  EXPECT_TRUE(IsInvalid(EncodeSitePolicy(PolicyOfSize(kMaxSitePolicyBytes + 1)), "policy"));
  EXPECT_TRUE(IsInvalid(EncodeSitePolicy(PolicyOfSize(3 * kMaxExtensionValueBytes))));
}

const std::vector<std::string>& NotJsonObjects() {
  static const auto* cases = new std::vector<std::string>{"",
                                                          "[]",
                                                          "[{}]",
                                                          "\"{}\"",
                                                          "42",
                                                          "null",
                                                          "true",
                                                          "{",
                                                          "}",
                                                          "{}}",
                                                          "{} {}",
                                                          "{}x",
                                                          "{\"a\":}",
                                                          "{\"a\" 1}",
                                                          "{'a':1}",
                                                          "{a:1}",
                                                          "{\"a\":1,}",
                                                          "{\"\xff\":1}",
                                                          "{\"a\":\"\xc3\"}",
                                                          std::string("{}\0", 3),
                                                          std::string("{}\0{\"hidden\":1}", 15),
                                                          std::string("{\"a\":\"\0\"}", 9)};
  return *cases;
}

TEST(SitePolicyTest, EncodeRefusesAnythingButAJsonObject) {
  for (const std::string& text : NotJsonObjects()) {
    EXPECT_TRUE(IsInvalid(EncodeSitePolicy(text), "policy")) << HexEncode(text);
  }
}

TEST(SitePolicyTest, DecodeRefusesAnythingButAJsonObject) {
  for (const std::string& text : NotJsonObjects()) {
    EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Utf8(text)), "policy")) << HexEncode(text);
  }
}

TEST(SitePolicyTest, DecodeRefusesOversizedPolicy) {
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Utf8(PolicyOfSize(kMaxSitePolicyBytes + 1))), "policy"));
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Utf8(PolicyOfSize(kMaxExtensionValueBytes)))));
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Utf8(PolicyOfSize(2 * kMaxExtensionValueBytes)))));
}

TEST(SitePolicyTest, DecodeRefusesWrongTag) {
  // OCTET STRING, PrintableString, IA5String, BMPString, a SEQUENCE holding the UTF8String.
  for (uint8_t tag : {0x04, 0x13, 0x16, 0x1E, 0x8C}) {
    EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Tlv(tag, Raw("{}"))))) << std::hex << int{tag};
  }
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Seq({Utf8("{}")}))));
}

TEST(SitePolicyTest, DecodeRefusesTrailingBytes) {
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Hex("0c027b7d00"))));
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Hex("0c027b7d0c027b7d"))));
}

TEST(SitePolicyTest, DecodeRefusesEveryTruncation) {
  const Bytes good = Utf8("{\"args\":[\"--port\",\"8080\"]}");
  ASSERT_TRUE(DecodeSitePolicy(good).ok());
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Bytes(good.begin(), good.begin() + len))))
        << "prefix of " << len << " bytes";
  }
}

TEST(SitePolicyTest, DecodeRefusesNonDerLengths) {
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Hex("0c81027b7d"))));
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Hex("0c8200027b7d"))));
  EXPECT_TRUE(IsInvalid(DecodeSitePolicy(Hex("2c800c027b7d0000"))));  // constructed, indefinite
}

}  // namespace
}  // namespace sitechain::pki
