#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/unique_fd.h"

namespace sitechain {
namespace {

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + " is not a regular file");
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return ResourceExhausted(path + " is " + std::to_string(st.st_size) +
                             " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return ResourceExhausted(path + " grew past the size limit");
  }
  return out;
}

namespace {

// Sets the temporary file's mtime (and atime) before it replaces `path`; see the header.
Status SetLaterMtime(int fd, const std::string& path, const std::string& tmp) {
  struct stat old {};
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  time_t seconds = now.tv_sec;
  if (::stat(path.c_str(), &old) == 0 && old.st_mtim.tv_sec >= seconds) {
    seconds = old.st_mtim.tv_sec + 1;
  }
  const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  if (::futimens(fd, times) != 0) return ErrnoStatus("cannot set the mtime of", tmp, errno);
  return Status::Ok();
}

Status WriteAtomic(const std::string& path, std::string_view data, mode_t mode, bool overwrite,
                   bool later_mtime, gid_t group = static_cast<gid_t>(-1)) {
  namespace fs = std::filesystem;
  if (!overwrite && PathExists(path)) {
    return AlreadyExists(path + " exists; refusing to overwrite it");
  }
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  int raw = ::mkstemp(tmpl.data());
  if (raw < 0) return ErrnoStatus("cannot create a temporary file in", dir.string(), errno);
  UniqueFd fd(raw);
  auto fail = [&](Status s) {
    ::unlink(tmpl.c_str());
    return s;
  };
  if (group != static_cast<gid_t>(-1) && ::fchown(fd.get(), static_cast<uid_t>(-1), group) != 0) {
    return fail(ErrnoStatus("cannot give group " + std::to_string(group) + " to", tmpl, errno));
  }
  if (::fchmod(fd.get(), mode) != 0) return fail(ErrnoStatus("cannot chmod", tmpl, errno));
  if (Status s = WriteAll(fd.get(), data, tmpl); !s.ok()) return fail(s);
  if (later_mtime) {
    if (Status s = SetLaterMtime(fd.get(), path, tmpl); !s.ok()) return fail(s);
  }
  if (::fsync(fd.get()) != 0) return fail(ErrnoStatus("cannot fsync", tmpl, errno));
  if (::close(fd.release()) != 0) return fail(ErrnoStatus("cannot close", tmpl, errno));
  if (!overwrite) {
    // link(2) fails if the target appeared meanwhile: no silent overwrite even under a race.
    if (::link(tmpl.c_str(), path.c_str()) != 0)
      return fail(ErrnoStatus("cannot create", path, errno));
    ::unlink(tmpl.c_str());
  } else if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    return fail(ErrnoStatus("cannot rename onto", path, errno));
  }
  return SyncDirectory(dir);
}

}  // namespace

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                       bool overwrite) {
  return WriteAtomic(path, data, mode, overwrite, /*later_mtime=*/false);
}

Status ReplaceFileWithLaterMtime(const std::string& path, std::string_view data, mode_t mode,
                                 gid_t group) {
  return WriteAtomic(path, data, mode, /*overwrite=*/true, /*later_mtime=*/true, group);
}

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return NotFound(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return PermissionDenied(msg);
    case EEXIST:
      return AlreadyExists(msg);
    case ENOSPC:
    case EDQUOT:
      return ResourceExhausted(msg);
    default:
      return Unavailable(msg);
  }
}

Status SyncDirectory(const std::string& dir) {
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) return ErrnoStatus("cannot open directory", dir, errno);
  if (::fsync(dfd.get()) != 0) return ErrnoStatus("cannot fsync directory", dir, errno);
  return Status::Ok();
}

Status MakeDirectories(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::path p(path);
  std::filesystem::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (cur.empty() || std::filesystem::is_directory(cur, ec)) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoStatus("cannot create directory", cur.string(), errno);
    }
  }
  if (!std::filesystem::is_directory(p, ec)) return InvalidArgument(path + " is not a directory");
  return Status::Ok();
}

Result<mode_t> FileMode(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
  return static_cast<mode_t>(st.st_mode & 07777);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace sitechain
