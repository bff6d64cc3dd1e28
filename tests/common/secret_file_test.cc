#include "common/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <thread>

#include "tests/common/temp_dir.h"

namespace sitechain {
namespace {

using testutil::ModeOf;
using testutil::ReadWholeFile;
using testutil::TempDir;
using testutil::WriteWholeFile;

// A file with `text` and `mode` in dir.
std::string SecretFile(const TempDir& dir, const std::string& name, const std::string& text,
                       mode_t mode = 0600) {
  const std::string path = dir.Path(name);
  EXPECT_TRUE(WriteWholeFile(path, text));
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

TEST(ReadTokenFileTest, TheTokenWithoutTheWhitespaceAroundIt) {
  TempDir dir;
  std::istringstream no_input;
  std::ostringstream warnings;
  for (const std::string text : {"sct-0123\n", "sct-0123", "  sct-0123\r\n\n", "\tsct-0123 "}) {
    auto token = ReadTokenFile(SecretFile(dir, "t", text), no_input, warnings);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    EXPECT_EQ(*token, "sct-0123") << "from " << testing::PrintToString(text);
  }
  EXPECT_EQ(warnings.str(), "") << "a file of mode 0600 needs no warning";
}

TEST(ReadTokenFileTest, DashIsStandardInput) {
  std::istringstream in("a1b2.c3d4.e5f6\n");
  std::ostringstream warnings;
  auto token = ReadTokenFile("-", in, warnings);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, "a1b2.c3d4.e5f6");
  EXPECT_EQ(warnings.str(), "");
}

TEST(ReadTokenFileTest, EmptyOrBlankIsRefused) {
  TempDir dir;
  std::istringstream no_input;
  std::ostringstream warnings;
  for (const std::string text : {"", "\n", " \r\n\t\n"}) {
    auto token = ReadTokenFile(SecretFile(dir, "t", text), no_input, warnings);
    EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(token.status().message().find("the token file " + dir.Path("t") + " is empty"),
              std::string::npos)
        << token.status().ToString();
  }
  std::istringstream empty_input("\n");
  auto token = ReadTokenFile("-", empty_input, warnings);
  EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(token.status().message().find("the token on standard input is empty"),
            std::string::npos)
      << token.status().ToString();
}

TEST(ReadTokenFileTest, TwoTokensOrControlCharactersAreRefused) {
  TempDir dir;
  std::istringstream no_input;
  std::ostringstream warnings;
  for (const std::string text : {"sct-1\nsct-2\n", "sct-1 sct-2", "sct-\x1b[2J", "sct-1\x7f"}) {
    auto token = ReadTokenFile(SecretFile(dir, "t", text), no_input, warnings);
    EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(token.status().message().find("more than one token"), std::string::npos)
        << token.status().ToString();
  }
}

// Like ssh with a key: whoever can read the file can use the token; the warning says so and
// how to fix it, and the token is still read.
TEST(ReadTokenFileTest, FileReadableByGroupOrOthersIsWarnedAbout) {
  TempDir dir;
  std::istringstream no_input;
  const std::string path = dir.Path("t");
  for (const auto& [mode, who] : {std::pair<mode_t, std::string>{0644, "group and others"},
                                  {0640, "its group"},
                                  {0604, "others"}}) {
    std::ostringstream warnings;
    auto token = ReadTokenFile(SecretFile(dir, "t", "sct-1\n", mode), no_input, warnings);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    EXPECT_EQ(*token, "sct-1");
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(warnings.str(),
              "warning: the token file " + path + " is readable by " + who + " (mode " + octal +
                  "): whoever can read it can use the token; chmod 600 " + path + "\n");
  }
  // Write or execute bits for others do not let them read it.
  std::ostringstream warnings;
  ASSERT_TRUE(ReadTokenFile(SecretFile(dir, "t", "sct-1\n", 0622), no_input, warnings).ok());
  EXPECT_EQ(warnings.str(), "");
}

TEST(ReadTokenFileTest, MissingFileDirectoryAndHugeFileAreRefused) {
  TempDir dir;
  std::istringstream no_input;
  std::ostringstream warnings;
  auto token = ReadTokenFile(dir.Path("missing"), no_input, warnings);
  EXPECT_EQ(token.status().code(), StatusCode::kNotFound) << token.status().ToString();
  EXPECT_NE(token.status().message().find(dir.Path("missing")), std::string::npos);

  token = ReadTokenFile(dir.path(), no_input, warnings);
  EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument) << token.status().ToString();

