#include "storage/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include "common/files.h"

namespace sitechain::storage {

using pki::Digest;
using pki::DigestSize;
using pki::HashAlgorithm;
using pki::HashAlgorithmName;
using pki::Hasher;

namespace {

constexpr std::string_view kTmpDirName = "tmp";

// Makes sure path is a directory, creating it with mode if it is missing.
Status EnsureDirectory(const std::string& path, mode_t mode) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return FailedPrecondition(path + " exists but is not a directory");
  }
  if (errno != ENOENT) {
    return FailedPrecondition("cannot use " + path +
                              " as a blob directory: " + std::strerror(errno));
  }
  if (Status s = MakeDirectories(path, mode); !s.ok()) {
    return FailedPrecondition("cannot create the blob directory " + path + ": " + s.message());
  }
  return Status::Ok();
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// True for "<algorithm>-<lower-case hex of the algorithm's digest size>", exactly as BlobName
// spells it.
bool LooksLikeBlobName(std::string_view name) {
  for (HashAlgorithm alg : {HashAlgorithm::kSha256, HashAlgorithm::kSha512}) {
    std::string prefix = std::string(HashAlgorithmName(alg)) + "-";
    if (name.substr(0, prefix.size()) != prefix) continue;
    std::string_view hex = name.substr(prefix.size());
    return hex.size() == 2 * DigestSize(alg) && std::all_of(hex.begin(), hex.end(), IsLowerHex);
  }
  return false;
}

}  // namespace

// ---- Writer ----

