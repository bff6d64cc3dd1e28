#pragma once
// Small file-system helpers for the unit and integration tests: a temporary directory that
// removes itself, plain whole-file read/write, directory listing, reading a descriptor to its end
// and a scoped umask, none of which goes through the code under test.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <string_view>

namespace sitechain::testutil {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
// Not thread-safe; one per test.
class TempDir final {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sitechain-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << tmpl << ") failed";
      return;
    }
    path_ = tmpl;
    // Others may pass (not list): where the tests run as root, the node managers below run each
    // service as its own user, which must reach its files.
    ::chmod(path_.c_str(), 0711);
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    // A test may have left a read-only directory behind; make everything removable first.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
    }
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string Path(std::string_view name) const { return path_ + "/" + std::string(name); }

  // The names of the entries directly inside the directory (hidden ones included).
  std::set<std::string> Entries() const;

 private:
  std::string path_;
};

// The names of the entries directly inside dir (hidden ones included); empty if it cannot be
// read.
inline std::set<std::string> EntriesOf(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

inline std::set<std::string> TempDir::Entries() const { return EntriesOf(path_); }

// Writes data to path (truncating), independently of common/files.h. Returns false on failure.
inline bool WriteWholeFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  return static_cast<bool>(out);
}

// Reads a whole file, independently of common/files.h; empty if it cannot be read.
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The permission bits of path (stat), or -1 if it cannot be stat'ed.
inline int ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// Reads everything from fd until end of file (or an error other than EINTR).
inline std::string ReadFd(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sets the process umask for the lifetime of the object.
class ScopedUmask final {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

}  // namespace sitechain::testutil
