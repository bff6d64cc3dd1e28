#include "storage/blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "pki/hash.h"
#include "tests/common/temp_dir.h"

namespace sitechain::storage {

using namespace pki;
namespace {

using testutil::EntriesOf;
using testutil::ModeOf;
using testutil::ReadFd;
using testutil::ReadWholeFile;
using testutil::TempDir;
using testutil::WriteWholeFile;

constexpr uint64_t kMax = 1 << 20;

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool FdIsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Deterministic, non-repeating-ish content.
std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = BlobStore::Open(Dir());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_.emplace(std::move(store).value());
  }

  std::string Dir() const { return tmp_.Path("blobs"); }
  std::string TmpDir() const { return tmp_.Path("blobs/tmp"); }
  const BlobStore& store() const { return *store_; }

  BlobStore::Writer Start(HashAlgorithm alg = HashAlgorithm::kSha256, uint64_t max = kMax) {
    auto w = store().StartUpload(alg, max);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return std::move(w).value();
  }

  // Uploads content in one piece and returns the blob name ("" on failure).
  std::string Upload(std::string_view content, HashAlgorithm alg = HashAlgorithm::kSha256) {
    BlobStore::Writer w = Start(alg);
    EXPECT_TRUE(w.Append(Bytes(content)).ok());
    auto d = w.Finish();
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    auto name = w.Commit();
    EXPECT_TRUE(name.ok()) << name.status().ToString();
    return name.ok() ? *name : "";
  }

  std::vector<std::string> ListOrDie() const {
    auto names = store().List();
    EXPECT_TRUE(names.ok()) << names.status().ToString();
    return names.ok() ? *names : std::vector<std::string>{};
  }

  TempDir tmp_;
  std::optional<BlobStore> store_;
};

class BlobStoreAlgTest : public BlobStoreTest,
                         public ::testing::WithParamInterface<HashAlgorithm> {};

TEST_P(BlobStoreAlgTest, RoundTrip) {
  const HashAlgorithm alg = GetParam();
  const std::string part1 = "#!/bin/sh\necho hello\n";
  const std::string part2 = Pattern(5000, 7);
  const std::string part3 = "tail";
  const std::string whole = part1 + part2 + part3;

  BlobStore::Writer w = Start(alg);
  EXPECT_EQ(w.size(), 0u);
  ASSERT_TRUE(w.Append(Bytes(part1)).ok());
  ASSERT_TRUE(w.Append({}).ok());  // an empty chunk is fine
  ASSERT_TRUE(w.Append(Bytes(part2)).ok());
  ASSERT_TRUE(w.Append(Bytes("")).ok());
  ASSERT_TRUE(w.Append(Bytes(part3)).ok());
  EXPECT_EQ(w.size(), whole.size());
  // Nothing is visible before Commit.
  EXPECT_EQ(EntriesOf(Dir()), std::set<std::string>{"tmp"});
  EXPECT_EQ(EntriesOf(TmpDir()).size(), 1u);

  auto digest = w.Finish();
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, HashBytes(alg, whole));
  EXPECT_EQ(digest->algorithm, alg);
  EXPECT_FALSE(store().Contains(*digest));

  auto name = w.Commit();
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(*name, BlobStore::BlobName(*digest));
  EXPECT_EQ(*name, std::string(HashAlgorithmName(alg)) + "-" + digest->Hex());

  EXPECT_TRUE(store().Contains(*digest));
  EXPECT_EQ(ModeOf(Dir() + "/" + *name), 0644);
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + *name), whole);
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
  EXPECT_EQ(ListOrDie(), std::vector<std::string>{*name});

  auto fd = store().Open(*digest);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  ASSERT_GE(fd->get(), 0);
  EXPECT_EQ(ReadFd(fd->get()), whole);
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(::fcntl(fd->get(), F_GETFL) & O_ACCMODE, O_RDONLY);

  // The blob survives reopening the store.
  auto reopened = BlobStore::Open(Dir());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE(reopened->Contains(*digest));
  EXPECT_EQ(reopened->dir(), Dir());
}

INSTANTIATE_TEST_SUITE_P(BlobStore, BlobStoreAlgTest,
                         ::testing::Values(HashAlgorithm::kSha256, HashAlgorithm::kSha512),
                         [](const auto& param_info) {
                           return std::string(HashAlgorithmName(param_info.param));
                         });

