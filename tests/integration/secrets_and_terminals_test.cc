// Secrets and terminals (issue 17, point 7), against the real `store serve`, `slsm serve`,
// `nlsm enroll`, the admin commands and the devkit:
//   - a join token goes from `slsm tokens create --out FILE` (mode 0600) to `nlsm enroll
//     --token-file FILE` without a command line or a terminal seeing it (the store's tokens and
//     `devkit register` are in cli_test.cc);
//   - other parties' strings reach the operator's terminal escaped: a node that reports an
//     instance state and detail full of escape sequences (`slsm instances`), a developer whose
//     revocation reason holds C1 and bidirectional controls (`devkit revocations`, `releases`).
//     The text output shows them escaped (common/terminal_text.h), the JSON output escapes them
//     as JSON does; neither carries a byte a terminal acts on.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/site_server.h"
#include "tests/integration/store_server.h"
#include "tests/integration/test_node.h"

namespace sitechain::testutil {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kExitOk = 0;
constexpr milliseconds kDeadline = seconds(15);
constexpr milliseconds kPoll = milliseconds(50);

// The first byte of `text` a terminal would act on (C0 but line feed and tab, DEL, a UTF-8 C1
// control), as "offset N: 0xHH"; empty if there is none.
std::string RawControl(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    const bool c1 = b == 0xc2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7f || c1) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", c1 ? static_cast<unsigned char>(text[i + 1]) : b);
      return "offset " + std::to_string(i) + ": " + hex;
    }
  }
  return "";
}

