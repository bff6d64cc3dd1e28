#include "common/identity_file.h"

#include <cctype>

#include "common/files.h"

namespace sitechain {
namespace {

constexpr size_t kMaxIdentityFileBytes = 64 << 10;

bool IsBlank(std::string_view text) {
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

Status WriteIdentityFile(const std::string& path, const IdentityPem& identity,
                         std::optional<gid_t> group) {
  std::string text = identity.key_pem;
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += identity.chain_pem;
  if (!text.empty() && text.back() != '\n') text += '\n';
  if (group) return ReplaceFileWithLaterMtime(path, text, 0440, *group);
  return ReplaceFileWithLaterMtime(path, text, 0600);
}

Result<IdentityPem> ParseIdentityPem(std::string_view text) {
  IdentityPem out;
  int keys = 0;
  int certificates = 0;
  size_t pos = 0;
  while (true) {
    const size_t begin = text.find("-----BEGIN ", pos);
    if (!IsBlank(text.substr(pos, begin == std::string_view::npos ? text.npos : begin - pos))) {
      return InvalidArgument("identity file: text outside a PEM block");
    }
    if (begin == std::string_view::npos) break;
    const size_t label_end = text.find("-----", begin + 11);
    if (label_end == std::string_view::npos) return InvalidArgument("identity file: truncated");
    const std::string_view label = text.substr(begin + 11, label_end - (begin + 11));
    const std::string end_line = "-----END " + std::string(label) + "-----";
    const size_t end = text.find(end_line, label_end);
    if (end == std::string_view::npos) {
      return InvalidArgument("identity file: a " + std::string(label) + " block has no end line");
    }
    std::string block(text.substr(begin, end + end_line.size() - begin));
    block += '\n';
    if (label == "PRIVATE KEY") {
      ++keys;
      out.key_pem = std::move(block);
    } else if (label == "CERTIFICATE") {
      ++certificates;
      out.chain_pem += block;
    } else {
      return InvalidArgument("identity file: unexpected PEM block " + std::string(label) +
                             " (expected one PRIVATE KEY and CERTIFICATE blocks)");
    }
    pos = end + end_line.size();
  }
  if (keys != 1) {
    return InvalidArgument("identity file: " + std::to_string(keys) +
                           " private keys (expected exactly one)");
  }
  if (certificates == 0) return InvalidArgument("identity file: no certificate");
  return out;
}

Result<IdentityPem> ReadIdentityFile(const std::string& path) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, kMaxIdentityFileBytes));
  auto parsed = ParseIdentityPem(text);
  if (!parsed.ok()) return Status(parsed.status().code(), path + ": " + parsed.status().message());
  return parsed;
}

}  // namespace sitechain
