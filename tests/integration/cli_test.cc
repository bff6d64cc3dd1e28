// End-to-end tests of the real programs (devkit, store, hello) as a user runs them: each test
// works in a fresh temporary directory, runs the built binaries from $SITECHAIN_BIN_DIR and
// checks exit codes, messages, files and modes, and uses openssl / sha256sum as independent
// witnesses where they can judge the result. Developers register at a running store (`store
// serve` on port 0, `store tokens create`, `devkit register`); store_test.cc covers the store's
// own behaviour.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/process.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {
namespace {

using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Parses "YYYY-MM-DDTHH:MM:SSZ" (what the programs print) into Unix seconds; nullopt if it is
// not of that form. Independent of common/time_format.h on purpose.
std::optional<int64_t> ParseUtc(const std::string& text) {
  std::tm tm{};
  char z = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z, &consumed) != 7 ||
      z != 'Z' || static_cast<size_t>(consumed) != text.size()) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

std::string FormatUtc(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The extension named `name` in `devkit inspect --json` output; null if absent.
json FindExtension(const json& cert, const std::string& name) {
  for (const auto& ext : cert.at("extensions")) {
    if (ext.value("name", "") == name) return ext;
  }
  return nullptr;
}

// Each test gets a fresh directory, used as the working directory of every program it runs, so
// that relative paths in the commands are the files the test inspects.
class CliTest : public ProgramTest {
 protected:
  // store init --dir <dir> [--name <name>]; the store must be created.
  void InitStore(const std::string& dir = "store",
                 const std::optional<std::string>& name = std::nullopt) {
    std::vector<std::string> args = {"init", "--dir", dir};
    if (name) args.insert(args.end(), {"--name", *name});
    ProcessResult r = Store(args);
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // Serves the store in store_dir (once; later calls reuse the running server). Extra
  // arguments go to `store serve` (e.g. --passphrase-file).
  void Serve(const std::string& store_dir = "store", std::vector<std::string> serve_args = {}) {
    if (servers_.contains(store_dir)) return;
    auto server =
        std::make_unique<StoreServer>(Bin("store"), dir_.path(), store_dir, std::move(serve_args));
    ASSERT_TRUE(server->Start());
    servers_[store_dir] = std::move(server);
  }

  // --store and --store-root of the store in store_dir (which must be served).
  std::vector<std::string> StoreArgs(const std::string& store_dir = "store") const {
    const auto it = servers_.find(store_dir);
    EXPECT_NE(it, servers_.end()) << store_dir << " is not served";
    if (it == servers_.end()) return {};
    return {"--store", it->second->address(), "--store-root", store_dir + "/root.pem"};
  }

  // A one-time registration token of the (served) store in store_dir.
  std::string CreateToken(const std::string& store_dir = "store") const {
    ProcessResult r = Store({"tokens", "create", "--dir", store_dir});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    std::string token = r.out;
    while (!token.empty() && token.back() == '\n') token.pop_back();
    return token;
  }

  // devkit register of <csr> at the store in store_dir (served on demand) with a fresh token
  // (or the one given); the identity goes to `out`.
  ProcessResult RegisterCsr(const std::string& csr, const std::string& out,
                            const std::string& store_dir = "store",
                            std::optional<std::string> token = std::nullopt) {
    Serve(store_dir);
    if (!token) token = CreateToken(store_dir);
    std::vector<std::string> args = {"register", "--token", *token, "--csr", csr, "--out", out};
    const std::vector<std::string> store = StoreArgs(store_dir);
    args.insert(args.end(), store.begin(), store.end());
    return Devkit(args);
  }

  // keygen + csr + register at the store: <name>.key, <name>.csr and the identity <name>.pem.
  void RegisterDeveloper(const std::string& name = "alice", const std::string& key_type = "ed25519",
                         const std::string& store_dir = "store") {
    ProcessResult r = Devkit({"keygen", "--out", name + ".key", "--type", key_type});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    r = Devkit({"csr", "--key", name + ".key", "--name", name, "--out", name + ".csr"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    ASSERT_NO_FATAL_FAILURE(Serve(store_dir));
    r = RegisterCsr(name + ".csr", name + ".pem", store_dir);
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // `store developers list --dir <store_dir> --json`: the array of developers.
  json ListDevelopers(const std::string& store_dir = "store") const {
    ProcessResult list = Store({"developers", "list", "--dir", store_dir, "--json"});
    EXPECT_EQ(list.exit_code, kExitOk) << list.Describe();
    const json j = ParseJson(list);
    EXPECT_TRUE(j.is_object() && j.contains("developers")) << list.Describe();
    return j.is_object() && j.contains("developers") ? j["developers"] : json::array();
  }

  // Copies the hello program into the test directory and signs it as hello 1.0.0, release 1:
  // hello.cert.pem. Extra arguments go to devkit sign.
  void SignHello(const std::string& developer = "alice", std::vector<std::string> extra = {}) {
    std::error_code ec;
    std::filesystem::copy_file(Bin("hello"), Path("hello"),
                               std::filesystem::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << ec.message();
    std::vector<std::string> args = {"sign",      "hello",
                                     "--key",     developer + ".key",
                                     "--cert",    developer + ".pem",
                                     "--name",    "hello",
                                     "--version", "1.0.0",
                                     "--release", "1",
                                     "--out",     "hello.cert.pem"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = Devkit(args);
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // The whole developer path: a store, alice registered, hello signed.
  void MakeSignedRelease(std::vector<std::string> sign_extra = {}) {
    ASSERT_NO_FATAL_FAILURE(InitStore());
    ASSERT_NO_FATAL_FAILURE(RegisterDeveloper());
    ASSERT_NO_FATAL_FAILURE(SignHello("alice", std::move(sign_extra)));
  }

  // devkit verify of the signed release against store/root.pem, plus extra arguments.
  ProcessResult VerifyHello(std::vector<std::string> extra = {},
                            const std::string& executable = "hello") const {
    std::vector<std::string> args = {"verify",           "--store-root", "store/root.pem",
                                     "--developer-cert", "alice.pem",    "--dev",
                                     "hello.cert.pem",   "--executable", executable};
    args.insert(args.end(), extra.begin(), extra.end());
    return Devkit(args);
  }

  // Runs a command that prints JSON and parses its stdout (a test failure if it is not JSON).
  static json ParseJson(const ProcessResult& r) {
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON:\n" << r.Describe();
    return j;
  }

  // `devkit inspect --json <cert>`.
  json Inspect(const std::string& cert) const {
    ProcessResult r = Devkit({"inspect", "--json", cert});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return ParseJson(r);
  }

  // The SHA-256 of a file in the test directory, by sha256sum (lower-case hex).
  std::string Sha256Sum(const std::string& name) const {
    ProcessResult r = Run("sha256sum", {name});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return r.out.substr(0, r.out.find(' '));
  }

  // Generates an Ed25519 key with openssl (independently of devkit).
  void OpensslKey(const std::string& name) const {
    ProcessResult r = Run("openssl", {"genpkey", "-algorithm", "ed25519", "-out", name});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // mallory.key (openssl genpkey) and mallory.csr: an openssl-made CSR for CN=mallory asking for
  // CA rights (basicConstraints=critical,CA:TRUE).
  void OpensslCaRequestingCsr() const {
    ASSERT_NO_FATAL_FAILURE(OpensslKey("mallory.key"));
    ProcessResult req =
        Run("openssl", {"req", "-new", "-key", "mallory.key", "-subj", "/CN=mallory", "-addext",
                        "basicConstraints=critical,CA:TRUE", "-out", "mallory.csr"});
    ASSERT_EQ(req.exit_code, kExitOk) << req.Describe();
  }

  // XORs one byte of a file with 0xff, so that the file surely differs.
  void FlipByte(const std::string& name, size_t offset) const {
    std::string data = ReadWholeFile(Path(name));
    ASSERT_LT(offset, data.size());
    data[offset] = static_cast<char>(data[offset] ^ 0xff);
    ASSERT_TRUE(WriteWholeFile(Path(name), data));
  }

  // Running stores by state directory; destroyed (killed) before dir_ is removed.
  std::map<std::string, std::unique_ptr<StoreServer>> servers_;
};

// ---------------------------------------------------------------------------------------------
// store init

TEST_F(CliTest, StoreInitCreatesPrivateStateDirectory) {
  ProcessResult r = Store({"init", "--dir", "store", "--name", "Test Store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "store/root.pem")) << r.Describe();
  EXPECT_EQ(ModeOf(Path("store")), 0700);
  EXPECT_EQ(ModeOf(Path("store/root.key")), 0600);
  // The CA only: the registry and blobs appear when the store is first served.
  std::set<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(Path("store"))) {
    entries.insert(e.path().filename().string());
  }
  EXPECT_EQ(entries, (std::set<std::string>{"root.key", "root.pem"}));

  // openssl reads the root as a self-signed CA certificate named after the store.
  ProcessResult x509 = Run("openssl", {"x509", "-in", "store/root.pem", "-noout", "-subject"});
  ASSERT_EQ(x509.exit_code, kExitOk) << x509.Describe();
  EXPECT_TRUE(Contains(x509.out, "Test Store")) << x509.Describe();
  ProcessResult self = Run("openssl", {"verify", "-CAfile", "store/root.pem", "store/root.pem"});
  EXPECT_EQ(self.exit_code, kExitOk) << self.Describe();

  // The printed fingerprint is the root's.
  const json root = Inspect("store/root.pem");
  EXPECT_TRUE(Contains(r.out, root.value("sha256Fingerprint", "?"))) << r.Describe();
  EXPECT_EQ(root.value("ca", false), true);
  EXPECT_EQ(root.value("selfSigned", false), true);
}

TEST_F(CliTest, StoreInitRefusesAnExistingStoreAndLeavesItAlone) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  const std::string root = ReadWholeFile(Path("store/root.pem"));
  const std::string key = ReadWholeFile(Path("store/root.key"));
  ASSERT_FALSE(root.empty());
  ASSERT_FALSE(key.empty());

  ProcessResult r = Store({"init", "--dir", "store", "--name", "Another"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "ALREADY_EXISTS")) << r.Describe();
  EXPECT_EQ(ReadWholeFile(Path("store/root.pem")), root);
  EXPECT_EQ(ReadWholeFile(Path("store/root.key")), key);
  EXPECT_EQ(ModeOf(Path("store/root.key")), 0600);
}

TEST_F(CliTest, StoreInitRefusesUnknownKeyType) {
  ProcessResult r = Store({"init", "--dir", "store", "--key-type", "dsa-1024"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "INVALID_ARGUMENT")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("store/root.key")));
}

TEST_F(CliTest, ServeNeedsAnInitialisedStore) {
  ASSERT_EQ(::mkdir(Path("empty").c_str(), 0700), 0);
  ProcessResult r =
      Store({"serve", "--dir", "empty", "--listen", "127.0.0.1:0", "--ready-file", "ready.json"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "FAILED_PRECONDITION")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "store init")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("ready.json")));
  EXPECT_TRUE(std::filesystem::is_empty(Path("empty")));
}

// ---------------------------------------------------------------------------------------------
// devkit keygen / csr

// The openssl -text line that identifies each key type.
struct KeyTypeCase {
  std::string type;
  std::string openssl_marker;
};

class KeygenTypeTest : public CliTest, public ::testing::WithParamInterface<KeyTypeCase> {};

// Every key type: a 0600 PKCS#8 file openssl reads as that type, which then goes the whole way:
// CSR, registration (openssl accepts the developer certificate), signing and verification.
TEST_P(KeygenTypeTest, KeyOfEachTypeWorksEndToEnd) {
  const KeyTypeCase& c = GetParam();
  ProcessResult r = Devkit({"keygen", "--out", "dev.key", "--type", c.type});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, c.type)) << r.Describe();
  EXPECT_EQ(ModeOf(Path("dev.key")), 0600);
  const std::string pem = ReadWholeFile(Path("dev.key"));
  EXPECT_TRUE(Contains(pem, "-----BEGIN PRIVATE KEY-----")) << pem.substr(0, 64);

  ProcessResult text = Run("openssl", {"pkey", "-in", "dev.key", "-noout", "-text"});
  ASSERT_EQ(text.exit_code, kExitOk) << text.Describe();
  EXPECT_TRUE(Contains(text.out, c.openssl_marker)) << text.out.substr(0, 200);

  ASSERT_NO_FATAL_FAILURE(InitStore());
  r = Devkit({"csr", "--key", "dev.key", "--name", "dev", "--out", "dev.csr"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = RegisterCsr("dev.csr", "dev.pem");
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  ProcessResult ossl = Run("openssl", {"verify", "-CAfile", "store/root.pem", "dev.pem"});
  EXPECT_EQ(ossl.exit_code, kExitOk) << ossl.Describe();

  ASSERT_NO_FATAL_FAILURE(SignHello("dev"));
  r = Devkit({"verify", "--store-root", "store/root.pem", "--developer-cert", "dev.pem", "--dev",
              "hello.cert.pem", "--executable", "hello"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

// rsa-3072 is generated once only: it is the slowest.
INSTANTIATE_TEST_SUITE_P(AllKeyTypes, KeygenTypeTest,
                         ::testing::Values(KeyTypeCase{"ed25519", "ED25519 Private-Key"},
                                           KeyTypeCase{"ecdsa-p256", "P-256"},
                                           KeyTypeCase{"rsa-2048", "(2048 bit"},
                                           KeyTypeCase{"rsa-3072", "(3072 bit"}),
                         [](const ::testing::TestParamInfo<KeyTypeCase>& param_info) {
                           std::string name = param_info.param.type;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST_F(CliTest, KeygenRefusesUnknownType) {
  ProcessResult r = Devkit({"keygen", "--out", "k.pem", "--type", "rsa-1024"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "INVALID_ARGUMENT")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("k.pem")));
}

TEST_F(CliTest, KeygenRefusesToOverwriteAKey) {
  ASSERT_EQ(Devkit({"keygen", "--out", "k.pem"}).exit_code, kExitOk);
  const std::string before = ReadWholeFile(Path("k.pem"));
  ProcessResult r = Devkit({"keygen", "--out", "k.pem", "--type", "ecdsa-p256"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "ALREADY_EXISTS")) << r.Describe();
  EXPECT_EQ(ReadWholeFile(Path("k.pem")), before);

  // Not even a file that is not a key is replaced.
  ASSERT_TRUE(WriteWholeFile(Path("notes.txt"), "precious\n"));
  r = Devkit({"keygen", "--out", "notes.txt"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_EQ(ReadWholeFile(Path("notes.txt")), "precious\n");
}

TEST_F(CliTest, CsrIsAValidPkcs10RequestForTheName) {
  ASSERT_EQ(Devkit({"keygen", "--out", "alice.key"}).exit_code, kExitOk);
  ProcessResult r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "alice.csr")) << r.Describe();

  ProcessResult req =
      Run("openssl", {"req", "-in", "alice.csr", "-noout", "-verify", "-subject", "-text"});
  ASSERT_EQ(req.exit_code, kExitOk) << req.Describe();
  EXPECT_TRUE(Contains(req.err, "verify OK")) << req.Describe();
  EXPECT_TRUE(Contains(req.out, "CN = alice") || Contains(req.out, "CN=alice")) << req.Describe();
  // No extension request: the store grants what the developer gets.
  EXPECT_FALSE(Contains(req.out, "X509v3")) << req.Describe();

  // The CSR carries the key's public half.
  ProcessResult key_pub = Run("openssl", {"pkey", "-in", "alice.key", "-pubout"});
  ProcessResult csr_pub = Run("openssl", {"req", "-in", "alice.csr", "-noout", "-pubkey"});
  ASSERT_EQ(key_pub.exit_code, kExitOk) << key_pub.Describe();
  ASSERT_EQ(csr_pub.exit_code, kExitOk) << csr_pub.Describe();
  EXPECT_EQ(key_pub.out, csr_pub.out);
}

// ---------------------------------------------------------------------------------------------
// devkit register / store developers list

TEST_F(CliTest, RegisterIssuesACertificateOpensslAccepts) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_EQ(Devkit({"keygen", "--out", "alice.key"}).exit_code, kExitOk);
  ASSERT_EQ(
      Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"}).exit_code,
      kExitOk);
  ProcessResult r = RegisterCsr("alice.csr", "alice.pem");
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "alice.pem")) << r.Describe();
  ASSERT_TRUE(std::filesystem::exists(Path("alice.pem"))) << r.Describe();

  ProcessResult ossl = Run("openssl", {"verify", "-CAfile", "store/root.pem", "alice.pem"});
  EXPECT_EQ(ossl.exit_code, kExitOk) << ossl.Describe();
  EXPECT_TRUE(Contains(ossl.out, "alice.pem: OK")) << ossl.Describe();

  // A restricted CA (pathLen 0) for the developer's own key, named after the developer.
  const json dev = Inspect("alice.pem");
  EXPECT_EQ(dev.value("ca", false), true);
  EXPECT_EQ(dev.value("pathLen", -1), 0);
  EXPECT_TRUE(Contains(dev.value("subject", ""), "CN=alice")) << dev.dump(2);
  ProcessResult key_pub = Run("openssl", {"pkey", "-in", "alice.key", "-pubout"});
  ProcessResult cert_pub = Run("openssl", {"x509", "-in", "alice.pem", "-noout", "-pubkey"});
  EXPECT_EQ(key_pub.out, cert_pub.out);

  // Recorded in the store and listed, with the certificate's fingerprint.
  const json j = ListDevelopers();
  ASSERT_EQ(j.size(), 1u) << j.dump(2);
  EXPECT_EQ(j[0].value("name", ""), "alice");
  EXPECT_EQ(j[0].value("serial", ""), dev.value("serial", "?"));
  EXPECT_EQ(j[0].value("fingerprint", ""), dev.value("sha256Fingerprint", "?"));
}

TEST_F(CliTest, RegisterRefusesADuplicateNameOrKey) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(RegisterDeveloper("alice"));
  // One token for both refused attempts: a refused CSR does not use it up.
  const std::string token = CreateToken();

  // Another key under the same name.
  ASSERT_EQ(Devkit({"keygen", "--out", "other.key"}).exit_code, kExitOk);
  ASSERT_EQ(Devkit({"csr", "--key", "other.key", "--name", "alice", "--out", "a2.csr"}).exit_code,
            kExitOk);
  ProcessResult r = RegisterCsr("a2.csr", "a2.pem", "store", token);
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "ALREADY_EXISTS")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "alice")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("a2.pem")));

  // The same key under another name.
  ASSERT_EQ(Devkit({"csr", "--key", "alice.key", "--name", "bob", "--out", "bob.csr"}).exit_code,
            kExitOk);
  r = RegisterCsr("bob.csr", "bob.pem", "store", token);
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "ALREADY_EXISTS")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("bob.pem")));

  EXPECT_EQ(ListDevelopers().size(), 1u);

  // The token still registers a new developer.
  ASSERT_EQ(Devkit({"keygen", "--out", "carol.key"}).exit_code, kExitOk);
  ASSERT_EQ(
      Devkit({"csr", "--key", "carol.key", "--name", "carol", "--out", "carol.csr"}).exit_code,
      kExitOk);
  r = RegisterCsr("carol.csr", "carol.pem", "store", token);
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(ListDevelopers().size(), 2u);
}