class SecretsAndTerminalsTest : public ProgramTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProgramTest::SetUp());
    ASSERT_TRUE(template_.CopyInto(dir_));
    auto root = pki::Certificate::Load(Path("node-store-root.pem"));
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    node_store_root_.emplace(*root);
    ASSERT_OK(world_.ServeStore());
  }

  void TearDown() override {
    node_.reset();  // before the servers: its stream closes first
    site_.reset();
    store_.reset();
  }

  static void TearDownTestSuite() { template_.Reset(); }

  ProcessResult Slsm(std::vector<std::string> args) const {
    args.insert(args.end(), {"--dir", "site"});
    return Run(Bin("slsm"), std::move(args));
  }

  // A site serving "site", hello 1.0.0 installed and deployed to node n1, whose stream is open
  // and whose Deploy has arrived.
  void StartSiteWithNode() {
    ASSERT_OK(world_.InitSite("site", "site-a"));
    site_ = world_.NewSite("site", {{"heartbeat_timeout", "5s"}});
    ASSERT_TRUE(site_->Start());
    ProcessResult r = Slsm({"install", "hello", "1.0.0"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    r = Slsm({"tokens", "create", "n1"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    node_ = std::make_unique<TestNode>("n1", site_->address(), *node_store_root_);
    ASSERT_OK(node_->Enroll(Trim(r.out)));
    ASSERT_OK(node_->Connect());
    r = Slsm({"deploy", "hello", "--nodes", "n1"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    ASSERT_TRUE(node_->WaitForCommand(nlsm::Command::Kind::kDeploy, "hello", kDeadline))
        << site_->log();
  }

  static inline StoreTemplate template_{
      {"alice"}, {"hello"}, {{.file = "hello", .name = "hello", .version = "1.0.0"}}};

  ProgramWorld world_{dir_.path()};
  std::unique_ptr<StoreServer>& store_ = world_.store();
  std::unique_ptr<SiteServer> site_;
  std::unique_ptr<TestNode> node_;
  std::optional<pki::Certificate> node_store_root_;
};

// A join token goes from `slsm tokens create --out` to `nlsm enroll --token-file` without ever
// being on a command line or a terminal.
TEST_F(SecretsAndTerminalsTest, JoinTokenWrittenToAPrivateFileEnrollsARealNode) {
  ASSERT_OK(world_.InitSite("site", "site-a"));
  site_ = world_.NewSite("site", json::object());
  ASSERT_TRUE(site_->Start());
  ProcessResult r = Slsm({"tokens", "create", "n1", "--out", "n1.token"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const std::string token = Trim(ReadWholeFile(Path("n1.token")));
  ASSERT_TRUE(Contains(token, "." + site_->site_root_sha256())) << token;
  EXPECT_FALSE(Contains(r.out, token)) << "the token went to the terminal:\n" << r.Describe();
  EXPECT_TRUE(Contains(r.out, "n1.token")) << r.Describe();
  struct stat st {};
  ASSERT_EQ(::stat(Path("n1.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // --json with --out: the response without the secret.
  r = Slsm({"tokens", "create", "n2", "--out", "n2.token", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const json created = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(created.is_object()) << r.Describe();
  EXPECT_EQ(created.value("token", "?"), "") << r.Describe();
  EXPECT_NE(created.value("expires_at", ""), "") << r.Describe();

  // An existing file is not overwritten.
  r = Slsm({"tokens", "create", "n1", "--out", "n1.token"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "[ALREADY_EXISTS]")) << r.Describe();
  EXPECT_EQ(Trim(ReadWholeFile(Path("n1.token"))), token);

  const std::vector<std::string> enroll = {
      "enroll", "--slsm", site_->address(), "--store-root", "node-store-root.pem", "--node", "n1"};
  std::vector<std::string> both = enroll;
  both.insert(both.end(), {"--dir", "n1x", "--token-file", "n1.token", "--token", token});
  r = Run(Bin("nlsm"), both);
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "excludes")) << r.Describe();

  std::vector<std::string> from_file = enroll;
  from_file.insert(from_file.end(), {"--dir", "n1", "--token-file", "n1.token"});
  r = Run(Bin("nlsm"), from_file);
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "enrolled node 'n1'")) << r.Describe();
  EXPECT_TRUE(r.err.empty()) << r.Describe();
}

// The attack of issue 17: the node's report clears the operator's screen and sets the window
// title when `slsm instances` prints it.
TEST_F(SecretsAndTerminalsTest, InstanceStateAndDetailFromANodeArePrintedEscaped) {
  ASSERT_NO_FATAL_FAILURE(StartSiteWithNode());
  const std::string state =
      "running\x7f\xc2\x9b"
      "2J";
  const std::string detail = "\x1b[2J\x1b]0;pwned\x07 \u202Eevil\u2066\nn2\thello";
  ASSERT_TRUE(node_->SendInstance(
      {.service = "hello", .state = state, .detail = detail, .not_after = std::nullopt}));

  // The JSON output: the strings as the node sent them, once parsed; no raw control in it.
  json instance;
  ASSERT_TRUE(WaitUntil(
      [&] {
        ProcessResult r = Slsm({"instances", "--json"});
        const json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
        if (r.exit_code != kExitOk || !j.is_object() || !j.contains("instances")) return false;
        if (!j["instances"].empty()) instance = j["instances"][0];
        EXPECT_EQ(RawControl(r.out), "") << r.out;
        EXPECT_FALSE(Contains(r.out, "\u2066")) << "a raw bidirectional isolate:\n" << r.out;
        return !instance.is_null() && instance.value("node_detail", "") != "";
      },
      kDeadline, kPoll))
      << site_->log();
  EXPECT_EQ(instance.value("node_state", ""), state);
  EXPECT_EQ(instance.value("node_detail", ""), detail);

  // The text output: one line, every control shown escaped.
  ProcessResult r = Slsm({"instances"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(RawControl(r.out), "") << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x07'), std::string::npos) << r.out;
  EXPECT_TRUE(Contains(r.out, R"(running\x7f\u009b2J)")) << r.out;
  EXPECT_TRUE(Contains(r.out, R"((\x1b[2J\x1b]0;pwned\x07 \u202eevil\u2066\nn2\thello))")) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "the node forged a line:\n"
                                                             << r.out;
}

// A developer's revocation reason reaches every `devkit revocations` and `store revoke`: the
// store refuses C0 and DEL in it, but C1 and bidirectional controls pass, and the devkit shows
// them escaped.
TEST_F(SecretsAndTerminalsTest, RevocationReasonOfADeveloperIsPrintedEscaped) {
  const std::string reason =
      "oops\xc2\x9b"
      "2J\u202Ereversed";
  ProcessResult r = Devkit(world_.AtStore({"revoke", "hello", "1.0.0", "--reason", reason, "--cert",
                                           "alice.pem", "--key", "alice.key"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(RawControl(r.out), "") << r.out;
  EXPECT_TRUE(Contains(r.out, R"(oops\u009b2J\u202ereversed)")) << r.out;

  r = Devkit(world_.AtStore({"revocations"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(RawControl(r.out), "") << r.out;
  EXPECT_TRUE(Contains(r.out, R"(oops\u009b2J\u202ereversed)")) << r.out;

  r = Devkit(world_.AtStore({"releases", "--include-revoked"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(RawControl(r.out), "") << r.out;
  EXPECT_TRUE(Contains(r.out, R"(REVOKED: oops\u009b2J\u202ereversed)")) << r.out;

  // JSON keeps the string (a JSON reader gets it back as it was) without a raw control byte.
  r = Devkit(world_.AtStore({"revocations", "--json"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(RawControl(r.out), "") << r.out;
  const json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("reason", ""), reason);
}

}  // namespace
}  // namespace sitechain::testutil