TEST_F(BlobStoreTest, OpenCreatesDirectories) {
  EXPECT_TRUE(std::filesystem::is_directory(Dir()));
  EXPECT_TRUE(std::filesystem::is_directory(TmpDir()));
  EXPECT_EQ(ModeOf(TmpDir()) & 077, 0);
  EXPECT_EQ(store().dir(), Dir());
  // Nested paths are created too.
  auto nested = BlobStore::Open(tmp_.Path("a/b/c"));
  ASSERT_TRUE(nested.ok()) << nested.status().ToString();
  EXPECT_TRUE(std::filesystem::is_directory(tmp_.Path("a/b/c/tmp")));
}

TEST_F(BlobStoreTest, BlobNameFormat) {
  Digest d256 = HashBytes(HashAlgorithm::kSha256, "abc");
  EXPECT_EQ(BlobStore::BlobName(d256),
            "sha256-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Digest d512 = HashBytes(HashAlgorithm::kSha512, "abc");
  std::string n512 = BlobStore::BlobName(d512);
  EXPECT_EQ(n512.substr(0, 7), "sha512-");
  EXPECT_EQ(n512.size(), 7u + 128u);
  EXPECT_EQ(n512.substr(7), d512.Hex());
}

TEST_F(BlobStoreTest, WriterDestroyedBeforeCommitLeavesNothing) {
  {
    BlobStore::Writer w = Start();
    ASSERT_TRUE(w.Append(Bytes("partial upload")).ok());
    EXPECT_EQ(EntriesOf(TmpDir()).size(), 1u);
  }
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
  EXPECT_TRUE(ListOrDie().empty());
  EXPECT_EQ(EntriesOf(Dir()), std::set<std::string>{"tmp"});
}

TEST_F(BlobStoreTest, WriterDestroyedAfterFinishLeavesNothing) {
  Digest digest;
  {
    BlobStore::Writer w = Start();
    ASSERT_TRUE(w.Append(Bytes("finished but not committed")).ok());
    auto d = w.Finish();
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    digest = *d;
    EXPECT_EQ(EntriesOf(TmpDir()).size(), 1u);
  }
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
  EXPECT_FALSE(store().Contains(digest));
  EXPECT_TRUE(ListOrDie().empty());
}

TEST_F(BlobStoreTest, ExactlyMaxBytesIsAllowed) {
  const std::string content = Pattern(100, 1);
  BlobStore::Writer w = Start(HashAlgorithm::kSha256, 100);
  ASSERT_TRUE(w.Append(Bytes(std::string_view(content).substr(0, 60))).ok());
  ASSERT_TRUE(w.Append(Bytes(std::string_view(content).substr(60))).ok());
  EXPECT_EQ(w.size(), 100u);
  ASSERT_TRUE(w.Append({}).ok());  // still at the limit
  auto d = w.Finish();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, HashBytes(HashAlgorithm::kSha256, content));
  ASSERT_TRUE(w.Commit().ok());
  EXPECT_TRUE(store().Contains(*d));
}

TEST_F(BlobStoreTest, OverTheLimitIsRefusedAndSpoilsTheUpload) {
  {
    BlobStore::Writer w = Start(HashAlgorithm::kSha256, 100);
    ASSERT_TRUE(w.Append(Bytes(Pattern(60, 2))).ok());
    Status s = w.Append(Bytes(Pattern(41, 3)));
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
    EXPECT_NE(s.message().find("limit of 100 bytes"), std::string::npos) << s.message();
    EXPECT_EQ(w.size(), 60u);  // the refused chunk was not counted

    // The upload is spoiled: even a chunk that would fit, and Finish/Commit, are refused.
    EXPECT_EQ(w.Append(Bytes("x")).code(), StatusCode::kFailedPrecondition);
    auto d = w.Finish();
    EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition) << d.status().ToString();
    auto name = w.Commit();
    EXPECT_EQ(name.status().code(), StatusCode::kFailedPrecondition) << name.status().ToString();
  }
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
  EXPECT_TRUE(ListOrDie().empty());
}