TEST_F(CliTest, RegisterRefusesACsrAskingForCaRights) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(OpensslCaRequestingCsr());

  ProcessResult r = RegisterCsr("mallory.csr", "mallory.pem");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "CA")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "PERMISSION_DENIED")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("mallory.pem")));
  EXPECT_TRUE(ListDevelopers().empty());
}

TEST_F(CliTest, RegisterRefusesACsrWithAWeakOrUnsupportedKey) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  struct Case {
    std::vector<std::string> genpkey;
    const char* expected;
  };
  const Case cases[] = {
      {{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"}, "2048 or 3072"},
      {{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"}, "P-256"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> gen = {"genpkey", "-out", "weak.key"};
    gen.insert(gen.end(), c.genpkey.begin(), c.genpkey.end());
    ASSERT_EQ(Run("openssl", gen).exit_code, kExitOk);
    ASSERT_EQ(
        Run("openssl", {"req", "-new", "-key", "weak.key", "-subj", "/CN=weak", "-out", "weak.csr"})
            .exit_code,
        kExitOk);
    ProcessResult r = RegisterCsr("weak.csr", "weak.pem");
    EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
    EXPECT_TRUE(Contains(r.err, c.expected)) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "INVALID_ARGUMENT")) << r.Describe();
    EXPECT_FALSE(std::filesystem::exists(Path("weak.pem")));
    EXPECT_TRUE(ListDevelopers().empty());
    std::filesystem::remove(Path("weak.key"));
    std::filesystem::remove(Path("weak.csr"));
  }
}

TEST_F(CliTest, RegisterRefusesACsrRequestingAnExtension) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(OpensslKey("mallory.key"));
  ProcessResult req = Run("openssl", {"req", "-new", "-key", "mallory.key", "-subj", "/CN=mallory",
                                      "-addext", "subjectAltName=DNS:x", "-out", "mallory.csr"});
  ASSERT_EQ(req.exit_code, kExitOk) << req.Describe();

  ProcessResult r = RegisterCsr("mallory.csr", "mallory.pem");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "subjectAltName")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "extension")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("mallory.pem")));
  EXPECT_TRUE(ListDevelopers().empty());
}

