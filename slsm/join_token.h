#pragma once
// The join token a site admin hands to a node (slsm tokens create): "<id>.<secret>.<fingerprint>".
// The id and the secret are the credential (the site keeps only a hash of "<id>.<secret>",
// enrollment_db.h); the fingerprint is the SHA-256 of the site root, for the node to check the
// root it is sent on first contact. Plain functions on values; thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sitechain::slsm {

// The longest token ParseJoinToken accepts (Enrollment makes tokens of 8 + 32 + 64 bytes and
// two dots).
inline constexpr size_t kMaxJoinTokenBytes = 256;

struct JoinToken {
  std::string id;           // without a dot
  std::string secret;       // without a dot
  std::string fingerprint;  // everything after the second dot
};

// "<id>.<secret>.<fingerprint>".
std::string FormatJoinToken(const JoinToken& token);
// Splits a token at its first two dots. UNAUTHENTICATED ("malformed join token") for a token
// longer than kMaxJoinTokenBytes or with fewer than two dots. Checks nothing else: whether the
// token is known, unused and unexpired is Enrollment's business.
Result<JoinToken> ParseJoinToken(std::string_view token);

}  // namespace sitechain::slsm