TEST_F(BlobStoreTest, SingleHugeChunkOverTheLimit) {
  BlobStore::Writer w = Start(HashAlgorithm::kSha256, 10);
  EXPECT_EQ(w.Append(Bytes(Pattern(11, 4))).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(w.Finish().status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(BlobStoreTest, ZeroLimitAllowsAnEmptyBlob) {
  BlobStore::Writer w = Start(HashAlgorithm::kSha256, 0);
  ASSERT_TRUE(w.Append({}).ok());
  auto d = w.Finish();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, HashBytes(HashAlgorithm::kSha256, ""));
  auto name = w.Commit();
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + *name), "");
  EXPECT_TRUE(store().Contains(*d));
}

TEST_F(BlobStoreTest, OpenRemovesLeftoversInTmp) {
  ASSERT_TRUE(WriteWholeFile(TmpDir() + "/upload-stray1", "half an executable"));
  ASSERT_TRUE(WriteWholeFile(TmpDir() + "/.hidden", "x"));
  std::filesystem::create_directories(TmpDir() + "/subdir/deeper");
  ASSERT_TRUE(WriteWholeFile(TmpDir() + "/subdir/deeper/f", "y"));
  std::string kept = Upload("a complete blob");
  ASSERT_FALSE(kept.empty());

  auto reopened = BlobStore::Open(Dir());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
  EXPECT_TRUE(std::filesystem::is_directory(TmpDir()));
  // Complete blobs are untouched.
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + kept), "a complete blob");
}

TEST_F(BlobStoreTest, OpenOnARegularFileIsRefused) {
  std::string file = tmp_.Path("not-a-dir");
  ASSERT_TRUE(WriteWholeFile(file, "x"));
  auto s = BlobStore::Open(file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition) << s.status().ToString();
  EXPECT_NE(s.status().message().find(file), std::string::npos) << s.status().message();

  // A path under a regular file cannot be created either.
  auto under = BlobStore::Open(file + "/blobs");
  ASSERT_FALSE(under.ok());
  EXPECT_EQ(under.status().code(), StatusCode::kFailedPrecondition) << under.status().ToString();
}

TEST_F(BlobStoreTest, OpenWithTmpAsARegularFileIsRefused) {
  std::string dir = tmp_.Path("other");
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(WriteWholeFile(dir + "/tmp", "x"));
  auto s = BlobStore::Open(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition) << s.status().ToString();
}

TEST_F(BlobStoreTest, OpenMissingDigestIsNotFound) {
  Digest d = HashBytes(HashAlgorithm::kSha256, "never uploaded");
  auto fd = store().Open(d);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), StatusCode::kNotFound) << fd.status().ToString();
  EXPECT_NE(fd.status().message().find(BlobStore::BlobName(d)), std::string::npos)
      << fd.status().message();
  EXPECT_FALSE(store().Contains(d));
}

TEST_F(BlobStoreTest, Remove) {
  std::string name = Upload("to be removed");
  ASSERT_FALSE(name.empty());
  Digest d = HashBytes(HashAlgorithm::kSha256, "to be removed");
  ASSERT_TRUE(store().Contains(d));

  ASSERT_TRUE(store().Remove(name).ok());
  EXPECT_FALSE(store().Contains(d));
  EXPECT_TRUE(ListOrDie().empty());
  // Removing what is already gone is fine.
  EXPECT_TRUE(store().Remove(name).ok());
  EXPECT_TRUE(store().Remove("sha256-" + std::string(64, '0')).ok());
}

TEST_F(BlobStoreTest, RemoveRefusesPathsAndHiddenNames) {
  ASSERT_TRUE(WriteWholeFile(tmp_.Path("x"), "outside the store"));
  for (const std::string& bad :
       {std::string("../x"), std::string("."), std::string(".."), std::string(".hidden"),
        std::string("a/b"), std::string("tmp/"), std::string("/etc/passwd"), std::string("")}) {
    Status s = store().Remove(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "'" << bad << "': " << s.ToString();
  }
  EXPECT_EQ(ReadWholeFile(tmp_.Path("x")), "outside the store");
}

TEST_F(BlobStoreTest, SameContentTwiceYieldsOneBlob) {
  const std::string content = Pattern(3000, 5);
  BlobStore::Writer a = Start();
  BlobStore::Writer b = Start();
  ASSERT_TRUE(a.Append(Bytes(content)).ok());
  ASSERT_TRUE(b.Append(Bytes(content)).ok());
  auto da = a.Finish();
  auto db = b.Finish();
  ASSERT_TRUE(da.ok() && db.ok());
  EXPECT_EQ(*da, *db);
  auto na = a.Commit();
  ASSERT_TRUE(na.ok()) << na.status().ToString();
  auto nb = b.Commit();
  ASSERT_TRUE(nb.ok()) << nb.status().ToString();
  EXPECT_EQ(*na, *nb);
  EXPECT_EQ(ListOrDie(), std::vector<std::string>{*na});
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + *na), content);
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
}

