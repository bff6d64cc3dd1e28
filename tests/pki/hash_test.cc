#include "pki/hash.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.h"

namespace sitechain::pki {
namespace {

using testutil::TempDir;
using testutil::WriteWholeFile;

constexpr const char* kSha256Abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kSha256Empty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kSha512Abc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
constexpr const char* kSha512Empty =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

// Deterministic content: byte i is the top byte of i * 2654435761 mod 2^32.
std::string PatternBytes(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    const uint32_t x = static_cast<uint32_t>(i) * 2654435761u;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}
// Not a multiple of any plausible chunk size.
constexpr size_t kBigFileSize = 5 * 1024 * 1024 + 12345;
// Computed independently (Python hashlib) over PatternBytes(kBigFileSize).
constexpr const char* kBigSha256 =
    "d20e9c9d495accdb4c0cc8a27cbcd9c69fad91b55c8819c4681776c9a622f6de";
constexpr const char* kBigSha512 =
    "5e0f68fa4c7d3213c641e36608125bc8ced8d02f01d41b7219be998e71184e1c"
    "2ced12184ff762b976851198ce2cfd9e7cec14bf5b0736be2cf690b052224e2c";

// Closes an fd on destruction.
class ScopedFd final {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// --- names and sizes ---

TEST(HashAlgorithmTest, NamesRoundTrip) {
  EXPECT_EQ(HashAlgorithmName(HashAlgorithm::kSha256), "sha256");
  EXPECT_EQ(HashAlgorithmName(HashAlgorithm::kSha512), "sha512");
  for (HashAlgorithm alg : {HashAlgorithm::kSha256, HashAlgorithm::kSha512}) {
    Result<HashAlgorithm> parsed = ParseHashAlgorithm(HashAlgorithmName(alg));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, alg);
  }
}

TEST(HashAlgorithmTest, RefusesUnknownNames) {
  for (const char* name : {"", "md5", "sha1", "sha-1", "sha384", "sha3-256", "sha256 ", " sha256",
                           "sha2560", "blake2b"}) {
    Result<HashAlgorithm> parsed = ParseHashAlgorithm(name);
    EXPECT_FALSE(parsed.ok()) << "'" << name << "' accepted";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << name;
      EXPECT_FALSE(parsed.status().message().empty());
    }
  }
}

TEST(HashAlgorithmTest, DigestSizes) {
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha256), 32u);
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha512), 64u);
}

// --- HashBytes: known answers (FIPS 180-2 examples) ---

