#pragma once
// Executables on disk, named by their digest (the store's blobs, the site manager's and the
// node's packages):
//   <dir>/<algorithm>-<hex digest>    one file per blob (mode 0644 by default), e.g. sha256-9f86d0…
//   <dir>/tmp/                        uploads in progress
// A blob appears under its name only when complete: a Writer streams into a temporary file,
// hashing as it writes (never holding the whole executable in memory), fsyncs it, and Commit
// renames it into place and fsyncs the directory. A Writer that is dropped without Commit
// removes its temporary file, and Open removes whatever a crash left in tmp/, so a half-received
// upload leaves no trace.
//
// Thread-safety: BlobStore methods may be called from several threads; a Writer belongs to one.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "pki/hash.h"

namespace sitechain::storage {

class BlobStore final {
 public:
  class Writer;

  // Opens (creating with mode 0755 if needed) the blob directory and empties its tmp/.
  // file_mode: the blobs' mode (a node keeps executable packages as 0555).
  static Result<BlobStore> Open(const std::string& dir, mode_t file_mode = 0644);

  // The file name of the blob with this digest: "<algorithm>-<hex>".
  static std::string BlobName(const pki::Digest& digest);

  // Starts an upload hashed with `alg`. At most max_bytes may be appended (RESOURCE_EXHAUSTED
  // beyond, and the upload is spoiled).
  Result<Writer> StartUpload(pki::HashAlgorithm alg, uint64_t max_bytes) const;

  // Opens the blob read-only. NOT_FOUND if there is none of that name.
  Result<UniqueFd> Open(const pki::Digest& digest) const;
  bool Contains(const pki::Digest& digest) const;
  // Removes the blob; OK if it was already gone.
  Status Remove(const std::string& blob_name) const;
  // The names of every complete blob.
  Result<std::vector<std::string>> List() const;

  const std::string& dir() const { return dir_; }
  // How many interrupted uploads Open removed from tmp/ (for the owner's log).
  size_t removed_leftovers() const { return removed_leftovers_; }

 private:
  BlobStore(std::string dir, mode_t file_mode) : dir_(std::move(dir)), file_mode_(file_mode) {}
  std::string dir_;
  mode_t file_mode_;
  size_t removed_leftovers_ = 0;
};

class BlobStore::Writer final {
 public:
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  ~Writer();  // removes the temporary file unless committed

  // Writes and hashes the bytes. RESOURCE_EXHAUSTED past max_bytes; on a write error the
  // ErrnoStatus of common/files.h (RESOURCE_EXHAUSTED for a full disk), naming the file.
  Status Append(std::span<const uint8_t> bytes);
  uint64_t size() const;

  // Flushes and fsyncs the temporary file and returns the digest of everything appended (the
  // ErrnoStatus of a failed fsync or close otherwise). After Finish only Commit (or
  // destruction) is allowed.
  Result<pki::Digest> Finish();

  // Renames the finished file to its digest name (replacing an identical blob if one exists)
  // and fsyncs the directory. Returns the blob name.
  Result<std::string> Commit();

 private:
  friend class BlobStore;
  struct State;
  explicit Writer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sitechain::storage