TEST_F(CliTest, RegisterRefusesACsrWithACorruptedSignature) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_EQ(Devkit({"keygen", "--out", "alice.key"}).exit_code, kExitOk);
  ASSERT_EQ(
      Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"}).exit_code,
      kExitOk);
  // The signature is the last field of the DER: flip its last byte, then back to PEM.
  ProcessResult der =
      Run("openssl", {"req", "-in", "alice.csr", "-outform", "DER", "-out", "alice.der"});
  ASSERT_EQ(der.exit_code, kExitOk) << der.Describe();
  const std::string bytes = ReadWholeFile(Path("alice.der"));
  ASSERT_FALSE(bytes.empty());
  ASSERT_NO_FATAL_FAILURE(FlipByte("alice.der", bytes.size() - 1));
  ProcessResult pem = Run("openssl", {"req", "-inform", "DER", "-in", "alice.der", "-outform",
                                      "PEM", "-out", "bad.csr"});
  ASSERT_EQ(pem.exit_code, kExitOk) << pem.Describe();
  // Witness: openssl agrees the signature is now wrong (OpenSSL 3.0 says so but exits 0).
  ProcessResult check = Run("openssl", {"req", "-in", "bad.csr", "-noout", "-verify"});
  ASSERT_TRUE(check.exit_code != kExitOk || Contains(check.err, "verify failure"))
      << check.Describe();

  ProcessResult r = RegisterCsr("bad.csr", "alice.pem");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "bad.csr")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "signature")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("alice.pem")));
  EXPECT_TRUE(ListDevelopers().empty());
}

