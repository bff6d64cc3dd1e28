#include "common/files.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/common/temp_dir.h"

namespace sitechain {
namespace {

using testutil::ModeOf;
using testutil::ReadWholeFile;
using testutil::ScopedUmask;
using testutil::TempDir;
using testutil::WriteWholeFile;

// Restores the working directory on destruction.
class ScopedChdir final {
 public:
  explicit ScopedChdir(const std::string& dir) {
    char buf[4096];
    if (::getcwd(buf, sizeof buf) != nullptr) old_ = buf;
    ok_ = ::chdir(dir.c_str()) == 0;
  }
  ~ScopedChdir() {
    if (!old_.empty()) (void)::chdir(old_.c_str());
  }
  ScopedChdir(const ScopedChdir&) = delete;
  ScopedChdir& operator=(const ScopedChdir&) = delete;
  bool ok() const { return ok_ && !old_.empty(); }

 private:
  std::string old_;
  bool ok_ = false;
};

// --- WriteFileAtomic ---

TEST(WriteFileAtomicTest, WritesContent) {
  TempDir dir;
  const std::string path = dir.Path("cert.pem");
  ASSERT_TRUE(WriteFileAtomic(path, "hello\n").ok());
  EXPECT_EQ(ReadWholeFile(path), "hello\n");
  EXPECT_EQ(ModeOf(path), 0644);  // the default mode
}

TEST(WriteFileAtomicTest, WritesBinaryAndEmptyData) {
  TempDir dir;
  const std::string binary("a\0b\xff\n\0", 6);
  ASSERT_TRUE(WriteFileAtomic(dir.Path("bin"), binary).ok());
  EXPECT_EQ(ReadWholeFile(dir.Path("bin")), binary);

  ASSERT_TRUE(WriteFileAtomic(dir.Path("empty"), "").ok());
  EXPECT_TRUE(PathExists(dir.Path("empty")));
  EXPECT_EQ(ReadWholeFile(dir.Path("empty")), "");
}

TEST(WriteFileAtomicTest, AppliesModeRegardlessOfUmask) {
  TempDir dir;
  ScopedUmask mask(077);
  for (mode_t mode : {0600, 0640, 0644, 0400, 0755}) {
    const std::string path = dir.Path("f" + std::to_string(mode));
    ASSERT_TRUE(WriteFileAtomic(path, "x", mode).ok()) << std::oct << mode;
    EXPECT_EQ(ModeOf(path), static_cast<int>(mode)) << std::oct << mode;
  }
}

TEST(WriteFileAtomicTest, SecretModeWithPermissiveUmask) {
  TempDir dir;
  ScopedUmask mask(0);
  const std::string path = dir.Path("key.pem");
  ASSERT_TRUE(WriteFileAtomic(path, "secret", 0600).ok());
  EXPECT_EQ(ModeOf(path), 0600);
}

TEST(WriteFileAtomicTest, OverwriteReplacesContentAndMode) {
  TempDir dir;
  const std::string path = dir.Path("f");
  ASSERT_TRUE(WriteFileAtomic(path, "old content that is longer", 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "new", 0600, /*overwrite=*/true).ok());
  EXPECT_EQ(ReadWholeFile(path), "new");
  EXPECT_EQ(ModeOf(path), 0600);
}

TEST(WriteFileAtomicTest, RefusesToOverwriteWhenAsked) {
  TempDir dir;
  const std::string path = dir.Path("f");
  ASSERT_TRUE(WriteWholeFile(path, "original"));
  Status s = WriteFileAtomic(path, "replacement", 0600, /*overwrite=*/false);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_EQ(ReadWholeFile(path), "original");
}

TEST(WriteFileAtomicTest, NoOverwriteCreatesNewFile) {
  TempDir dir;
  const std::string path = dir.Path("new");
  ASSERT_TRUE(WriteFileAtomic(path, "data", 0600, /*overwrite=*/false).ok());
  EXPECT_EQ(ReadWholeFile(path), "data");
  EXPECT_EQ(ModeOf(path), 0600);
}

TEST(WriteFileAtomicTest, NoOverwriteRefusesDanglingSymlink) {
  TempDir dir;
  const std::string link = dir.Path("link");
  ASSERT_EQ(::symlink(dir.Path("target").c_str(), link.c_str()), 0);
  EXPECT_EQ(WriteFileAtomic(link, "x", 0600, /*overwrite=*/false).code(),
            StatusCode::kAlreadyExists);
  EXPECT_FALSE(PathExists(dir.Path("target")));
}

TEST(WriteFileAtomicTest, LeavesNoTemporaryFilesBehind) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("a"), "1").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("a"), "2").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("b"), "3", 0600, /*overwrite=*/false).ok());
  EXPECT_FALSE(WriteFileAtomic(dir.Path("b"), "4", 0600, /*overwrite=*/false).ok());
  EXPECT_EQ(dir.Entries(), (std::set<std::string>{"a", "b"}));
}