TEST(HashBytesTest, Sha256KnownAnswers) {
  Digest abc = HashBytes(HashAlgorithm::kSha256, "abc");
  EXPECT_EQ(abc.algorithm, HashAlgorithm::kSha256);
  EXPECT_EQ(abc.bytes.size(), 32u);
  EXPECT_EQ(abc.Hex(), kSha256Abc);
  EXPECT_EQ(HashBytes(HashAlgorithm::kSha256, "").Hex(), kSha256Empty);
  EXPECT_EQ(
      HashBytes(HashAlgorithm::kSha256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
          .Hex(),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HashBytes(HashAlgorithm::kSha256, std::string(1000000, 'a')).Hex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HashBytesTest, Sha512KnownAnswers) {
  Digest abc = HashBytes(HashAlgorithm::kSha512, "abc");
  EXPECT_EQ(abc.algorithm, HashAlgorithm::kSha512);
  EXPECT_EQ(abc.bytes.size(), 64u);
  EXPECT_EQ(abc.Hex(), kSha512Abc);
  EXPECT_EQ(HashBytes(HashAlgorithm::kSha512, "").Hex(), kSha512Empty);
  EXPECT_EQ(
      HashBytes(HashAlgorithm::kSha512,
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmn"
                "opqklmnopqrlmnopqrsmnopqrstnopqrstu")
          .Hex(),
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
      "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
}

TEST(HashBytesTest, HashesEmbeddedNulBytes) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(HashBytes(HashAlgorithm::kSha256, with_nul), HashBytes(HashAlgorithm::kSha256, "a"));
}

TEST(DigestTest, HexIsLowerCaseTwoDigitsPerByte) {
  Digest d{HashAlgorithm::kSha256, {0x00, 0x0f, 0xab, 0xff}};
  EXPECT_EQ(d.Hex(), "000fabff");
  EXPECT_EQ(Digest{}.Hex(), "");
}

TEST(DigestTest, EqualityComparesAlgorithmAndBytes) {
  Digest a{HashAlgorithm::kSha256, {1, 2, 3}};
  Digest b{HashAlgorithm::kSha512, {1, 2, 3}};
  Digest c{HashAlgorithm::kSha256, {1, 2, 4}};
  EXPECT_EQ(a, a);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

// --- Hasher ---

TEST(HasherTest, IncrementalEqualsOneShot) {
  const std::string data = PatternBytes(300000);
  for (HashAlgorithm alg : {HashAlgorithm::kSha256, HashAlgorithm::kSha512}) {
    Hasher h(alg);
    size_t pos = 0;
    // Irregular pieces that straddle the 64- and 128-byte block sizes.
    const size_t pieces[] = {0, 1, 7, 55, 56, 63, 64, 65, 111, 127, 128, 129, 1000, 4096, 65537};
    for (size_t i = 0; pos < data.size(); ++i) {
      size_t n = std::min(pieces[i % std::size(pieces)], data.size() - pos);
      h.Update(std::string_view(data).substr(pos, n));
      pos += n;
    }
    EXPECT_EQ(h.bytes_hashed(), data.size());
    EXPECT_EQ(h.Final(), HashBytes(alg, data)) << HashAlgorithmName(alg);
  }
}

TEST(HasherTest, PointerAndStringViewUpdatesAgree) {
  const std::string data = "the quick brown fox";
  Hasher a(HashAlgorithm::kSha256);
  a.Update(reinterpret_cast<const uint8_t*>(data.data()), 4);
  a.Update(reinterpret_cast<const uint8_t*>(data.data()) + 4, data.size() - 4);
  EXPECT_EQ(a.Final(), HashBytes(HashAlgorithm::kSha256, data));
}

TEST(HasherTest, FinalResetsForReuse) {
  Hasher h(HashAlgorithm::kSha512);
  h.Update("garbage that must not leak into the next digest");
  (void)h.Final();
  EXPECT_EQ(h.bytes_hashed(), 0u);
  h.Update("abc");
  EXPECT_EQ(h.bytes_hashed(), 3u);
  Digest d = h.Final();
  EXPECT_EQ(d.algorithm, HashAlgorithm::kSha512);
  EXPECT_EQ(d.Hex(), kSha512Abc);
  // Final without any input is the empty-string digest.
  EXPECT_EQ(h.Final().Hex(), kSha512Empty);
}

TEST(HasherTest, CountsBytes) {
  Hasher h(HashAlgorithm::kSha256);
  EXPECT_EQ(h.bytes_hashed(), 0u);
  h.Update("");
  EXPECT_EQ(h.bytes_hashed(), 0u);
  h.Update("12345");
  h.Update(std::string(1 << 20, 'x'));
  EXPECT_EQ(h.bytes_hashed(), 5u + (1u << 20));
}

TEST(HasherTest, MoveKeepsState) {
  Hasher a(HashAlgorithm::kSha256);
  a.Update("ab");
  Hasher b(std::move(a));
  b.Update("c");
  EXPECT_EQ(b.bytes_hashed(), 3u);
  Hasher c(HashAlgorithm::kSha512);
  c = std::move(b);
  Digest d = c.Final();
  EXPECT_EQ(d.algorithm, HashAlgorithm::kSha256);
  EXPECT_EQ(d.Hex(), kSha256Abc);
}

// --- HashFile / HashFd ---

class HashFileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { big_ = new std::string(PatternBytes(kBigFileSize)); }
  static void TearDownTestSuite() {
    delete big_;
    big_ = nullptr;
  }
  static const std::string& big() { return *big_; }

  TempDir dir_;

 private:
  static std::string* big_;
};
std::string* HashFileTest::big_ = nullptr;

TEST_F(HashFileTest, BigFileAgreesWithHashBytesAndReference) {
  const std::string path = dir_.Path("big.bin");
  ASSERT_TRUE(WriteWholeFile(path, big()));
  for (HashAlgorithm alg : {HashAlgorithm::kSha256, HashAlgorithm::kSha512}) {
    const Digest expected = HashBytes(alg, big());
    Result<Digest> from_file = HashFile(alg, path);
    ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
    EXPECT_EQ(*from_file, expected);

    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_GE(fd.get(), 0);
    Result<Digest> from_fd = HashFd(alg, fd.get());
    ASSERT_TRUE(from_fd.ok()) << from_fd.status().ToString();
    EXPECT_EQ(*from_fd, expected);
  }
  EXPECT_EQ(HashBytes(HashAlgorithm::kSha256, big()).Hex(), kBigSha256);
  EXPECT_EQ(HashBytes(HashAlgorithm::kSha512, big()).Hex(), kBigSha512);
}

TEST_F(HashFileTest, SizesAroundChunkBoundaries) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{65535},
                   size_t{65536}, size_t{65537}, size_t{262143}, size_t{262144}, size_t{262145},
                   size_t{1} << 20, (size_t{1} << 20) + 1}) {
    const std::string data = big().substr(0, n);
    const std::string path = dir_.Path("f" + std::to_string(n));
    ASSERT_TRUE(WriteWholeFile(path, data));
    Result<Digest> d = HashFile(HashAlgorithm::kSha256, path);
    ASSERT_TRUE(d.ok()) << n << ": " << d.status().ToString();
    EXPECT_EQ(*d, HashBytes(HashAlgorithm::kSha256, data)) << n;
  }
}