struct BlobStore::Writer::State {
  State(UniqueFd f, std::string tmp, HashAlgorithm alg, uint64_t max, std::string dir)
      : fd(std::move(f)),
        temp_path(std::move(tmp)),
        hasher(alg),
        max_bytes(max),
        blob_dir(std::move(dir)) {}
  ~State() {
    fd = UniqueFd();
    if (!committed) ::unlink(temp_path.c_str());
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  UniqueFd fd;            // open until Finish
  std::string temp_path;  // <dir>/tmp/upload-XXXXXX
  Hasher hasher;
  uint64_t bytes = 0;
  uint64_t max_bytes;
  std::string blob_dir;
  std::optional<Digest> digest;  // set by Finish
  bool finished = false;
  bool committed = false;
  bool spoiled = false;  // refused or failed; only destruction is left
};

BlobStore::Writer::Writer(std::unique_ptr<State> state) : state_(std::move(state)) {}
BlobStore::Writer::Writer(Writer&&) noexcept = default;
// The old state (if any) is destroyed, removing its temporary file unless committed.
BlobStore::Writer& BlobStore::Writer::operator=(Writer&&) noexcept = default;
BlobStore::Writer::~Writer() = default;

uint64_t BlobStore::Writer::size() const { return state_ ? state_->bytes : 0; }

Status BlobStore::Writer::Append(std::span<const uint8_t> bytes) {
  if (!state_) return FailedPrecondition("the upload writer was moved from");
  State& s = *state_;
  if (s.spoiled) return FailedPrecondition("the upload was abandoned after an earlier error");
  if (s.committed) return FailedPrecondition("the upload was already committed");
  if (s.finished) return FailedPrecondition("cannot append to an upload after Finish");
  if (bytes.size() > s.max_bytes - s.bytes) {
    s.spoiled = true;
    return ResourceExhausted("the executable exceeds the store's limit of " +
                             std::to_string(s.max_bytes) + " bytes");
  }
  const uint8_t* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(s.fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      s.spoiled = true;
      // ENOSPC/EDQUOT: RESOURCE_EXHAUSTED ("No space left on device"), EROFS: PERMISSION_DENIED.
      return ErrnoStatus("cannot write", s.temp_path, err);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  s.hasher.Update(bytes.data(), bytes.size());
  s.bytes += bytes.size();
  return Status::Ok();
}

Result<Digest> BlobStore::Writer::Finish() {
  if (!state_) return FailedPrecondition("the upload writer was moved from");
  State& s = *state_;
  if (s.spoiled) return FailedPrecondition("the upload was abandoned after an earlier error");
  if (s.finished) return FailedPrecondition("the upload was already finished");
  if (::fsync(s.fd.get()) != 0) {
    int err = errno;
    s.spoiled = true;
    return ErrnoStatus("cannot fsync", s.temp_path, err);
  }
  if (::close(s.fd.release()) != 0) {
    int err = errno;
    s.spoiled = true;
    return ErrnoStatus("cannot close", s.temp_path, err);
  }
  s.finished = true;
  s.digest = s.hasher.Final();
  return *s.digest;
}

Result<std::string> BlobStore::Writer::Commit() {
  if (!state_) return FailedPrecondition("the upload writer was moved from");
  State& s = *state_;
  if (s.spoiled) return FailedPrecondition("the upload was abandoned after an earlier error");
  if (s.committed) return FailedPrecondition("the upload was already committed");
  if (!s.finished) return FailedPrecondition("Commit needs Finish first");
  std::string name = BlobName(*s.digest);
  std::string target = s.blob_dir + "/" + name;
  // rename(2) atomically replaces an existing blob, which has the same content by construction.
  if (::rename(s.temp_path.c_str(), target.c_str()) != 0) {
    return ErrnoStatus("cannot rename " + s.temp_path + " onto", target, errno);
  }
  s.committed = true;  // the temporary file is gone; nothing left to clean up
  SITECHAIN_RETURN_IF_ERROR(SyncDirectory(s.blob_dir));
  return name;
}

// ---- BlobStore ----

Result<BlobStore> BlobStore::Open(const std::string& dir, mode_t file_mode) {
  if (dir.empty()) return InvalidArgument("the blob directory path is empty");
  SITECHAIN_RETURN_IF_ERROR(EnsureDirectory(dir, 0755));
  std::string tmp = dir + "/" + std::string(kTmpDirName);
  SITECHAIN_RETURN_IF_ERROR(EnsureDirectory(tmp, 0700));
  // Whatever is in tmp/ is an upload interrupted by a crash (or a concurrent upload of another
  // process sharing the directory, which is not supported).
  std::error_code ec;
  std::filesystem::directory_iterator it(tmp, ec);
  if (ec) return ErrnoStatus("cannot list", tmp, ec.value());
  size_t removed = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    ++removed;
    std::error_code rm_ec;
    std::filesystem::remove_all(it->path(), rm_ec);
    if (rm_ec) {
      return ErrnoStatus("cannot remove the leftover upload", it->path().string(), rm_ec.value());
    }
  }
  if (ec) return ErrnoStatus("cannot list", tmp, ec.value());
  BlobStore store(dir, file_mode);
  store.removed_leftovers_ = removed;
  return store;
}

std::string BlobStore::BlobName(const Digest& digest) {
  return std::string(HashAlgorithmName(digest.algorithm)) + "-" + digest.Hex();
}

Result<BlobStore::Writer> BlobStore::StartUpload(HashAlgorithm alg, uint64_t max_bytes) const {
  std::string tmpl = dir_ + "/" + std::string(kTmpDirName) + "/upload-XXXXXX";
  // mkostemp opens with O_RDWR | O_CREAT | O_EXCL, plus the flags given.
  UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot create a temporary file in", dir_ + "/tmp", errno);
  if (::fchmod(fd.get(), file_mode_) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return ErrnoStatus("cannot chmod", tmpl, err);
  }
  return Writer(std::make_unique<Writer::State>(std::move(fd), tmpl, alg, max_bytes, dir_));
}

Result<UniqueFd> BlobStore::Open(const Digest& digest) const {
  std::string name = BlobName(digest);
  std::string path = dir_ + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFound("no blob " + name + " in " + dir_);
    return ErrnoStatus("cannot open", path, errno);
  }
  return fd;
}

bool BlobStore::Contains(const Digest& digest) const {
  struct stat st;
  std::string path = dir_ + "/" + BlobName(digest);
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status BlobStore::Remove(const std::string& blob_name) const {
  if (blob_name.empty() || blob_name.front() == '.' ||
      blob_name.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    return InvalidArgument("'" + blob_name + "' is not a blob name");
  }
  std::string path = dir_ + "/" + blob_name;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("cannot remove", path, errno);
  }
  return SyncDirectory(dir_);
}

Result<std::vector<std::string>> BlobStore::List() const {
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  if (ec) return ErrnoStatus("cannot list", dir_, ec.value());
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string name = it->path().filename().string();
    if (!LooksLikeBlobName(name)) continue;
    std::error_code st_ec;
    if (!it->is_regular_file(st_ec) || it->is_symlink(st_ec)) continue;
    names.push_back(std::move(name));
  }
  if (ec) return ErrnoStatus("cannot list", dir_, ec.value());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace sitechain::storage
