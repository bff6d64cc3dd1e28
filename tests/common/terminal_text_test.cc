#include "common/terminal_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace sitechain {
namespace {

using namespace std::string_literals;

// True if `text` holds a byte a terminal would act on: C0 (but line feed and tab when
// `lines_allowed`), DEL, or the first byte of a UTF-8 C1 control (0xc2 0x80-0x9f).
bool HasRawControl(const std::string& text, bool lines_allowed = false) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (lines_allowed && (b == '\n' || b == '\t')) continue;
    if (b < 0x20 || b == 0x7f) return true;
    if (b == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f &&
        static_cast<unsigned char>(text[i + 1]) >= 0x80) {
      return true;
    }
  }
  return false;
}

TEST(TerminalTextTest, PlainTextAndUnicodeAreKept) {
  EXPECT_EQ(ForTerminal("hello 1.0.0 (release 2)"), "hello 1.0.0 (release 2)");
  EXPECT_EQ(ForTerminal("Grüße, 東京, 🙂"), "Grüße, 東京, 🙂");
  EXPECT_EQ(ForTerminal(""), "");
  EXPECT_EQ(ForTerminal(R"({"args": ["a\\b"]})"), R"({"args": ["a\\b"]})");
}

// The attack of issue 17: a node reports an instance detail that clears the screen and sets the
// window title.
TEST(TerminalTextTest, EscapeSequencesAreShownNotExecuted) {
  const std::string attack = "crashed\x1b[2J\x1b]0;pwned\x07";
  const std::string shown = ForTerminal(attack);
  EXPECT_EQ(shown, R"(crashed\x1b[2J\x1b]0;pwned\x07)");
  EXPECT_FALSE(HasRawControl(shown));
}

TEST(TerminalTextTest, EveryC0ControlAndDelIsEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string shown = ForTerminal("a"s + static_cast<char>(c) + "b");
    EXPECT_FALSE(HasRawControl(shown)) << "control " << c << ": " << shown;
    EXPECT_EQ(shown.front(), 'a');
    EXPECT_EQ(shown.back(), 'b');
  }
  EXPECT_EQ(ForTerminal("a\x7f"), R"(a\x7f)");
  EXPECT_EQ(ForTerminal("\0"s), R"(\x00)");
  EXPECT_EQ(ForTerminal("\x1b"), R"(\x1b)");
}

// A field stays on its line and in its column: a peer cannot forge a line of the listing.
TEST(TerminalTextTest, LineFeedsTabsAndReturnsOfAFieldAreEscaped) {
  EXPECT_EQ(ForTerminal("running\nn2\thello\tcert\r"), R"(running\nn2\thello\tcert\r)");
}

TEST(TerminalTextTest, LinesKeepTheirLineFeedsAndTabsButNothingElse) {
  const std::string shown = ForTerminalLines("line 1\n\tline 2\x1b[31m\r\x9b");
  EXPECT_EQ(shown, "line 1\n\tline 2\\x1b[31m\\r\\x9b");
  EXPECT_FALSE(HasRawControl(shown, /*lines_allowed=*/true));
}

TEST(TerminalTextTest, C1ControlsEncodedInUtf8AreEscaped) {
  // U+009B is CSI: on a terminal that takes 8-bit controls it starts a sequence like ESC [.
  EXPECT_EQ(ForTerminal("a\xc2\x9b"
                        "2Jb"),
            R"(a\u009b2Jb)");
  EXPECT_EQ(ForTerminal("\xc2\x80\xc2\x9f"), R"(\u0080\u009f)");
  EXPECT_EQ(ForTerminal("\xc2\xa0"), "\xc2\xa0");  // U+00A0, the first after C1, is kept
}