// A refusal of a CSR names the file that was sent.
TEST_F(CliTest, RegisterRefusalNamesTheCsrFile) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(OpensslCaRequestingCsr());
  ProcessResult r = RegisterCsr("mallory.csr", "mallory.pem");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "mallory.csr")) << r.Describe();
}

TEST_F(CliTest, EncryptedStoreKeyNeedsItsPassphrase) {
  ASSERT_TRUE(WriteWholeFile(Path("root.pass"), "store secret\n"));
  ProcessResult r = Store({"init", "--dir", "store", "--passphrase-file", "root.pass"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(ReadWholeFile(Path("store/root.key")), "ENCRYPTED PRIVATE KEY"));
  ASSERT_EQ(Devkit({"keygen", "--out", "alice.key"}).exit_code, kExitOk);
  ASSERT_EQ(
      Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"}).exit_code,
      kExitOk);

  // Without the passphrase the store cannot start (it issues certificates with the key).
  r = Store({"serve", "--dir", "store", "--listen", "127.0.0.1:0", "--ready-file", "ready.json"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "passphrase")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("ready.json")));
  EXPECT_FALSE(std::filesystem::exists(Path("alice.pem")));

  ASSERT_NO_FATAL_FAILURE(Serve("store", {"--passphrase-file", "root.pass"}));
  r = RegisterCsr("alice.csr", "alice.pem");
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  ProcessResult ossl = Run("openssl", {"verify", "-CAfile", "store/root.pem", "alice.pem"});
  EXPECT_EQ(ossl.exit_code, kExitOk) << ossl.Describe();
}