  token = ReadTokenFile(SecretFile(dir, "big", std::string(kMaxSecretFileBytes + 1, 'a')), no_input,
                        warnings);
  EXPECT_EQ(token.status().code(), StatusCode::kResourceExhausted) << token.status().ToString();
  std::istringstream big_input(std::string(3 * kMaxSecretFileBytes, 'a'));
  token = ReadTokenFile("-", big_input, warnings);
  EXPECT_EQ(token.status().code(), StatusCode::kResourceExhausted) << token.status().ToString();

  // Exactly the limit is fine.
  token = ReadTokenFile(SecretFile(dir, "max", std::string(kMaxSecretFileBytes, 'a')), no_input,
                        warnings);
  EXPECT_TRUE(token.ok()) << token.status().ToString();
}

// bash's <(...) hands a pipe: read like a file, without a mode to warn about.
TEST(ReadTokenFileTest, APipeIsRead) {
  TempDir dir;
  const std::string fifo = dir.Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { WriteWholeFile(fifo, "sct-from-a-pipe\n"); });
  std::istringstream no_input;
  std::ostringstream warnings;
  auto token = ReadTokenFile(fifo, no_input, warnings);
  writer.join();
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, "sct-from-a-pipe");
  EXPECT_EQ(warnings.str(), "");
}

TEST(ReadPassphraseFileTest, FirstLineKeepsItsSpacesAndLooseModesAreWarnedAbout) {
  TempDir dir;
  std::ostringstream warnings;
  auto passphrase =
      ReadPassphraseFile(SecretFile(dir, "p", " two words \r\nsecond line\n"), warnings);
  ASSERT_TRUE(passphrase.ok()) << passphrase.status().ToString();
  EXPECT_EQ(passphrase->value_or(""), " two words ");
  EXPECT_EQ(warnings.str(), "");

  passphrase = ReadPassphraseFile(SecretFile(dir, "p", "pw\n", 0644), warnings);
  ASSERT_TRUE(passphrase.ok()) << passphrase.status().ToString();
  EXPECT_NE(warnings.str().find("the passphrase file " + dir.Path("p") + " is readable by"),
            std::string::npos)
      << warnings.str();

  passphrase = ReadPassphraseFile(SecretFile(dir, "p", "\nsecond line\n"), warnings);
  EXPECT_EQ(passphrase.status().code(), StatusCode::kInvalidArgument);

  passphrase = ReadPassphraseFile("", warnings);
  ASSERT_TRUE(passphrase.ok());
  EXPECT_FALSE(passphrase->has_value());
}

TEST(WriteTokenFileTest, PrivateNewFileWithTheTokenAndANewline) {
  TempDir dir;
  const std::string path = dir.Path("n1.token");
  ASSERT_TRUE(CheckTokenFileIsNew(path).ok());
  {
    testutil::ScopedUmask loose(0);  // the mode does not depend on the caller's umask
    ASSERT_TRUE(WriteTokenFile(path, "a.b.c").ok());
  }
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(ReadWholeFile(path), "a.b.c\n");

  EXPECT_EQ(CheckTokenFileIsNew(path).code(), StatusCode::kAlreadyExists);
  const Status again = WriteTokenFile(path, "d.e.f");
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_NE(again.message().find("choose another --out"), std::string::npos) << again.ToString();
  EXPECT_EQ(ReadWholeFile(path), "a.b.c\n");

  // What one end writes, the other reads, without a warning.
  std::istringstream no_input;
  std::ostringstream warnings;
  auto token = ReadTokenFile(path, no_input, warnings);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "a.b.c");
  EXPECT_EQ(warnings.str(), "");
}

}  // namespace
}  // namespace sitechain