TEST(TerminalTextTest, BidiControlsAndLineSeparatorsAreEscaped) {
  EXPECT_EQ(ForTerminal("abc\u202Efed"), R"(abc\u202efed)");
  EXPECT_EQ(ForTerminal("\u2066x\u2069"), R"(\u2066x\u2069)");
  EXPECT_EQ(ForTerminal("a\u2028b\u2029c"), R"(a\u2028b\u2029c)");
  EXPECT_EQ(ForTerminal("\u200E\u200F\u061C"), R"(\u200e\u200f\u061c)");
}

TEST(TerminalTextTest, BytesThatAreNotUtf8AreEscapedOneByOne) {
  EXPECT_EQ(ForTerminal("a\xff"
                        "b"),
            R"(a\xffb)");
  EXPECT_EQ(ForTerminal("\x80"), R"(\x80)");                          // a stray continuation byte
  EXPECT_EQ(ForTerminal("\xe6\x9d"), R"(\xe6\x9d)");                  // truncated at the end
  EXPECT_EQ(ForTerminal("\xe6\x9dx"), R"(\xe6\x9dx)");                // truncated before ASCII
  EXPECT_EQ(ForTerminal("\xc0\x9b"), R"(\xc0\x9b)");                  // ESC in an overlong form
  EXPECT_EQ(ForTerminal("\xc1\xbf"), R"(\xc1\xbf)");                  // overlong
  EXPECT_EQ(ForTerminal("\xe0\x80\x9b"), R"(\xe0\x80\x9b)");          // overlong, 3 bytes
  EXPECT_EQ(ForTerminal("\xed\xa0\x80"), R"(\xed\xa0\x80)");          // a surrogate
  EXPECT_EQ(ForTerminal("\xf4\x90\x80\x80"), R"(\xf4\x90\x80\x80)");  // beyond U+10FFFF
  EXPECT_EQ(ForTerminal("\xf8\x88\x80\x80\x80"), R"(\xf8\x88\x80\x80\x80)");
  EXPECT_EQ(ForTerminal("\xf0\x9f\x99\x82"), "\xf0\x9f\x99\x82");  // U+1F642 is kept
}

// Whatever the bytes, the result is valid UTF-8 without a control a terminal acts on.
TEST(TerminalTextTest, EveryByteValueAloneAndInPairsComesOutSafe) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      const std::string text{static_cast<char>(a), static_cast<char>(b), '\x1b'};
      const std::string shown = ForTerminal(text);
      ASSERT_FALSE(HasRawControl(shown)) << a << " " << b << ": " << shown;
      ASSERT_EQ(ForTerminal(shown), shown) << "escaping twice changes " << shown;
    }
  }
}

// --json output: the same JSON value, without a raw byte a terminal acts on.
TEST(TerminalTextTest, JsonStaysTheSameJsonWithItsControlsEscaped) {
  const nlohmann::json value = {
      {"detail", "a\x7f\xc2\x9b\u2066b\u2069\u202e\u2028 Grüße"}, {"n", 1}, {"list", {"x", "y"}}};
  for (const int indent : {-1, 2}) {
    const std::string raw = value.dump(indent);  // nlohmann keeps DEL, C1 and bidi raw
    ASSERT_TRUE(HasRawControl(raw, /*lines_allowed=*/true));
    const std::string shown = JsonForTerminal(raw);
    EXPECT_FALSE(HasRawControl(shown, /*lines_allowed=*/true)) << shown;
    EXPECT_EQ(shown.find("\xe2\x81\xa6"), std::string::npos) << "U+2066 is raw: " << shown;
    EXPECT_EQ(nlohmann::json::parse(shown), value) << shown;
  }
  EXPECT_EQ(JsonForTerminal("{\n  \"a\": \"\x7f\"\r\n}"), "{\n  \"a\": \"\\u007f\"\r\n}");
  // Not UTF-8 (protobuf drops such bytes, nlohmann throws on them): U+FFFD.
  EXPECT_EQ(JsonForTerminal("\"a\xff\""), R"("a\ufffd")");
  EXPECT_EQ(nlohmann::json::parse(JsonForTerminal("\"a\xff\"")).get<std::string>(), "a\uFFFD");
}

}  // namespace
}  // namespace sitechain