// Listing asks the running store, so it needs no secret (and `developers list` has no
// --passphrase-file option to give one).
TEST_F(CliTest, DevelopersListOfAnEncryptedStoreNeedsNoPassphrase) {
  ASSERT_TRUE(WriteWholeFile(Path("root.pass"), "store secret\n"));
  ProcessResult r = Store({"init", "--dir", "store", "--passphrase-file", "root.pass"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  ASSERT_EQ(Devkit({"keygen", "--out", "alice.key"}).exit_code, kExitOk);
  ASSERT_EQ(
      Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"}).exit_code,
      kExitOk);
  ASSERT_NO_FATAL_FAILURE(Serve("store", {"--passphrase-file", "root.pass"}));
  r = RegisterCsr("alice.csr", "alice.pem");
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  r = Store({"developers", "list", "--dir", "store"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "alice")) << r.Describe();
}

// ---------------------------------------------------------------------------------------------
// devkit sign / verify

TEST_F(CliTest, SignThenVerifyAccepts) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(RegisterDeveloper());
  std::error_code ec;
  std::filesystem::copy_file(Bin("hello"), Path("hello"), ec);
  ASSERT_FALSE(ec) << ec.message();
  ProcessResult sign =
      Devkit({"sign", "hello", "--key", "alice.key", "--cert", "alice.pem", "--name", "hello",
              "--version", "1.0.0", "--release", "1", "--json"});
  ASSERT_EQ(sign.exit_code, kExitOk) << sign.Describe();
  const json s = ParseJson(sign);
  // Default output path: <executable>.cert.pem.
  EXPECT_EQ(s.value("cert", ""), "hello.cert.pem");
  EXPECT_EQ(s.value("executableHash", ""), Sha256Sum("hello"));
  EXPECT_EQ(s.value("releaseCounter", 0), 1);
  ASSERT_TRUE(std::filesystem::exists(Path("hello.cert.pem")));

  ProcessResult text = VerifyHello({"--min-release", "1"});
  EXPECT_EQ(text.exit_code, kExitOk) << text.Describe();
  EXPECT_TRUE(text.out.rfind("OK", 0) == 0) << text.Describe();

  ProcessResult r = VerifyHello({"--min-release", "1", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("ok", false), true) << r.Describe();
  ASSERT_TRUE(j.contains("rulesChecked")) << r.Describe();
  EXPECT_EQ(j["rulesChecked"], json({1, 6, 7, 8})) << r.Describe();
  ASSERT_TRUE(j.contains("release")) << r.Describe();
  EXPECT_EQ(j["release"].value("name", ""), "hello");
  EXPECT_EQ(j["release"].value("version", ""), "1.0.0");
  EXPECT_EQ(j["release"].value("releaseCounter", 0), 1);

  // OpenSSL agrees independently that the chain is valid.
  ProcessResult ossl = Run("openssl", {"verify", "-CAfile", "store/root.pem", "-untrusted",
                                       "alice.pem", "hello.cert.pem"});
  EXPECT_EQ(ossl.exit_code, kExitOk) << ossl.Describe();

  // The signed copy still runs.
  ProcessResult hello = Run(Path("hello"), {"tester"});
  EXPECT_EQ(hello.exit_code, kExitOk) << hello.Describe();
  EXPECT_TRUE(Contains(hello.out, "hello, tester")) << hello.Describe();
}

TEST_F(CliTest, VerifyRefusesAnExecutableWithOneByteFlipped) {
  ASSERT_NO_FATAL_FAILURE(MakeSignedRelease());
  std::error_code ec;
  std::filesystem::copy_file(Path("hello"), Path("tampered"), ec);
  ASSERT_FALSE(ec) << ec.message();
  const size_t size = ReadWholeFile(Path("hello")).size();
  ASSERT_GT(size, 1000u);
  // A late byte: the whole file must be hashed, not a prefix.
  ASSERT_NO_FATAL_FAILURE(FlipByte("tampered", size - 100));

  ProcessResult text = VerifyHello({}, "tampered");
  EXPECT_EQ(text.exit_code, kExitFailure) << text.Describe();
  EXPECT_TRUE(Contains(text.out + text.err, "DIGEST_MISMATCH")) << text.Describe();

  ProcessResult r = VerifyHello({"--json"}, "tampered");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("ok", true), false) << r.Describe();
  EXPECT_EQ(j.value("rule", 0), 6) << r.Describe();
  EXPECT_EQ(j.value("reason", ""), "DIGEST_MISMATCH") << r.Describe();
  EXPECT_EQ(j.value("certificate", ""), "cert-dev") << r.Describe();
  EXPECT_FALSE(j.contains("rulesChecked")) << r.Describe();

  // The original is still accepted (the refusal is about the flipped byte).
  EXPECT_EQ(VerifyHello().exit_code, kExitOk);
}

TEST_F(CliTest, VerifyRefusesARollback) {
  ASSERT_NO_FATAL_FAILURE(MakeSignedRelease());
  ProcessResult r = VerifyHello({"--min-release", "2", "--json"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("ok", true), false) << r.Describe();
  EXPECT_EQ(j.value("rule", 0), 7) << r.Describe();
  EXPECT_EQ(j.value("reason", ""), "ROLLBACK") << r.Describe();

  ProcessResult text = VerifyHello({"--min-release", "2"});
  EXPECT_EQ(text.exit_code, kExitFailure) << text.Describe();
  EXPECT_TRUE(Contains(text.out, "ROLLBACK")) << text.Describe();

  // The same release again is not a rollback.
  EXPECT_EQ(VerifyHello({"--min-release", "1"}).exit_code, kExitOk);
}

TEST_F(CliTest, VerifyRefusesAnotherStoresRoot) {
  ASSERT_NO_FATAL_FAILURE(MakeSignedRelease());
  // Same name as the real store: the DNs match, only the key tells them apart.
  ASSERT_NO_FATAL_FAILURE(InitStore("twin"));
  ASSERT_NO_FATAL_FAILURE(InitStore("other", "Other Store"));

  ProcessResult twin =
      Devkit({"verify", "--store-root", "twin/root.pem", "--developer-cert", "alice.pem", "--dev",
              "hello.cert.pem", "--executable", "hello", "--json"});
  EXPECT_EQ(twin.exit_code, kExitFailure) << twin.Describe();
  json j = ParseJson(twin);
  EXPECT_EQ(j.value("ok", true), false) << twin.Describe();
  EXPECT_EQ(j.value("rule", 0), 1) << twin.Describe();
  EXPECT_EQ(j.value("certificate", ""), "developer-identity") << twin.Describe();
  EXPECT_EQ(j.value("reason", ""), "BAD_SIGNATURE") << twin.Describe();

  ProcessResult other =
      Devkit({"verify", "--store-root", "other/root.pem", "--developer-cert", "alice.pem", "--dev",
              "hello.cert.pem", "--executable", "hello", "--json"});
  EXPECT_EQ(other.exit_code, kExitFailure) << other.Describe();
  j = ParseJson(other);
  EXPECT_EQ(j.value("rule", 0), 1) << other.Describe();
  EXPECT_EQ(j.value("reason", ""), "ISSUER_MISMATCH") << other.Describe();

  // openssl agrees.
  ProcessResult ossl = Run("openssl", {"verify", "-CAfile", "twin/root.pem", "alice.pem"});
  EXPECT_NE(ossl.exit_code, kExitOk) << ossl.Describe();
}

TEST_F(CliTest, VerifyWithoutTrustAnchorIsRefused) {
  ASSERT_NO_FATAL_FAILURE(MakeSignedRelease());
  ProcessResult r = Devkit({"verify", "--developer-cert", "alice.pem", "--dev", "hello.cert.pem",
                            "--executable", "hello", "--json"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("reason", ""), "MISSING_INPUT") << r.Describe();
}

TEST_F(CliTest, EncryptedDeveloperKeyNeedsTheRightPassphrase) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_TRUE(WriteWholeFile(Path("right.pass"), "correct horse battery staple\n"));
  ASSERT_TRUE(WriteWholeFile(Path("wrong.pass"), "incorrect horse\n"));
  ProcessResult r = Devkit({"keygen", "--out", "alice.key", "--passphrase-file", "right.pass"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(ModeOf(Path("alice.key")), 0600);
  EXPECT_TRUE(Contains(ReadWholeFile(Path("alice.key")), "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  // Witness: openssl decrypts it with the passphrase (and only with it).
  EXPECT_EQ(Run("openssl", {"pkey", "-in", "alice.key", "-noout", "-passin", "file:right.pass"})
                .exit_code,
            kExitOk);
  EXPECT_NE(Run("openssl", {"pkey", "-in", "alice.key", "-noout", "-passin", "file:wrong.pass"})
                .exit_code,
            kExitOk);

  // No passphrase, wrong passphrase: refused with a message about the passphrase.
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "passphrase")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("alice.csr")));
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr",
              "--passphrase-file", "wrong.pass"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "passphrase")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "UNAUTHENTICATED")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("alice.csr")));

  // The right one works for csr and sign.
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr",
              "--passphrase-file", "right.pass"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = RegisterCsr("alice.csr", "alice.pem");
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  std::error_code ec;
  std::filesystem::copy_file(Bin("hello"), Path("hello"), ec);
  ASSERT_FALSE(ec) << ec.message();
  const std::vector<std::string> sign = {"sign",      "hello",  "--key", "alice.key",     "--cert",
                                         "alice.pem", "--name", "hello", "--version",     "1.0.0",
                                         "--release", "1",      "--out", "hello.cert.pem"};
  std::vector<std::string> wrong = sign;
  wrong.insert(wrong.end(), {"--passphrase-file", "wrong.pass"});
  r = Devkit(wrong);
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "passphrase")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("hello.cert.pem")));
  std::vector<std::string> right = sign;
  right.insert(right.end(), {"--passphrase-file", "right.pass"});
  r = Devkit(right);
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(VerifyHello().exit_code, kExitOk);
}

