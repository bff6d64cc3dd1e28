#include "pki/key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/hex.h"
#include "common/random.h"
#include "tests/common/temp_dir.h"

namespace sitechain::pki {
namespace {

using testutil::ModeOf;
using testutil::ReadWholeFile;
using testutil::TempDir;
using testutil::WriteWholeFile;

constexpr const char* kPassphrase = "correct horse battery staple";

// One key per type, generated once per test program from a fixed seed (RSA keygen is slow).
const PrivateKey& CachedKey(KeyType type) {
  static auto* keys = new std::map<KeyType, PrivateKey>();
  auto it = keys->find(type);
  if (it == keys->end()) {
    SeededRandom rng(1000 + static_cast<uint64_t>(type));
    it = keys->emplace(type, PrivateKey::Generate(type, rng)).first;
  }
  return it->second;
}

std::vector<uint8_t> Bytes(const std::string& hex) {
  Result<std::vector<uint8_t>> r = HexDecode(hex);
  EXPECT_TRUE(r.ok()) << hex;
  return r.ok() ? *r : std::vector<uint8_t>{};
}

// Decodes the base64 body of the first PEM block in text (test helper; no validation).
std::vector<uint8_t> PemBody(const std::string& text) {
  const size_t begin = text.find('\n', text.find("-----BEGIN"));
  const size_t end = text.find("-----END");
  if (begin == std::string::npos || end == std::string::npos) return {};
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = begin; i < end; ++i) {
    const char c = text[i];
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
    } else {
      continue;  // newlines and '=' padding
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

// A PEM block of der under label (test helper).
std::string ToPemBlock(const std::vector<uint8_t>& der, const std::string& label) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < der.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(der[i]) << 16;
    if (i + 1 < der.size()) n |= static_cast<uint32_t>(der[i + 1]) << 8;
    if (i + 2 < der.size()) n |= der[i + 2];
    b64 += kAlphabet[(n >> 18) & 63];
    b64 += kAlphabet[(n >> 12) & 63];
    b64 += i + 1 < der.size() ? kAlphabet[(n >> 6) & 63] : '=';
    b64 += i + 2 < der.size() ? kAlphabet[n & 63] : '=';
  }
  std::string out = "-----BEGIN " + label + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + label + "-----\n";
}

bool Contains(const std::vector<uint8_t>& haystack, const std::vector<uint8_t>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

// SubjectPublicKeyInfos of keys sitechain does not support, made with OpenSSL 3.
constexpr const char* kRsa1024Spki =
    "30819f300d06092a864886f70d010101050003818d0030818902818100bbbf449c7a83f7873f742afdd89299a3ff"
    "41a0c4c3a2d1022109fd8e43e1e1440a26a6d579ecd24ccd41190964126475515e697933899d3454d4b03feb3662"
    "a805a24132902acb6dac55d628ffa746622b2261de8984b7a1af435d63d8b014c2f3992ad8c34cd4587267b47d9f"
    "8721f2352e7d0948a7df433e2ddd5501071bb90203010001";
constexpr const char* kP384Spki =
    "3076301006072a8648ce3d020106052b81040022036200049268e6103acb32f997fdf4925c4ffab17a5d9e3ebec2"
    "bcfb986b636e77392dea41e66bc4956e3cd8b0e404331241e6b8ec1113a793b842f718a62ea5e7d0b7a45320ea7d"
    "cc513759a87386e2318511dd76b644196f6247b2588285ab99a25013";
constexpr const char* kX25519Spki =
    "302a300506032b656e032100610de30c763c1eea01b125d22092bf1e70986cf7e68926c37723851bb30ba201";

// --- names ---

TEST(KeyTypeNameTest, NamesRoundTrip) {
  EXPECT_EQ(KeyTypeName(KeyType::kEd25519), "ed25519");
  EXPECT_EQ(KeyTypeName(KeyType::kEcdsaP256), "ecdsa-p256");
  EXPECT_EQ(KeyTypeName(KeyType::kRsa2048), "rsa-2048");
  EXPECT_EQ(KeyTypeName(KeyType::kRsa3072), "rsa-3072");
  for (KeyType t : {KeyType::kEd25519, KeyType::kEcdsaP256, KeyType::kRsa2048, KeyType::kRsa3072}) {
    Result<KeyType> parsed = ParseKeyType(KeyTypeName(t));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, t);
  }
}

TEST(KeyTypeNameTest, RefusesUnknownNames) {
  for (const char* name : {"", "rsa", "rsa-1024", "rsa-4096", "ecdsa", "ecdsa-p384", "dsa", "ed448",
                           "x25519", "ed25519 ", " ed25519", "rsa_2048", "ed25519\n"}) {
    Result<KeyType> parsed = ParseKeyType(name);
    EXPECT_FALSE(parsed.ok()) << "'" << name << "' accepted";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << name;
      EXPECT_FALSE(parsed.status().message().empty());
    }
  }
}