TEST(WriteFileAtomicTest, FailedRenameLeavesNoTemporaryFile) {
  TempDir dir;
  // The target is a non-empty directory: the final rename cannot succeed.
  ASSERT_TRUE(MakeDirectories(dir.Path("d/inner")).ok());
  Status s = WriteFileAtomic(dir.Path("d"), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty());
  EXPECT_EQ(dir.Entries(), (std::set<std::string>{"d"}));
}

TEST(WriteFileAtomicTest, MissingDirectoryFailsWithNotFound) {
  TempDir dir;
  const std::string missing = dir.Path("no/such/dir");
  Status s = WriteFileAtomic(missing + "/f", "x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.message();
}

TEST(WriteFileAtomicTest, ReadOnlyDirectoryFailsWithPermissionDenied) {
  TempDir dir;
  const std::string ro = dir.Path("ro");
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(ro.c_str(), 0555), 0);
  // Root ignores directory permissions: as root, the write runs in a child that has dropped to
  // the unprivileged user nobody (65534), and the child's exit status carries the verdict.
  auto write_is_refused = [&ro] {
    Status s = WriteFileAtomic(ro + "/f", "x");
    return s.code() == StatusCode::kPermissionDenied && s.message().find(ro) != std::string::npos;
  };
  if (::geteuid() != 0) {
    EXPECT_TRUE(write_is_refused());
  } else {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const bool dropped = ::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
                           ::setresuid(65534, 65534, 65534) == 0;
      ::_exit(!dropped ? 2 : write_is_refused() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_NE(WEXITSTATUS(status), 2) << "the child could not drop to uid 65534";
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "WriteFileAtomic into " << ro << " was not refused with PERMISSION_DENIED naming it";
  }
  ::chmod(ro.c_str(), 0700);
  EXPECT_TRUE(std::filesystem::is_empty(ro));
}

TEST(WriteFileAtomicTest, RelativePathWritesIntoWorkingDirectory) {
  TempDir dir;
  ScopedChdir cd(dir.path());
  ASSERT_TRUE(cd.ok());
  ASSERT_TRUE(WriteFileAtomic("relative.txt", "rel", 0600).ok());
  EXPECT_EQ(ReadWholeFile(dir.Path("relative.txt")), "rel");
  EXPECT_EQ(dir.Entries(), (std::set<std::string>{"relative.txt"}));
}

// --- ReadSmallFile ---

TEST(ReadSmallFileTest, ReadsWholeFile) {
  TempDir dir;
  const std::string data(100000, 'z');
  ASSERT_TRUE(WriteWholeFile(dir.Path("f"), data));
  Result<std::string> r = ReadSmallFile(dir.Path("f"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, data);
}

TEST(ReadSmallFileTest, ReadsEmptyFile) {
  TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.Path("f"), ""));
  Result<std::string> r = ReadSmallFile(dir.Path("f"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "");
}

TEST(ReadSmallFileTest, AcceptsFileExactlyAtLimit) {
  TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.Path("f"), std::string(1000, 'a')));
  Result<std::string> r = ReadSmallFile(dir.Path("f"), 1000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size(), 1000u);
}