TEST_F(BlobStoreTest, CommitBeforeFinishIsRefused) {
  BlobStore::Writer w = Start();
  ASSERT_TRUE(w.Append(Bytes("content")).ok());
  auto early = w.Commit();
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition) << early.status().ToString();
  EXPECT_TRUE(ListOrDie().empty());
  // The upload is still usable.
  ASSERT_TRUE(w.Append(Bytes(" more")).ok());
  auto d = w.Finish();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, HashBytes(HashAlgorithm::kSha256, "content more"));
  auto name = w.Commit();
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + *name), "content more");
}

TEST_F(BlobStoreTest, OrderOfOperationsIsEnforced) {
  BlobStore::Writer w = Start();
  ASSERT_TRUE(w.Append(Bytes("abc")).ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.Append(Bytes("more")).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.Append({}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.Finish().status().code(), StatusCode::kFailedPrecondition);
  auto name = w.Commit();
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(w.Commit().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.Append(Bytes("x")).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.Finish().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + *name), "abc");
}

TEST_F(BlobStoreTest, LargeUploadMatchesHashFile) {
  constexpr size_t kChunk = 64 * 1024;
  constexpr size_t kTotal = 8 * 1024 * 1024;
  BlobStore::Writer w = Start(HashAlgorithm::kSha256, kTotal);
  Hasher reference(HashAlgorithm::kSha256);
  for (size_t off = 0; off < kTotal; off += kChunk) {
    std::string chunk = Pattern(kChunk, static_cast<uint32_t>(off / kChunk));
    reference.Update(chunk);
    ASSERT_TRUE(w.Append(Bytes(chunk)).ok()) << "at offset " << off;
  }
  EXPECT_EQ(w.size(), kTotal);
  auto d = w.Finish();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, reference.Final());
  auto name = w.Commit();
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  std::string path = Dir() + "/" + *name;
  EXPECT_EQ(std::filesystem::file_size(path), kTotal);
  auto on_disk = HashFile(HashAlgorithm::kSha256, path);
  ASSERT_TRUE(on_disk.ok()) << on_disk.status().ToString();
  EXPECT_EQ(*on_disk, *d);
}

TEST_F(BlobStoreTest, MovedWriterStillCommits) {
  auto started = store().StartUpload(HashAlgorithm::kSha256, kMax);
  ASSERT_TRUE(started.ok());
  std::optional<BlobStore::Writer> original(std::move(started).value());
  ASSERT_TRUE(original->Append(Bytes("first ")).ok());

  BlobStore::Writer moved(std::move(*original));
  original.reset();  // destroying the moved-from writer must not remove the temporary file
  EXPECT_EQ(EntriesOf(TmpDir()).size(), 1u);

  ASSERT_TRUE(moved.Append(Bytes("second")).ok());
  EXPECT_EQ(moved.size(), 12u);
  auto d = moved.Finish();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, HashBytes(HashAlgorithm::kSha256, "first second"));
  auto name = moved.Commit();
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + *name), "first second");
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
}

TEST_F(BlobStoreTest, MovedFromWriterIsHarmless) {
  BlobStore::Writer w = Start();
  ASSERT_TRUE(w.Append(Bytes("data")).ok());
  BlobStore::Writer other(std::move(w));
  // NOLINTBEGIN(bugprone-use-after-move): checking that a moved-from writer refuses politely.
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.Append(Bytes("x")).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.Finish().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.Commit().status().code(), StatusCode::kFailedPrecondition);
  // NOLINTEND(bugprone-use-after-move)
  EXPECT_EQ(other.size(), 4u);
}