// --- per key type (RSA-3072 has its own single test below) ---

class PrivateKeyRoundTripTest : public ::testing::TestWithParam<KeyType> {
 protected:
  const PrivateKey& key() const { return CachedKey(GetParam()); }
  TempDir dir_;
  SeededRandom rng_{77};
};

std::string ParamName(const ::testing::TestParamInfo<KeyType>& info) {
  std::string name(KeyTypeName(info.param));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(FastTypes, PrivateKeyRoundTripTest,
                         ::testing::Values(KeyType::kEd25519, KeyType::kEcdsaP256,
                                           KeyType::kRsa2048),
                         ParamName);

TEST_P(PrivateKeyRoundTripTest, GenerateMakesRequestedType) {
  EXPECT_EQ(key().type(), GetParam());
  const std::vector<uint8_t> spki = key().PublicKeyDer();
  ASSERT_FALSE(spki.empty());
  EXPECT_EQ(spki[0], 0x30);  // a DER SEQUENCE
  Result<KeyType> classified = PublicKeyType(spki);
  ASSERT_TRUE(classified.ok()) << classified.status().ToString();
  EXPECT_EQ(*classified, GetParam());
}

TEST_P(PrivateKeyRoundTripTest, SaveLoadRoundTrip) {
  const std::string path = dir_.Path("key.pem");
  ASSERT_TRUE(key().Save(path, std::nullopt, rng_).ok());
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(ReadWholeFile(path).rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);

  Result<PrivateKey> loaded = PrivateKey::Load(path, std::nullopt);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->type(), GetParam());
  EXPECT_EQ(loaded->PublicKeyDer(), key().PublicKeyDer());
}

TEST_P(PrivateKeyRoundTripTest, EncryptedSaveLoadRoundTrip) {
  const std::string path = dir_.Path("key.pem");
  ASSERT_TRUE(key().Save(path, std::string(kPassphrase), rng_).ok());
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(ReadWholeFile(path).rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----", 0), 0u);

  Result<PrivateKey> loaded = PrivateKey::Load(path, std::string(kPassphrase));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->type(), GetParam());
  EXPECT_EQ(loaded->PublicKeyDer(), key().PublicKeyDer());
}

TEST_P(PrivateKeyRoundTripTest, PemRoundTrip) {
  for (const std::optional<std::string>& pass :
       {std::optional<std::string>(), std::optional<std::string>(kPassphrase)}) {
    const std::string pem = key().ToPem(pass, rng_);
    Result<PrivateKey> back = PrivateKey::FromPem(pem, pass);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->type(), GetParam());
    EXPECT_EQ(back->PublicKeyDer(), key().PublicKeyDer());
  }
}

TEST_P(PrivateKeyRoundTripTest, SignVerify) {
  const std::vector<uint8_t> spki = key().PublicKeyDer();
  const std::string message = "install hello 1.2.3 on node-7";
  const std::vector<uint8_t> sig = SignMessage(key(), message, rng_);
  ASSERT_FALSE(sig.empty());
  EXPECT_TRUE(VerifyMessage(spki, message, sig));

  // Any flipped bit in the signature breaks it.
  for (size_t pos : {size_t{0}, sig.size() / 2, sig.size() - 1}) {
    std::vector<uint8_t> bad = sig;
    bad[pos] ^= 0x01;
    EXPECT_FALSE(VerifyMessage(spki, message, bad)) << "flipped byte " << pos;
  }
  // So does any change to the message.
  std::string other = message;
  other[0] ^= 0x01;
  EXPECT_FALSE(VerifyMessage(spki, other, sig));
  EXPECT_FALSE(VerifyMessage(spki, message + " ", sig));
  EXPECT_FALSE(VerifyMessage(spki, "", sig));
  // Truncated, extended and empty signatures are refused, not a crash.
  EXPECT_FALSE(VerifyMessage(spki, message, std::vector<uint8_t>(sig.begin(), sig.end() - 1)));
  std::vector<uint8_t> longer = sig;
  longer.push_back(0);
  EXPECT_FALSE(VerifyMessage(spki, message, longer));
  EXPECT_FALSE(VerifyMessage(spki, message, {}));
}

