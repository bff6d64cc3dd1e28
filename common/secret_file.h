#pragma once
// Secrets a CLI reads from a file rather than from its command line (where every user of the
// machine sees them in `ps` and /proc/<pid>/cmdline): passphrases (--passphrase-file) and
// one-time tokens (--token-file). Shared by every sitechain program; common/cli.h includes it.
//
// One reader for both: at most 4096 bytes; the path "-" is standard input (tokens); a regular
// file that group or others may read gets a warning on `warnings` (as ssh warns about keys),
// since whoever can read it can use the secret. The warning does not refuse: a file made by
// another tool with a loose umask still works, and the operator learns to chmod it.
//
// Thread-compatible (reads the given streams). WriteTokenFile is the other end: the CLIs that
// create tokens write them to a private file.

#include <iostream>
#include <optional>
#include <string>

#include "common/result.h"

namespace sitechain {

// The most a secret file may hold; a larger one is refused with RESOURCE_EXHAUSTED.
inline constexpr size_t kMaxSecretFileBytes = 4096;

// Reads a passphrase from a file (its first line, without the line ending). An empty path: no
// passphrase. Refuses an empty passphrase (INVALID_ARGUMENT), which would silently write an
// unencrypted key; a missing file is NOT_FOUND.
Result<std::optional<std::string>> ReadPassphraseFile(const std::string& path,
                                                      std::ostream& warnings = std::cerr);

// Reads a token (a store's registration token, a site's join token) from a file, or from
// `standard_input` when path is "-". Whitespace around it (the newline `echo` or an editor adds)
// is dropped. INVALID_ARGUMENT if nothing is left, or if what is left holds whitespace or a
// control character (a file with two tokens, or not a token at all).
Result<std::string> ReadTokenFile(const std::string& path, std::istream& standard_input = std::cin,
                                  std::ostream& warnings = std::cerr);

// Writes a token that a command created to `path` (`tokens create --out`), so that it reaches
// the one who needs it without passing through a terminal or its scrollback: mode 0600 from the
// start, written to a temporary file and renamed into place, with a newline. An existing path is
// refused with ALREADY_EXISTS (it may hold a token not used yet); CheckTokenFileIsNew says so
// before a token is created in vain.
Status CheckTokenFileIsNew(const std::string& path);
Status WriteTokenFile(const std::string& path, const std::string& token);

}  // namespace sitechain