TEST_F(CliTest, EmptyPassphraseFileIsRefused) {
  ASSERT_TRUE(WriteWholeFile(Path("empty.pass"), "\n"));
  ProcessResult r = Devkit({"keygen", "--out", "k.pem", "--passphrase-file", "empty.pass"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "empty")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("k.pem")));
}

// --- tokens kept off the command line (issue 17, point 7): `ps` shows every process's arguments
// to every user of the machine, so a token passed as --token can be used by any of them first.

TEST_F(CliTest, TokenWrittenToAPrivateFileRegistersFromThatFile) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(Serve());
  ProcessResult r = Store({"tokens", "create", "--dir", "store", "--out", "alice.token"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_FALSE(Contains(r.out, "sct-")) << "the token went to the terminal:\n" << r.Describe();
  EXPECT_TRUE(Contains(r.out, "alice.token")) << r.Describe();
  struct stat st {};
  ASSERT_EQ(::stat(Path("alice.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const std::string token = ReadWholeFile(Path("alice.token"));
  EXPECT_EQ(token.size(), 4 + 32 + 1u) << token;  // sct-<32 hex digits>, a newline
  EXPECT_EQ(token.rfind("sct-", 0), 0u) << token;

  // An existing file is never overwritten (the token it holds may not be used yet).
  r = Store({"tokens", "create", "--dir", "store", "--out", "alice.token"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "[ALREADY_EXISTS]")) << r.Describe();
  EXPECT_EQ(ReadWholeFile(Path("alice.token")), token);

  r = Devkit({"keygen", "--out", "alice.key"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  std::vector<std::string> args = {"register",  "--token-file", "alice.token", "--csr",
                                   "alice.csr", "--out",        "alice.pem"};
  const std::vector<std::string> store = StoreArgs();
  args.insert(args.end(), store.begin(), store.end());
  r = Devkit(args);
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(r.err.empty()) << "a private token file needs no warning:\n" << r.Describe();
  EXPECT_TRUE(std::filesystem::exists(Path("alice.pem")));
}

TEST_F(CliTest, TokenFromStandardInputRegistersWithSurroundingWhitespaceIgnored) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(Serve());
  const std::string token = CreateToken();
  ProcessResult r = Devkit({"keygen", "--out", "alice.key"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  // sh -c 'printf ... "$0" | "$@"' TOKEN devkit register ...: the token only on devkit's stdin.
  std::vector<std::string> args = {"-c",        "printf '  %s\\r\\n\\n' \"$0\" | \"$@\"",
                                   token,       Bin("devkit"),
                                   "register",  "--token-file",
                                   "-",         "--csr",
                                   "alice.csr", "--out",
                                   "alice.pem"};
  const std::vector<std::string> store = StoreArgs();
  args.insert(args.end(), store.begin(), store.end());
  r = Run("sh", args);
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(std::filesystem::exists(Path("alice.pem")));
}

TEST_F(CliTest, TokenFileReadableByOthersIsUsedWithAWarningAndAChmodHint) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(Serve());
  ASSERT_TRUE(WriteWholeFile(Path("alice.token"), CreateToken() + "\n"));
  ASSERT_EQ(::chmod(Path("alice.token").c_str(), 0644), 0);
  ProcessResult r = Devkit({"keygen", "--out", "alice.key"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  std::vector<std::string> args = {"register",  "--token-file", "alice.token", "--csr",
                                   "alice.csr", "--out",        "alice.pem"};
  const std::vector<std::string> store = StoreArgs();
  args.insert(args.end(), store.begin(), store.end());
  r = Devkit(args);
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.err,
                       "warning: the token file alice.token is readable by group and "
                       "others (mode 0644)"))
      << r.Describe();
  EXPECT_TRUE(Contains(r.err, "chmod 600 alice.token")) << r.Describe();
}

// A token file that holds no token, or two, is refused before the store is asked: the token in
// it is not spent.
TEST_F(CliTest, TokenFileThatIsEmptyMissingOrHoldsTwoTokensIsRefused) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(Serve());
  const std::string token = CreateToken();
  ProcessResult r = Devkit({"keygen", "--out", "alice.key"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "alice.csr"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  auto register_with = [&](const std::string& file) {
    std::vector<std::string> args = {"register",  "--token-file", file,       "--csr",
                                     "alice.csr", "--out",        "alice.pem"};
    const std::vector<std::string> store = StoreArgs();
    args.insert(args.end(), store.begin(), store.end());
    return Devkit(args);
  };

  ASSERT_TRUE(WriteWholeFile(Path("empty.token"), " \n\n"));
  r = register_with("empty.token");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "the token file empty.token is empty")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "[INVALID_ARGUMENT]")) << r.Describe();

  ASSERT_TRUE(WriteWholeFile(Path("two.token"), token + "\n" + token + "\n"));
  r = register_with("two.token");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "more than one token")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "[INVALID_ARGUMENT]")) << r.Describe();

  r = register_with("missing.token");
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "missing.token")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "[NOT_FOUND]")) << r.Describe();

  EXPECT_FALSE(std::filesystem::exists(Path("alice.pem")));
  ASSERT_TRUE(WriteWholeFile(Path("good.token"), token));
  ASSERT_EQ(::chmod(Path("good.token").c_str(), 0600), 0);
  r = register_with("good.token");
  EXPECT_EQ(r.exit_code, kExitOk) << "the refusals spent the token:\n" << r.Describe();
}