TEST_P(PrivateKeyRoundTripTest, SignsEmptyAndBinaryMessages) {
  const std::vector<uint8_t> spki = key().PublicKeyDer();
  const std::string binary("\0\xff\0", 3);
  for (const std::string& m : {std::string(), binary, std::string(100000, 'q')}) {
    EXPECT_TRUE(VerifyMessage(spki, m, SignMessage(key(), m, rng_))) << m.size();
  }
}

TEST_P(PrivateKeyRoundTripTest, SignatureDoesNotVerifyUnderAnotherKey) {
  SeededRandom other_rng(4242);
  const PrivateKey other = GetParam() == KeyType::kRsa2048
                               ? PrivateKey::Generate(KeyType::kEd25519, other_rng)
                               : PrivateKey::Generate(GetParam(), other_rng);
  const std::string message = "m";
  const std::vector<uint8_t> sig = SignMessage(key(), message, rng_);
  EXPECT_FALSE(VerifyMessage(other.PublicKeyDer(), message, sig));
  for (KeyType t : {KeyType::kEd25519, KeyType::kEcdsaP256, KeyType::kRsa2048}) {
    if (t == GetParam()) continue;
    EXPECT_FALSE(VerifyMessage(CachedKey(t).PublicKeyDer(), message, sig)) << KeyTypeName(t);
  }
}

TEST_P(PrivateKeyRoundTripTest, LoadedKeySignsForOriginalPublicKey) {
  const std::string path = dir_.Path("key.pem");
  ASSERT_TRUE(key().Save(path, std::string(kPassphrase), rng_).ok());
  Result<PrivateKey> loaded = PrivateKey::Load(path, std::string(kPassphrase));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const std::vector<uint8_t> sig = SignMessage(*loaded, "after reload", rng_);
  EXPECT_TRUE(VerifyMessage(key().PublicKeyDer(), "after reload", sig));
}

// --- generation ---

TEST(PrivateKeyTest, GenerationIsReproduciblePerSeed) {
  for (KeyType t : {KeyType::kEd25519, KeyType::kEcdsaP256}) {
    SeededRandom a(5), b(5), c(6);
    const PrivateKey ka = PrivateKey::Generate(t, a);
    const PrivateKey kb = PrivateKey::Generate(t, b);
    const PrivateKey kc = PrivateKey::Generate(t, c);
    EXPECT_EQ(ka.PublicKeyDer(), kb.PublicKeyDer()) << KeyTypeName(t);
    EXPECT_NE(ka.PublicKeyDer(), kc.PublicKeyDer()) << KeyTypeName(t);
  }
}

TEST(PrivateKeyTest, MoveKeepsTheKey) {
  SeededRandom rng(8);
  PrivateKey a = PrivateKey::Generate(KeyType::kEd25519, rng);
  const std::vector<uint8_t> spki = a.PublicKeyDer();
  PrivateKey b(std::move(a));
  EXPECT_EQ(b.PublicKeyDer(), spki);
  PrivateKey c = PrivateKey::Generate(KeyType::kEcdsaP256, rng);
  c = std::move(b);
  EXPECT_EQ(c.type(), KeyType::kEd25519);
  EXPECT_EQ(c.PublicKeyDer(), spki);
}