TEST_F(BlobStoreTest, MoveAssignmentDiscardsTheOverwrittenUpload) {
  BlobStore::Writer a = Start();
  ASSERT_TRUE(a.Append(Bytes("abandoned")).ok());
  BlobStore::Writer b = Start();
  ASSERT_TRUE(b.Append(Bytes("kept")).ok());
  EXPECT_EQ(EntriesOf(TmpDir()).size(), 2u);

  a = std::move(b);  // a's old upload is dropped, b's lives on in a
  EXPECT_EQ(EntriesOf(TmpDir()).size(), 1u);
  EXPECT_EQ(a.size(), 4u);
  ASSERT_TRUE(a.Finish().ok());
  auto name = a.Commit();
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(ReadWholeFile(Dir() + "/" + *name), "kept");
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
  EXPECT_EQ(ListOrDie(), std::vector<std::string>{*name});
}

TEST_F(BlobStoreTest, ListSkipsEverythingButBlobs) {
  std::string b1 = Upload("one");
  std::string b2 = Upload("two");
  std::string b3 = Upload("three", HashAlgorithm::kSha512);
  const std::string hex64(64, 'a');
  ASSERT_TRUE(WriteWholeFile(Dir() + "/README", "x"));
  ASSERT_TRUE(WriteWholeFile(Dir() + "/.sha256-" + hex64, "x"));
  ASSERT_TRUE(WriteWholeFile(Dir() + "/sha256-" + std::string(63, 'a'), "x"));  // too short
  ASSERT_TRUE(WriteWholeFile(Dir() + "/sha512-" + hex64, "x"));  // wrong length for sha512
  ASSERT_TRUE(WriteWholeFile(Dir() + "/sha256-" + std::string(64, 'A'), "x"));  // upper case
  ASSERT_TRUE(WriteWholeFile(Dir() + "/md5-" + std::string(32, 'a'), "x"));
  std::filesystem::create_directories(Dir() + "/sha256-" + std::string(64, 'b'));  // not a file
  std::filesystem::create_symlink(Dir() + "/" + b1, Dir() + "/sha256-" + std::string(64, 'c'));
  ASSERT_TRUE(WriteWholeFile(TmpDir() + "/sha256-" + hex64, "x"));  // in tmp/

  std::vector<std::string> expected{b1, b2, b3};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ListOrDie(), expected);
}

TEST_F(BlobStoreTest, ConcurrentUploads) {
  constexpr int kThreads = 4;
  std::vector<std::string> names(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto w = store().StartUpload(HashAlgorithm::kSha256, kMax);
      if (!w.ok()) {
        errors[t] = w.status().ToString();
        return;
      }
      for (int i = 0; i < 16; ++i) {
        Status s = w->Append(Bytes(Pattern(4096, static_cast<uint32_t>(t * 100 + i))));
        if (!s.ok()) {
          errors[t] = s.ToString();
          return;
        }
      }
      if (auto d = w->Finish(); !d.ok()) {
        errors[t] = d.status().ToString();
        return;
      }
      auto name = w->Commit();
      if (!name.ok()) {
        errors[t] = name.status().ToString();
        return;
      }
      names[t] = *name;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ListOrDie(), expected);
  EXPECT_TRUE(EntriesOf(TmpDir()).empty());
}

TEST(BlobStoreUniqueFdTest, ClosesOnDestructionAndMoveAssignment) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  {
    UniqueFd a(p[0]);
    UniqueFd b(p[1]);
    EXPECT_EQ(a.get(), p[0]);
    a = std::move(b);  // closes p[0]
    EXPECT_FALSE(FdIsOpen(p[0]));
    EXPECT_TRUE(FdIsOpen(p[1]));
    EXPECT_EQ(a.get(), p[1]);
    EXPECT_EQ(b.get(), -1);  // NOLINT(bugprone-use-after-move)

    UniqueFd c(std::move(a));
    EXPECT_EQ(c.get(), p[1]);
    EXPECT_EQ(a.get(), -1);  // NOLINT(bugprone-use-after-move)
    UniqueFd& alias = c;
    c = std::move(alias);  // self-move keeps the descriptor
    EXPECT_TRUE(FdIsOpen(p[1]));
  }
  EXPECT_FALSE(FdIsOpen(p[1]));

  ASSERT_EQ(::pipe(p), 0);
  UniqueFd d(p[0]);
  int released = d.release();
  EXPECT_EQ(released, p[0]);
  EXPECT_EQ(d.get(), -1);
  EXPECT_TRUE(FdIsOpen(released));
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace sitechain::storage