TEST_F(CliTest, TokenAndTokenFileTogetherOrNeitherIsAUsageError) {
  ASSERT_TRUE(WriteWholeFile(Path("t.token"), "sct-00000000000000000000000000000000\n"));
  ASSERT_TRUE(WriteWholeFile(Path("x.csr"), "not read: the command line is refused first"));
  const std::vector<std::string> common = {"register",    "--csr",        "x.csr",
                                           "--out",       "x.pem",        "--store",
                                           "localhost:1", "--store-root", "/dev/null"};
  std::vector<std::string> both = common;
  both.insert(both.end(), {"--token", "sct-1", "--token-file", "t.token"});
  ProcessResult r = Devkit(both);
  EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "excludes")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "devkit --help")) << r.Describe();

  r = Devkit(common);
  EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "--token-file")) << r.Describe();

  std::vector<std::string> no_name = common;
  no_name.insert(no_name.end(), {"--token-file", ""});
  r = Devkit(no_name);
  EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "give a file name")) << r.Describe();

  // --help tells the user why.
  r = Devkit({"register", "--help"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "--token-file")) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "visible to other users in `ps`")) << r.Describe();
}

TEST_F(CliTest, KeyReadableByOthersIsRefusedWithAChmodHint) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(RegisterDeveloper());
  ASSERT_EQ(::chmod(Path("alice.key").c_str(), 0644), 0);

  ProcessResult r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "x.csr"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "chmod 600 alice.key")) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "PERMISSION_DENIED")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("x.csr")));

  std::error_code ec;
  std::filesystem::copy_file(Bin("hello"), Path("hello"), ec);
  ASSERT_FALSE(ec) << ec.message();
  r = Devkit({"sign", "hello", "--key", "alice.key", "--cert", "alice.pem", "--name", "hello",
              "--version", "1.0.0", "--release", "1"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "chmod 600")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("hello.cert.pem")));

  // Following the hint fixes it.
  ASSERT_EQ(::chmod(Path("alice.key").c_str(), 0600), 0);
  r = Devkit({"csr", "--key", "alice.key", "--name", "alice", "--out", "x.csr"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

TEST_F(CliTest, SignRefusesAKeyThatIsNotTheDevelopersOwn) {
  ASSERT_NO_FATAL_FAILURE(InitStore());
  ASSERT_NO_FATAL_FAILURE(RegisterDeveloper("alice"));
  ASSERT_NO_FATAL_FAILURE(RegisterDeveloper("bob"));
  std::error_code ec;
  std::filesystem::copy_file(Bin("hello"), Path("hello"), ec);
  ASSERT_FALSE(ec) << ec.message();
  ProcessResult r = Devkit({"sign", "hello", "--key", "bob.key", "--cert", "alice.pem", "--name",
                            "hello", "--version", "1.0.0", "--release", "1"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("hello.cert.pem")));
}

// ---------------------------------------------------------------------------------------------
// devkit inspect

TEST_F(CliTest, InspectShowsTheExecutableDigestAndRelease) {
  ASSERT_NO_FATAL_FAILURE(MakeSignedRelease());
  const json cert = Inspect("hello.cert.pem");
  ASSERT_TRUE(cert.is_object());

  const json hash = FindExtension(cert, "executableHash");
  ASSERT_TRUE(hash.is_object()) << cert.dump(2);
  ASSERT_TRUE(hash.contains("value")) << hash.dump(2);
  EXPECT_EQ(hash["value"].value("algorithm", ""), "sha256") << hash.dump(2);
  const std::string digest = Sha256Sum("hello");
  ASSERT_EQ(digest.size(), 64u);
  EXPECT_EQ(hash["value"].value("digest", ""), digest) << hash.dump(2);

  const json release = FindExtension(cert, "serviceRelease");
  ASSERT_TRUE(release.is_object()) << cert.dump(2);
  ASSERT_TRUE(release.contains("value")) << release.dump(2);
  EXPECT_EQ(release["value"].value("name", ""), "hello");
  EXPECT_EQ(release["value"].value("version", ""), "1.0.0");
  EXPECT_EQ(release["value"].value("releaseCounter", 0), 1);

  // The Cert_dev is issued by alice's identity and is no CA.
  EXPECT_EQ(cert.value("ca", true), false);
  EXPECT_TRUE(Contains(cert.value("issuer", ""), "CN=alice")) << cert.dump(2);
  EXPECT_EQ(cert.value("issuer", "x"), Inspect("alice.pem").value("subject", "y"));

  // The text form carries the same digest.
  ProcessResult text = Devkit({"inspect", "hello.cert.pem"});
  EXPECT_EQ(text.exit_code, kExitOk) << text.Describe();
  EXPECT_TRUE(Contains(text.out, digest)) << text.Describe();
}

TEST_F(CliTest, InspectRefusesSomethingThatIsNotACertificate) {
  ASSERT_TRUE(WriteWholeFile(Path("junk.pem"), "not a certificate\n"));
  ProcessResult r = Devkit({"inspect", "junk.pem"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "devkit: error:")) << r.Describe();
  r = Devkit({"inspect", "missing.pem"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
}

// ---------------------------------------------------------------------------------------------
// Usage: --help exits 0, a bad flag exits 2.

TEST_F(CliTest, HelpOfEveryCommandExitsZero) {
  const std::vector<std::vector<std::string>> commands = {
      {"devkit"},
      {"devkit", "keygen"},
      {"devkit", "csr"},
      {"devkit", "sign"},
      {"devkit", "verify"},
      {"devkit", "inspect"},
      {"devkit", "register"},
      {"devkit", "publish"},
      {"devkit", "releases"},
      {"devkit", "download"},
      {"devkit", "revoke"},
      {"devkit", "revocations"},
      {"store"},
      {"store", "init"},
      {"store", "serve"},
      {"store", "tokens"},
      {"store", "tokens", "create"},
      {"store", "tokens", "list"},
      {"store", "developers"},
      {"store", "developers", "list"},
      {"store", "revoke"},
      {"store", "revoke", "release"},
      {"store", "revoke", "developer"},
      {"store", "stats"},
  };
  for (const auto& command : commands) {
    std::vector<std::string> args(command.begin() + 1, command.end());
    args.push_back("--help");
    ProcessResult r = Run(Bin(command[0]), args);
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    EXPECT_TRUE(Contains(r.out, "--help")) << r.Describe();
    EXPECT_TRUE(r.err.empty()) << r.Describe();
  }
}

TEST_F(CliTest, BadFlagOfEveryCommandExitsTwo) {
  const std::vector<std::vector<std::string>> commands = {
      {"devkit"},
      {"devkit", "keygen", "--out", "k.pem"},
      {"devkit", "csr", "--key", "k.pem", "--name", "a", "--out", "a.csr"},
      {"devkit", "sign"},
      {"devkit", "verify"},
      {"devkit", "inspect", "x.pem"},
      {"devkit", "releases", "--store", "localhost:1"},
      {"devkit", "download", "hello", "--store", "localhost:1"},
      {"store"},
      {"store", "init", "--dir", "store"},
      {"store", "serve", "--dir", "store"},
      {"store", "tokens", "create", "--dir", "store"},
      {"store", "developers"},
      {"store", "developers", "list", "--dir", "store"},
      {"store", "revoke", "developer", "alice", "--reason", "x", "--dir", "store"},
      {"store", "stats", "--dir", "store"},
  };
  for (const auto& command : commands) {
    std::vector<std::string> args(command.begin() + 1, command.end());
    args.push_back("--no-such-flag");
    ProcessResult r = Run(Bin(command[0]), args);
    EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
    EXPECT_TRUE(Contains(r.err, command[0] + " --help")) << r.Describe();
  }
  // Nothing was created by a refused command line.
  EXPECT_FALSE(std::filesystem::exists(Path("k.pem")));
  EXPECT_FALSE(std::filesystem::exists(Path("store")));
}

TEST_F(CliTest, MissingSubcommandOrArgumentExitsTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {Bin("devkit")},
           {Bin("store")},
           {Bin("devkit"), "keygen"},
           {Bin("devkit"), "verify", "--skew"},
           {Bin("devkit"), "releases"},
           {Bin("devkit"), "publish", "--store", "localhost:1", "--store-root", "/dev/null"},
           {Bin("store"), "serve"},
           {Bin("store"), "tokens"},
           {Bin("store"), "revoke", "release", "--dir", "store"},
       }) {
    ProcessResult r = RunProcess(args, dir_.path());
    EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
  }
}

// An admin command not told which store is a usage error, like any missing argument.
TEST_F(CliTest, AdminCommandWithoutAStoreExitsTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {Bin("store"), "developers", "list"},
           {Bin("store"), "stats"},
       }) {
    ProcessResult r = RunProcess(args, dir_.path());
    EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "store --help")) << r.Describe();
  }
}