TEST(PrivateKeyTest, Rsa3072) {
  SeededRandom rng(3072);
  const PrivateKey key = PrivateKey::Generate(KeyType::kRsa3072, rng);
  EXPECT_EQ(key.type(), KeyType::kRsa3072);
  Result<KeyType> classified = PublicKeyType(key.PublicKeyDer());
  ASSERT_TRUE(classified.ok()) << classified.status().ToString();
  EXPECT_EQ(*classified, KeyType::kRsa3072);

  const std::vector<uint8_t> sig = SignMessage(key, "rsa-3072", rng);
  EXPECT_EQ(sig.size(), 384u);
  EXPECT_TRUE(VerifyMessage(key.PublicKeyDer(), "rsa-3072", sig));
  std::vector<uint8_t> bad = sig;
  bad[100] ^= 0x80;
  EXPECT_FALSE(VerifyMessage(key.PublicKeyDer(), "rsa-3072", bad));

  TempDir dir;
  ASSERT_TRUE(key.Save(dir.Path("k.pem"), std::string(kPassphrase), rng).ok());
  Result<PrivateKey> loaded = PrivateKey::Load(dir.Path("k.pem"), std::string(kPassphrase));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->type(), KeyType::kRsa3072);
  EXPECT_EQ(loaded->PublicKeyDer(), key.PublicKeyDer());
}

// --- PEM form ---

TEST(PrivateKeyTest, EmptyPassphraseMeansUnencrypted) {
  SeededRandom rng(1);
  const std::string pem = CachedKey(KeyType::kEd25519).ToPem(std::string(), rng);
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  Result<PrivateKey> back = PrivateKey::FromPem(pem, std::nullopt);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
}

// PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256 at the fixed iteration count.
TEST(PrivateKeyTest, EncryptedPemUsesDocumentedScheme) {
  SeededRandom rng(2);
  const std::string pem = CachedKey(KeyType::kEd25519).ToPem(std::string(kPassphrase), rng);
  const std::vector<uint8_t> der = PemBody(pem);
  ASSERT_FALSE(der.empty());
  EXPECT_TRUE(Contains(der, Bytes("06092a864886f70d01050d"))) << "PBES2 OID";
  EXPECT_TRUE(Contains(der, Bytes("06092a864886f70d01050c"))) << "PBKDF2 OID";
  EXPECT_TRUE(Contains(der, Bytes("06082a864886f70d0209"))) << "hmacWithSHA256 OID";
  EXPECT_TRUE(Contains(der, Bytes("060960864801650304012a"))) << "aes256-CBC OID";
  EXPECT_TRUE(Contains(der, Bytes("02030186a0"))) << "iteration count 100000";
  static_assert(kKeyFilePbkdfIterations == 100000);
}

// --- Save ---

TEST(PrivateKeySaveTest, RefusesToOverwriteByDefault) {
  TempDir dir;
  SeededRandom rng(3);
  const std::string path = dir.Path("key.pem");
  ASSERT_TRUE(CachedKey(KeyType::kEd25519).Save(path, std::nullopt, rng).ok());
  const std::string before = ReadWholeFile(path);

  Status s = CachedKey(KeyType::kEcdsaP256).Save(path, std::nullopt, rng);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ(ReadWholeFile(path), before);

  ASSERT_TRUE(
      CachedKey(KeyType::kEcdsaP256).Save(path, std::nullopt, rng, /*overwrite=*/true).ok());
  Result<PrivateKey> loaded = PrivateKey::Load(path, std::nullopt);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->type(), KeyType::kEcdsaP256);
  EXPECT_EQ(ModeOf(path), 0600);
}

TEST(PrivateKeySaveTest, ModeIs0600EvenWithPermissiveUmask) {
  TempDir dir;
  SeededRandom rng(4);
  const mode_t old = ::umask(0);
  Status s = CachedKey(KeyType::kEd25519).Save(dir.Path("k.pem"), std::nullopt, rng);
  ::umask(old);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ModeOf(dir.Path("k.pem")), 0600);
}

TEST(PrivateKeySaveTest, MissingDirectoryFails) {
  TempDir dir;
  SeededRandom rng(4);
  Status s = CachedKey(KeyType::kEd25519).Save(dir.Path("nope/k.pem"), std::nullopt, rng);
  EXPECT_FALSE(s.ok());
}

// --- Load errors ---

