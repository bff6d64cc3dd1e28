#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace sitechain {

// Reads a whole small file (certificates, keys, CSRs, configuration). Refuses files larger than
// max_bytes with RESOURCE_EXHAUSTED so that a wrong path cannot make us read a huge file.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 1 << 20);

// Writes data to path atomically: a temporary file in the same directory, fsync, rename, fsync
// of the directory. A crash leaves either the old file or the new one, never a mix. The file is
// created with `mode` (before any byte is written, so secrets are never briefly world-readable).
// With overwrite=false an existing file is refused with ALREADY_EXISTS.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       bool overwrite = true);

// The same, replacing the file with one whose modification time (whole seconds) is strictly
// later than the replaced file's: now, or one second past the old one if that is not earlier.
// Readers that detect a replacement between two reads by comparing mtimes (gRPC's
// FileWatcherCertificateProvider reads a key and a certificate so) then never miss one, however
// fast replacements follow each other. The mtime (and `group`, unless -1) is set before the
// rename.
Status ReplaceFileWithLaterMtime(const std::string& path, std::string_view data, mode_t mode,
                                 gid_t group = static_cast<gid_t>(-1));

// Creates a directory (and its parents) with the given mode; OK if it exists as a directory.
Status MakeDirectories(const std::string& path, mode_t mode = 0755);

// Returns the permission bits of path (lstat), or NOT_FOUND.
Result<mode_t> FileMode(const std::string& path);

bool PathExists(const std::string& path);

// fsyncs a directory, so that a rename or unlink in it survives a crash.
Status SyncDirectory(const std::string& dir);

// "<what> <path>: <strerror>" with the code errno suggests: ENOENT NOT_FOUND, EACCES/EPERM/EROFS
// PERMISSION_DENIED, EEXIST ALREADY_EXISTS, ENOSPC/EDQUOT RESOURCE_EXHAUSTED, else UNAVAILABLE.
Status ErrnoStatus(const std::string& what, const std::string& path, int err);

}  // namespace sitechain