// --version is a request like --help: exit 0, the version on stdout.
TEST_F(CliTest, VersionFlagExitsZero) {
  for (const char* program : {"devkit", "store"}) {
    ProcessResult r = Run(Bin(program), {"--version"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    EXPECT_TRUE(Contains(r.out, std::string("sitechain ") + program)) << r.Describe();
    EXPECT_FALSE(Contains(r.err, "--help")) << r.Describe();
  }
}

// ---------------------------------------------------------------------------------------------
// devkit verify --at

class VerifyAtTest : public CliTest {
 protected:
  // A release whose Cert_dev lives one day; records the validity window of the chain.
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(CliTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(MakeSignedRelease({"--lifetime", "1d"}));
    int64_t earliest = INT64_MAX, latest = INT64_MIN;
    for (const char* cert : {"store/root.pem", "alice.pem", "hello.cert.pem"}) {
      const json j = Inspect(cert);
      std::optional<int64_t> nb = ParseUtc(j.value("notBefore", ""));
      ASSERT_TRUE(nb.has_value()) << j.dump(2);
      earliest = std::min(earliest, *nb);
      latest = std::max(latest, *nb);
    }
    earliest_not_before_ = earliest;
    latest_not_before_ = latest;
    std::optional<int64_t> na = ParseUtc(Inspect("hello.cert.pem").value("notAfter", ""));
    ASSERT_TRUE(na.has_value());
    cert_dev_not_after_ = *na;
    // --lifetime 1d: the Cert_dev ends within a day of the chain's start.
    ASSERT_GT(cert_dev_not_after_, latest_not_before_);
    ASSERT_LE(cert_dev_not_after_ - latest_not_before_, 86400 + 120);
  }

  json VerifyAtJson(int64_t at, int expected_exit) {
    ProcessResult r = VerifyHello({"--at", FormatUtc(at), "--json"});
    EXPECT_EQ(r.exit_code, expected_exit) << r.Describe();
    json j = ParseJson(r);
    EXPECT_EQ(j.value("evaluatedAt", ""), FormatUtc(at)) << r.Describe();
    return j;
  }

  int64_t earliest_not_before_ = 0;
  int64_t latest_not_before_ = 0;
  int64_t cert_dev_not_after_ = 0;
};

TEST_F(VerifyAtTest, BeforeNotBeforeBeyondTheSkewIsNotYetValid) {
  const json j = VerifyAtJson(earliest_not_before_ - 61, kExitFailure);
  EXPECT_EQ(j.value("ok", true), false) << j.dump(2);
  EXPECT_EQ(j.value("reason", ""), "NOT_YET_VALID") << j.dump(2);
  EXPECT_EQ(j.value("rule", 0), 1) << j.dump(2);

  // A larger skew allowance accepts the same time.
  ProcessResult r = VerifyHello({"--at", FormatUtc(earliest_not_before_ - 61), "--skew", "1h"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

TEST_F(VerifyAtTest, WithinTheSkewBeforeNotBeforeIsAccepted) {
  const json j = VerifyAtJson(latest_not_before_ - 60, kExitOk);
  EXPECT_EQ(j.value("ok", false), true) << j.dump(2);
}

TEST_F(VerifyAtTest, AfterNotAfterIsExpired) {
  const json j = VerifyAtJson(cert_dev_not_after_ + 1, kExitFailure);
  EXPECT_EQ(j.value("ok", true), false) << j.dump(2);
  EXPECT_EQ(j.value("reason", ""), "EXPIRED") << j.dump(2);
  EXPECT_EQ(j.value("certificate", ""), "cert-dev") << j.dump(2);
  EXPECT_EQ(j.value("rule", 0), 1) << j.dump(2);

  // notAfter itself is still inside the validity period.
  const json last = VerifyAtJson(cert_dev_not_after_, kExitOk);
  EXPECT_EQ(last.value("ok", false), true) << last.dump(2);
  // And the skew allowance does not stretch notAfter.
  ProcessResult r = VerifyHello({"--at", FormatUtc(cert_dev_not_after_ + 1), "--skew", "1h"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "EXPIRED")) << r.Describe();
}

TEST_F(VerifyAtTest, MalformedTimeIsAnError) {
  ProcessResult r = VerifyHello({"--at", "yesterday"});
  EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "INVALID_ARGUMENT")) << r.Describe();
}

}  // namespace
}  // namespace sitechain::testutil