TEST_F(HashFileTest, EmptyFile) {
  const std::string path = dir_.Path("empty");
  ASSERT_TRUE(WriteWholeFile(path, ""));
  Result<Digest> d = HashFile(HashAlgorithm::kSha256, path);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->Hex(), kSha256Empty);
}

TEST_F(HashFileTest, HashFdLeavesOffsetUnchangedAndHashesFromStart) {
  const std::string path = dir_.Path("exe");
  const std::string data = big().substr(0, 1 << 20);
  ASSERT_TRUE(WriteWholeFile(path, data));
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(::lseek(fd.get(), 12345, SEEK_SET), 12345);

  Result<Digest> d = HashFd(HashAlgorithm::kSha256, fd.get());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, HashBytes(HashAlgorithm::kSha256, data));  // the whole file, not from 12345
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 12345);

  // Hashing twice gives the same answer and still does not move the offset.
  Result<Digest> again = HashFd(HashAlgorithm::kSha256, fd.get());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *d);
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 12345);

  // The caller can still read from where it was.
  char c = 0;
  ASSERT_EQ(::read(fd.get(), &c, 1), 1);
  EXPECT_EQ(c, data[12345]);
}

TEST_F(HashFileTest, HashFdAtEndOfFile) {
  const std::string path = dir_.Path("f");
  ASSERT_TRUE(WriteWholeFile(path, "abc"));
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(::lseek(fd.get(), 0, SEEK_END), 3);
  Result<Digest> d = HashFd(HashAlgorithm::kSha512, fd.get());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->Hex(), kSha512Abc);
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 3);
}

TEST_F(HashFileTest, HashFdRefusesBadDescriptor) {
  EXPECT_FALSE(HashFd(HashAlgorithm::kSha256, -1).ok());
  // A write-only descriptor cannot be read.
  const std::string path = dir_.Path("wo");
  ASSERT_TRUE(WriteWholeFile(path, "abc"));
  ScopedFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  EXPECT_FALSE(HashFd(HashAlgorithm::kSha256, fd.get()).ok());
}

TEST_F(HashFileTest, MissingFileIsNotFound) {
  Result<Digest> d = HashFile(HashAlgorithm::kSha256, dir_.Path("missing"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound) << d.status().ToString();
  EXPECT_NE(d.status().message().find(dir_.Path("missing")), std::string::npos)
      << d.status().message();
}

TEST_F(HashFileTest, DirectoryIsRefused) {
  EXPECT_FALSE(HashFile(HashAlgorithm::kSha256, dir_.path()).ok());
}

}  // namespace
}  // namespace sitechain::pki