class PrivateKeyLoadTest : public ::testing::Test {
 protected:
  std::string SaveKey(const std::string& name, const std::optional<std::string>& pass) {
    const std::string path = dir_.Path(name);
    Status s = CachedKey(KeyType::kEd25519).Save(path, pass, rng_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return path;
  }
  // Writes content to a new file with mode 0600.
  std::string WriteKeyFile(const std::string& name, const std::string& content) {
    const std::string path = dir_.Path(name);
    EXPECT_TRUE(WriteWholeFile(path, content));
    EXPECT_EQ(::chmod(path.c_str(), 0600), 0);
    return path;
  }

  TempDir dir_;
  SeededRandom rng_{9};
};

TEST_F(PrivateKeyLoadTest, WrongPassphraseIsUnauthenticated) {
  const std::string path = SaveKey("k.pem", std::string(kPassphrase));
  Result<PrivateKey> r = PrivateKey::Load(path, std::string("wrong horse"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().ToString();
}

TEST_F(PrivateKeyLoadTest, MissingPassphraseIsUnauthenticated) {
  const std::string path = SaveKey("k.pem", std::string(kPassphrase));
  Result<PrivateKey> r = PrivateKey::Load(path, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().ToString();
  Result<PrivateKey> empty = PrivateKey::Load(path, std::string());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kUnauthenticated) << empty.status().ToString();
}

TEST_F(PrivateKeyLoadTest, TruncatedFileIsDataLoss) {
  const std::string pem = ReadWholeFile(SaveKey("good.pem", std::nullopt));
  ASSERT_GT(pem.size(), 40u);
  for (size_t len : {pem.size() / 2, pem.size() - 20, size_t{10}}) {
    const std::string path = WriteKeyFile("t" + std::to_string(len), pem.substr(0, len));
    Result<PrivateKey> r = PrivateKey::Load(path, std::nullopt);
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << len << ": " << r.status().ToString();
  }
}

TEST_F(PrivateKeyLoadTest, EmptyOrGarbageFileIsDataLoss) {
  for (const std::string& content :
       {std::string(), std::string("not a key\n"),
        std::string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}) {
    const std::string path = WriteKeyFile("g.pem", content);
    Result<PrivateKey> r = PrivateKey::Load(path, std::nullopt);
    ASSERT_FALSE(r.ok()) << content;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << content << ": " << r.status().ToString();
  }
}

// A key file with one bit flipped in its body is refused (DATA_LOSS; INVALID_ARGUMENT if it became
// a key of an unsupported size or kind), or is still a key whose signatures verify: never one
// that loads and then signs wrongly or throws in the middle of a signature. Found by
// tests/fuzz/private_key_fuzz: an RSA key with a flipped bit loaded, and signing with it threw
// Botan's "RSA consistency check" out of SignMessage (std::terminate in a daemon).
TEST(PrivateKeyCorruptionTest, FlippedBitIsRefusedOrStillSignsCorrectly) {
  for (KeyType type : {KeyType::kEd25519, KeyType::kEcdsaP256, KeyType::kRsa2048}) {
    SeededRandom rng(7);
    const std::vector<uint8_t> der = PemBody(CachedKey(type).ToPem(std::nullopt, rng));
    ASSERT_FALSE(der.empty());
    size_t refused = 0, tried = 0;
    const size_t stride = type == KeyType::kRsa2048 ? 5 : 1;  // RSA: ~240 of its ~1200 bytes
    for (size_t i = 0; i < der.size(); i += stride) {
      for (int bit : {0, 7}) {
        std::vector<uint8_t> bad = der;
        bad[i] ^= static_cast<uint8_t>(1u << bit);
        ++tried;
        Result<PrivateKey> r = PrivateKey::FromPem(ToPemBlock(bad, "PRIVATE KEY"), std::nullopt);
        if (!r.ok()) {
          ++refused;
          EXPECT_TRUE(r.status().code() == StatusCode::kDataLoss ||
                      r.status().code() == StatusCode::kInvalidArgument)
              << KeyTypeName(type) << " byte " << i << " bit " << bit << ": "
              << r.status().ToString();
          continue;
        }
        const std::vector<uint8_t> signature = SignMessage(*r, "message", rng);
        EXPECT_TRUE(VerifyMessage(r->PublicKeyDer(), "message", signature))
            << KeyTypeName(type) << " byte " << i << " bit " << bit << " loaded and signs wrongly";
      }
    }
    // Ed25519 keeps only its 32-byte seed: a flipped seed bit is another valid key.
    EXPECT_GT(refused, type == KeyType::kEd25519 ? 0 : tried / 2) << KeyTypeName(type);
  }
}

// An RSA-2048 key with one bit flipped by tests/fuzz/private_key_fuzz (corpus/private_key/
// rsa-flipped-bit.pem): it used to load, and signing with it then threw.
constexpr const char* kRsaFlippedBitPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCpqpWb/u3/rSgk\n"
    "wj9PdLAK0ridTAq8oNI1tQwmZHrzdB3vIeNioSzbzQk4CbpfKjabOka77o7AYzRG\n"
    "dBzPfYO1sJuazShoa6eVS7OPcDwUhyvhT09SoabEMXWuI+lvGTHOvxg7eV47lN0w\n"
    "aAmnk3JjbOyH0gzexgxjY9FTXtTRXu59b5gCmla+aQcxuRdxGlFZL4Nbcw3wupre\n"
    "wZIdij4MzSwo0A8VBgGCku0ELIm68ecYZ+M3V9v+Zh1xeohmihl5kjT8x+lw4ISZ\n"
    "KnmPJ0lTXxVfB0W1mBoWwRfk59SqWGDzCbxD/abaYAW294/THRh3vPlcsjeVJYi1\n"
    "fgDjuNg1AgMBAAECggEAAkk1GNP3evFnUA958OUelha+vAfRQTddfbHBxyalbXBM\n"
    "EvO+745CX3fEvweKhku4TqEbYN7W94qeorBfzv/e7WzCu/Q1rip9KIrLkYwukww7\n"
    "MB70b6WT7KLJ9h2vwHpzbFiwx+Rbu6vGyycrsiFPcj1+dloDKGE8u34VzOzDK0r5\n"
    "ho0pJZf2kNt+VmWLadKrVN+myw3zjbRL3CiP5jedyOyd1LtP9kMKrnIGakE0DpBJ\n"
    "DBR2i+ri4aLG4DK33HSl3JFtgNscCzvNt5lvHcxXg2unfRtc303sI5sJS2shEO6C\n"
    "/I/2evCBKOUfsz0U5h4nWuPf9Z0+kT61hfCniZIDYQKBgQDZu6cyHfpcBpr3INc8\n"
    "akY6HKhf3ewdtihksaYlZiMITALz3Vxu6GKPSMkWX/zstfJg5Q9el9ZmSiNVNPqj\n"
    "BX9zeeGfjar1ROnFcjtoud9/fGv8QhkHmLnspwLuIJL1O7fq/Hv5TELlsa5Fenfe\n"
    "58z8B/Ly/KyCXnfBJen/kgI3+QKBgQDHfErzJ9rJe8Ytq3G2GaY9DwPmsTUBJN7g\n"
    "hIpylCxa/wGqbCvQbLW6RlcR/nZDgGe39gZJ8uCcsSu66EAYpQZ/YHB9lAuWbYe4\n"
    "qDHUdlfvBLVfDZufCvPLABKPG3mNXe8NkfdHx5tqESDobiN02QhdE4cYycjFmOG+\n"
    "GF6FdTbJHQKBgBZJMs/aaanJs0rgPaedaRrBnCpT2LshzfighlUfo0hSH2s+mRtx\n"
    "BcWMuahkosrHxMtOJsiT2goWRI+QIKdXBLiZHRLruTfpmdPv4UzS2aF+5r6nNVCl\n"
    "vUIPxikBhIk9V5Hhzf6yY5aHHUNXSbWzHDQfzCo62p1tdex7KPxTwY5hAoGASMUD\n"
    "hk38ltFLCu/mrDoRFWb70lTEdCViFF7lLkT1JUCu99874G03obr1GkBMHfWiYE4k\n"
    "Hye1XhOXUzhT4WmZxC+G+Zhe3cIY53ibrNh63VtHWmRZZ5wUMPJW0tN/9NzWTon3\n"
    "vbyH6hpTedZror1lOqbb+mPplINfnfu/x0lp8dUCgYEAsHrA/YXe7+wGX4DuiaFW\n"
    "YF8891TH6KsAL3pUMmdrSWyfNMXv4Ul8q3NyoUCyrO56tBuETzQrm6dMn3s4H95t\n"
    "k59VifLxDRGIGlE+Z5SxJzskqzgv7HWupyb/62cHj5C+MSPWWYeawi7ECOoDLagF\n"
    "Uit0M4rfhtmABCR8BcSVE9k=\n"
    "-----END PRIVATE KEY-----\n";

TEST(PrivateKeyCorruptionTest, RsaKeyWithInconsistentNumbersIsDataLoss) {
  Result<PrivateKey> r = PrivateKey::FromPem(kRsaFlippedBitPem, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
  EXPECT_NE(r.status().message().find("do not fit together"), std::string::npos)
      << r.status().ToString();
}

// The header: "UNAUTHENTICATED for a missing or wrong passphrase; DATA_LOSS for a truncated or
// corrupted file". A truncated encrypted file with the right passphrase is the second case.
TEST_F(PrivateKeyLoadTest, TruncatedEncryptedFileWithRightPassphraseIsDataLoss) {
  const std::string pem = ReadWholeFile(SaveKey("good.pem", std::string(kPassphrase)));
  const std::string path = WriteKeyFile("t.pem", pem.substr(0, pem.size() / 2));
  Result<PrivateKey> r = PrivateKey::Load(path, std::string(kPassphrase));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
}

TEST_F(PrivateKeyLoadTest, GroupOrWorldReadableIsPermissionDenied) {
  const std::string path = SaveKey("k.pem", std::nullopt);
  for (mode_t mode : {0644, 0640, 0604, 0660, 0606}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    Result<PrivateKey> r = PrivateKey::Load(path, std::nullopt);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
    EXPECT_NE(r.status().message().find("chmod"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  }
}

TEST_F(PrivateKeyLoadTest, PermissionCheckComesBeforePassphrase) {
  const std::string path = SaveKey("k.pem", std::string(kPassphrase));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  Result<PrivateKey> r = PrivateKey::Load(path, std::string(kPassphrase));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
}

TEST_F(PrivateKeyLoadTest, OwnerReadOnlyIsAccepted) {
  const std::string path = SaveKey("k.pem", std::nullopt);
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  Result<PrivateKey> r = PrivateKey::Load(path, std::nullopt);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(PrivateKeyLoadTest, MissingFileIsNotFound) {
  Result<PrivateKey> r = PrivateKey::Load(dir_.Path("absent.pem"), std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_EQ(PrivateKey::Load(dir_.Path("no/dir/k.pem"), std::nullopt).status().code(),
            StatusCode::kNotFound);
}

// --- PublicKeyType / VerifyMessage on foreign input ---

TEST(PublicKeyTypeTest, RefusesUnsupportedKeys) {
  for (const char* hex : {kRsa1024Spki, kP384Spki, kX25519Spki}) {
    Result<KeyType> t = PublicKeyType(Bytes(hex));
    ASSERT_FALSE(t.ok()) << hex;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << t.status().ToString();
  }
}

TEST(PublicKeyTypeTest, RefusesMalformedInput) {
  std::vector<uint8_t> spki = CachedKey(KeyType::kEd25519).PublicKeyDer();
  std::vector<uint8_t> truncated(spki.begin(), spki.end() - 1);
  std::vector<uint8_t> trailing = spki;
  trailing.push_back(0);
  for (const std::vector<uint8_t>& der : {std::vector<uint8_t>{}, std::vector<uint8_t>{0x30, 0x00},
                                          truncated, std::vector<uint8_t>(64, 0xff)}) {
    Result<KeyType> t = PublicKeyType(der);
    ASSERT_FALSE(t.ok()) << HexEncode(der);
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << t.status().ToString();
  }
}

TEST(VerifyMessageTest, MalformedPublicKeyNeverVerifies) {
  SeededRandom rng(12);
  const std::vector<uint8_t> sig = SignMessage(CachedKey(KeyType::kEd25519), "m", rng);
  EXPECT_FALSE(VerifyMessage({}, "m", sig));
  EXPECT_FALSE(VerifyMessage(std::vector<uint8_t>(44, 0), "m", sig));
  EXPECT_FALSE(VerifyMessage(Bytes(kX25519Spki), "m", sig));
}

}  // namespace
}  // namespace sitechain::pki
