#include "common/identity_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "common/files.h"
#include "tests/common/temp_dir.h"

namespace sitechain {
namespace {

const char kKey[] =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
const char kLeaf[] = "-----BEGIN CERTIFICATE-----\nTEVBRg==\n-----END CERTIFICATE-----\n";
const char kIssuer[] = "-----BEGIN CERTIFICATE-----\nSVNTVUVS\n-----END CERTIFICATE-----\n";

time_t MtimeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mtim.tv_sec;
}

TEST(IdentityFileTest, WritesKeyThenChainAndReadsThemBack) {
  testutil::TempDir dir;
  const std::string path = dir.Path("identity.pem");
  ASSERT_TRUE(WriteIdentityFile(path, {kKey, std::string(kLeaf) + kIssuer}).ok());
  EXPECT_EQ(testutil::ReadWholeFile(path), std::string(kKey) + kLeaf + kIssuer);
  EXPECT_EQ(*FileMode(path), 0600u);
  auto read = ReadIdentityFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->key_pem, kKey);
  EXPECT_EQ(read->chain_pem, std::string(kLeaf) + kIssuer);
}

// gRPC's file watcher reads the key and the certificate in two reads and trusts them as a pair
// only if the mtime did not change in between: every replacement must change it, however fast
// replacements follow each other.
TEST(IdentityFileTest, EveryReplacementHasALaterMtimeEvenWithinOneSecond) {
  testutil::TempDir dir;
  const std::string path = dir.Path("identity.pem");
  time_t last = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(WriteIdentityFile(path, {kKey, kLeaf}).ok());
    const time_t now = MtimeOf(path);
    EXPECT_GT(now, last) << "replacement " << i;
    last = now;
  }
  // Plain atomic writes keep the usual mtime (now).
  ASSERT_TRUE(WriteFileAtomic(dir.Path("plain"), "x").ok());
  EXPECT_LE(MtimeOf(dir.Path("plain")), ::time(nullptr));
}

TEST(IdentityFileTest, RefusesWhatIsNotExactlyOneKeyAndAChain) {
  EXPECT_EQ(ParseIdentityPem(kLeaf).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIdentityPem(kKey).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIdentityPem(std::string(kKey) + kKey + kLeaf).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIdentityPem(std::string(kKey) + "junk\n" + kLeaf).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIdentityPem(
                std::string(kKey) +
                "-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n" + kLeaf)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  std::string truncated = std::string(kKey) + kLeaf;
  truncated.resize(truncated.size() - 20);
  EXPECT_EQ(ParseIdentityPem(truncated).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseIdentityPem(std::string(kLeaf) + "\n" + kKey + "  \n").ok());
}

}  // namespace
}  // namespace sitechain
