// Tests of the join token's form (slsm/join_token.h): the split at the first two dots, the
// refusals, and FormatJoinToken as its inverse.

#include "slsm/join_token.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sitechain::slsm {
namespace {

TEST(JoinTokenTest, SplitsAtTheFirstTwoDots) {
  const std::string fingerprint(64, 'a');
  Result<JoinToken> t = ParseJoinToken("0a1b2c3d.00112233445566778899aabbccddeeff." + fingerprint);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->id, "0a1b2c3d");
  EXPECT_EQ(t->secret, "00112233445566778899aabbccddeeff");
  EXPECT_EQ(t->fingerprint, fingerprint);

  // Everything after the second dot is the fingerprint, dots and all; empty parts split too
  // (whether such a token is known is the lookup's business).
  t = ParseJoinToken("id.secret.f.g");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->fingerprint, "f.g");
  t = ParseJoinToken("..");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->id, "");
  EXPECT_EQ(t->secret, "");
  EXPECT_EQ(t->fingerprint, "");
}

TEST(JoinTokenTest, FormatIsTheInverse) {
  for (const std::string token : {"a.b.c", "id.secret.f.g", "..", "x.y."}) {
    Result<JoinToken> t = ParseJoinToken(token);
    ASSERT_TRUE(t.ok()) << token;
    EXPECT_EQ(FormatJoinToken(*t), token);
  }
  EXPECT_EQ(FormatJoinToken({"i", "s", "f"}), "i.s.f");
}

TEST(JoinTokenTest, RefusesTokensWithoutTwoDotsOrTooLong) {
  const std::vector<std::string> tokens = {"", "token", "id.secret",
                                           "a.b." + std::string(kMaxJoinTokenBytes - 3, 'c')};
  for (const std::string& token : tokens) {
    Result<JoinToken> t = ParseJoinToken(token);
    ASSERT_FALSE(t.ok()) << token;
    EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
    EXPECT_NE(t.status().message().find("malformed join token"), std::string::npos);
  }
  EXPECT_TRUE(ParseJoinToken(std::string("a.b.") + std::string(kMaxJoinTokenBytes - 4, 'c')).ok());
}

}  // namespace
}  // namespace sitechain::slsm