TEST(ReadSmallFileTest, RefusesFileOverLimit) {
  TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.Path("f"), std::string(1001, 'a')));
  Result<std::string> r = ReadSmallFile(dir.Path("f"), 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_NE(r.status().message().find(dir.Path("f")), std::string::npos);
}

TEST(ReadSmallFileTest, DefaultLimitIsOneMebibyte) {
  TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.Path("ok"), std::string(1 << 20, 'a')));
  ASSERT_TRUE(WriteWholeFile(dir.Path("big"), std::string((1 << 20) + 1, 'a')));
  EXPECT_TRUE(ReadSmallFile(dir.Path("ok")).ok());
  EXPECT_EQ(ReadSmallFile(dir.Path("big")).status().code(), StatusCode::kResourceExhausted);
}

TEST(ReadSmallFileTest, MissingFileIsNotFound) {
  TempDir dir;
  Result<std::string> r = ReadSmallFile(dir.Path("missing"));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_NE(r.status().message().find(dir.Path("missing")), std::string::npos);
}

TEST(ReadSmallFileTest, RefusesDirectory) {
  TempDir dir;
  Result<std::string> r = ReadSmallFile(dir.path());
  EXPECT_FALSE(r.ok());
}

TEST(ReadSmallFileTest, ReadsBackWhatWriteFileAtomicWrote) {
  TempDir dir;
  constexpr char kData[] = "\x00\x01\x02 binary \xfe\xff";
  const std::string data(kData, sizeof kData - 1);  // 13 bytes, NULs included
  ASSERT_TRUE(WriteFileAtomic(dir.Path("f"), data, 0600).ok());
  Result<std::string> r = ReadSmallFile(dir.Path("f"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, data);
}

// --- MakeDirectories, FileMode, PathExists ---

TEST(MakeDirectoriesTest, CreatesParentsWithMode) {
  TempDir dir;
  const std::string deep = dir.Path("a/b/c");
  ASSERT_TRUE(MakeDirectories(deep, 0700).ok());
  EXPECT_TRUE(std::filesystem::is_directory(deep));
  EXPECT_EQ(ModeOf(deep), 0700);
  EXPECT_EQ(ModeOf(dir.Path("a")), 0700);
}

TEST(MakeDirectoriesTest, ExistingDirectoryIsOk) {
  TempDir dir;
  ASSERT_TRUE(MakeDirectories(dir.Path("x")).ok());
  EXPECT_TRUE(MakeDirectories(dir.Path("x")).ok());
  EXPECT_TRUE(MakeDirectories(dir.path()).ok());
}

TEST(MakeDirectoriesTest, RefusesPathThatIsAFile) {
  TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.Path("file"), "x"));
  EXPECT_FALSE(MakeDirectories(dir.Path("file")).ok());
  EXPECT_FALSE(MakeDirectories(dir.Path("file/sub")).ok());
}

TEST(FileModeTest, ReportsPermissionBits) {
  TempDir dir;
  const std::string path = dir.Path("f");
  ASSERT_TRUE(WriteWholeFile(path, "x"));
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  Result<mode_t> m = FileMode(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(*m, 0640u);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_EQ(*FileMode(path), 0600u);
}

TEST(FileModeTest, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_EQ(FileMode(dir.Path("missing")).status().code(), StatusCode::kNotFound);
}

TEST(PathExistsTest, FilesAndDirectories) {
  TempDir dir;
  EXPECT_TRUE(PathExists(dir.path()));
  EXPECT_FALSE(PathExists(dir.Path("f")));
  ASSERT_TRUE(WriteWholeFile(dir.Path("f"), ""));
  EXPECT_TRUE(PathExists(dir.Path("f")));
}

}  // namespace
}  // namespace sitechain
