#include "common/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/files.h"
#include "common/unique_fd.h"

namespace sitechain {
namespace {

// "the token file x.token", "the token on standard input": how messages name the secret.
std::string Name(const std::string& path, const std::string& what) {
  return path == "-" ? "the " + what + " on standard input" : "the " + what + " file " + path;
}

Status TooLarge(const std::string& path, const std::string& what) {
  return ResourceExhausted(Name(path, what) + " holds more than " +
                           std::to_string(kMaxSecretFileBytes) + " bytes; is it the right file?");
}

// Warns when a regular file's mode lets group or others read it.
void WarnIfReadableByOthers(const std::string& path, const std::string& what, mode_t mode,
                            std::ostream& warnings) {
  const bool group = (mode & S_IRGRP) != 0, others = (mode & S_IROTH) != 0;
  if (!group && !others) return;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  warnings << "warning: " << Name(path, what) << " is readable by "
           << (group && others ? "group and others"
               : group         ? "its group"
                               : "others")
           << " (mode " << octal << "): whoever can read it can use the " << what << "; chmod 600 "
           << path << "\n";
}

// The bytes of the secret: from `standard_input` for "-", else from the file (a regular file,
// a pipe such as bash's <(...), or a character device such as /dev/stdin).
Result<std::string> ReadSecret(const std::string& path, const std::string& what,
                               std::istream& standard_input, std::ostream& warnings) {
  std::string text;
  if (path == "-") {
    char buffer[1024];
    while (text.size() <= kMaxSecretFileBytes &&
           standard_input.read(buffer, sizeof buffer).gcount() > 0) {
      text.append(buffer, static_cast<size_t>(standard_input.gcount()));
    }
    if (standard_input.bad()) return Unavailable("cannot read " + Name(path, what));
    if (text.size() > kMaxSecretFileBytes) return TooLarge(path, what);
    return text;
  }
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("cannot open the " + what + " file", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) return InvalidArgument(Name(path, what) + " is a directory");
  if (S_ISREG(st.st_mode)) WarnIfReadableByOthers(path, what, st.st_mode, warnings);
  char buffer[1024];
  while (text.size() <= kMaxSecretFileBytes) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot read the " + what + " file", path, errno);
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  if (text.size() > kMaxSecretFileBytes) return TooLarge(path, what);
  return text;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Result<std::optional<std::string>> ReadPassphraseFile(const std::string& path,
                                                      std::ostream& warnings) {
  if (path.empty()) return std::optional<std::string>();
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSecret(path, "passphrase", std::cin, warnings));
  // Only the line ending goes: spaces may be part of a passphrase.
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) return InvalidArgument("passphrase file " + path + " is empty");
  return std::optional<std::string>(std::move(text));
}

Result<std::string> ReadTokenFile(const std::string& path, std::istream& standard_input,
                                  std::ostream& warnings) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSecret(path, "token", standard_input, warnings));
  size_t begin = 0, end = text.size();
  while (begin < end && IsSpace(text[begin])) ++begin;
  while (end > begin && IsSpace(text[end - 1])) --end;
  text = text.substr(begin, end - begin);
  if (text.empty()) {
    return InvalidArgument(Name(path, "token") +
                           " is empty: put the token that the administrator created in it");
  }
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f) {
      return InvalidArgument(Name(path, "token") +
                             " holds more than one token, or something else: a token is one word "
                             "without spaces or control characters");
    }
  }
  return text;
}

Status CheckTokenFileIsNew(const std::string& path) {
  if (!PathExists(path)) return Status::Ok();
  return AlreadyExists(path + " exists and may hold a token not used yet: choose another --out");
}

Status WriteTokenFile(const std::string& path, const std::string& token) {
  SITECHAIN_RETURN_IF_ERROR(CheckTokenFileIsNew(path));
  return WriteFileAtomic(path, token + "\n", 0600, /*overwrite=*/false);
}

}  // namespace sitechain
