#include "slsm/join_token.h"

namespace sitechain::slsm {

std::string FormatJoinToken(const JoinToken& token) {
  return token.id + "." + token.secret + "." + token.fingerprint;
}

Result<JoinToken> ParseJoinToken(std::string_view token) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (token.size() > kMaxJoinTokenBytes || dot2 == std::string_view::npos) {
    return Unauthenticated("malformed join token; ask the site admin for one (slsm tokens create)");
  }
  return JoinToken{std::string(token.substr(0, dot1)),
                   std::string(token.substr(dot1 + 1, dot2 - dot1 - 1)),
                   std::string(token.substr(dot2 + 1))};
}

}  // namespace sitechain::slsm
