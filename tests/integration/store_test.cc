// End-to-end tests of the app store as it runs: `store serve` as a real gRPC/TLS server on port 0
// in a temporary directory, driven by the real `devkit` and `store` programs. Covers the whole
// developer path (register, sign, publish, list, download, verify offline, run), durability
// across clean restarts and kill -9, uploads interrupted on either side, every refusal a
// developer can meet (with its gRPC code, its message, and the store left unchanged), the
// revocation feed and the admin socket.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/cli_support.h"
#include "tests/integration/process.h"
#include "tests/integration/program_world.h"
#include "tests/integration/store_server.h"

namespace sitechain::testutil {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

// An upload big enough to be caught in flight (sparse: costs no disk).
constexpr uint64_t kBigUploadBytes = 64ull << 20;

// "YYYY-MM-DDTHH:MM:SSZ" as Unix seconds; nullopt if it is not of that form.
std::optional<int64_t> ParseUtc(const std::string& text) {
  std::tm tm{};
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
      z != 'Z') {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

// Each test: a fresh directory that is the working directory of every program it runs, a store
// initialised in <dir>/store and (once InitAndServe ran) served on a free port.
class StoreTest : public ProgramTest {
 protected:
  // store init --dir <dir>.
  void Init(const std::string& dir = "store") {
    ProcessResult r = Store({"init", "--dir", dir, "--name", "Store " + dir});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // Initialises ./store and serves it (extra arguments go to `store serve`).
  void InitAndServe(std::vector<std::string> serve_args = {}) {
    ASSERT_NO_FATAL_FAILURE(Init());
    server_ =
        std::make_unique<StoreServer>(Bin("store"), dir_.path(), "store", std::move(serve_args));
    ASSERT_TRUE(server_->Start());
  }

  // A store with alice and bob registered (ed25519 keys <name>.key, CSRs, identities <name>.pem
  // in the test directory), copied from a template made once for the suite, then served. Saves
  // every test that only needs registered developers ten program runs.
  void ServeWithDevelopers(std::vector<std::string> serve_args = {}) {
    ASSERT_TRUE(template_.CopyInto(dir_, /*node_store_root=*/false));
    ASSERT_EQ(ModeOf(Path("alice.key")), 0600);
    server_ =
        std::make_unique<StoreServer>(Bin("store"), dir_.path(), "store", std::move(serve_args));
    ASSERT_TRUE(server_->Start());
  }

  static void TearDownTestSuite() { template_.Reset(); }

  // `args` followed by --store and --store-root (of `server`, default the main one).
  std::vector<std::string> AtStore(std::vector<std::string> args,
                                   const std::string& root = "store/root.pem",
                                   const StoreServer* server = nullptr) const {
    const StoreServer& s = server != nullptr ? *server : *server_;
    args.insert(args.end(), {"--store", s.address(), "--store-root", root});
    return args;
  }
  // AtStore plus the developer's certificate and key for mutual TLS.
  std::vector<std::string> AsDeveloper(const std::string& developer,
                                       std::vector<std::string> args) const {
    args = AtStore(std::move(args));
    args.insert(args.end(), {"--cert", developer + ".pem", "--key", developer + ".key"});
    return args;
  }

  // A one-time registration token from `store tokens create` (empty, and a failure, if none).
  std::string CreateToken(const std::string& note = "", const std::string& dir = "store") {
    ProcessResult r = Store({"tokens", "create", "--dir", dir, "--note", note});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return Trim(r.out);
  }

  // keygen + csr: <name>.key and <name>.csr.
  void MakeCsr(const std::string& name) {
    ProcessResult r = Devkit({"keygen", "--out", name + ".key", "--type", "ed25519"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    r = Devkit({"csr", "--key", name + ".key", "--name", name, "--out", name + ".csr"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // keygen + csr + tokens create + register at the store in `dir` served by `server` (default:
  // the main one): <name>.key, <name>.csr and the identity <name>.pem.
  void Register(const std::string& name, const std::string& dir = "store",
                const StoreServer* server = nullptr) {
    ASSERT_NO_FATAL_FAILURE(MakeCsr(name));
    const std::string token = CreateToken(name, dir);
    ASSERT_FALSE(token.empty());
    ProcessResult r = Devkit(
        AtStore({"register", "--token", token, "--csr", name + ".csr", "--out", name + ".pem"},
                dir + "/root.pem", server));
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    ASSERT_TRUE(std::filesystem::exists(Path(name + ".pem"))) << r.Describe();
  }

  // A copy of the hello program named `file` in the test directory.
  void CopyHello(const std::string& file = "hello") {
    std::error_code ec;
    std::filesystem::copy_file(Bin("hello"), Path(file),
                               std::filesystem::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  // A sparse file of `bytes` zero bytes.
  void MakeFile(const std::string& file, uint64_t bytes) {
    ASSERT_TRUE(WriteWholeFile(Path(file), ""));
    std::error_code ec;
    std::filesystem::resize_file(Path(file), bytes, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  // devkit sign <file> as <name> <version> release <release>, by `developer`: writes cert_dev.
  void Sign(const std::string& developer, const std::string& file, const std::string& name,
            const std::string& version, int release, const std::string& cert_dev) {
    ProcessResult r = Devkit({"sign", file, "--key", developer + ".key", "--cert",
                              developer + ".pem", "--name", name, "--version", version, "--release",
                              std::to_string(release), "--out", cert_dev});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  // devkit publish of file + cert_dev as `developer`; Cert_store goes to <cert_dev>.store.pem.
  ProcessResult Publish(const std::string& developer, const std::string& file,
                        const std::string& cert_dev) const {
    return Devkit(
        AsDeveloper(developer, {"publish", file, cert_dev, "--out", cert_dev + ".store.pem"}));
  }

  // Copies hello, signs it as hello <version> by `developer` (hello-<version>.cert.pem) and
  // publishes it; the publish must succeed.
  void PublishHello(const std::string& developer = "alice", const std::string& version = "1.0.0",
                    int release = 1) {
    ASSERT_NO_FATAL_FAILURE(CopyHello());
    const std::string cert_dev = "hello-" + version + ".cert.pem";
    ASSERT_NO_FATAL_FAILURE(Sign(developer, "hello", "hello", version, release, cert_dev));
    ProcessResult r = Publish(developer, "hello", cert_dev);
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  }

  static json ParseJson(const ProcessResult& r) {
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON:\n" << r.Describe();
    return j;
  }

  // The catalog (`devkit releases --json`), an array of releases.
  json Releases(bool include_revoked = true) const {
    std::vector<std::string> args = {"releases", "--json"};
    if (include_revoked) args.push_back("--include-revoked");
    ProcessResult r = Devkit(AtStore(args));
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    const json j = ParseJson(r);
    return j.is_object() && j.contains("releases") ? j["releases"] : json::array();
  }

  // `devkit revocations --after <after> --json`: one object per line.
  std::vector<json> Revocations(uint64_t after = 0) const {
    ProcessResult r = Devkit(AtStore({"revocations", "--after", std::to_string(after), "--json"}));
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return JsonLines(r.out);
  }

  static std::vector<json> JsonLines(const std::string& text) {
    std::vector<json> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      lines.push_back(j);
    }
    return lines;
  }

  // `store stats --json` of the running main store.
  json Stats() const {
    ProcessResult r = Store({"stats", "--dir", "store", "--json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return ParseJson(r);
  }

  // The output of an admin command with --json (must succeed).
  std::string AdminJson(std::vector<std::string> args) const {
    args.insert(args.end(), {"--dir", "store", "--json"});
    ProcessResult r = Store(args);
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    return r.out;
  }

  // The uploads in progress: the entries of store/blobs/tmp.
  std::set<std::string> UploadsInProgress() const {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(Path("store/blobs/tmp"), ec)) {
      names.insert(e.path().filename().string());
    }
    return names;
  }

  // A refusal as devkit and store print it: exit 1, "[CODE]" and a message fragment on stderr.
  static void ExpectRefused(const ProcessResult& r, const std::string& code,
                            const std::string& fragment) {
    EXPECT_EQ(r.exit_code, kExitFailure) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "[" + code + "]")) << "expected " << code << "\n" << r.Describe();
    EXPECT_TRUE(Contains(r.err, fragment)) << "expected '" << fragment << "'\n" << r.Describe();
  }

  // Starts `devkit publish` of a big file in the background and waits until the store has
  // begun receiving it (a temporary file in store/blobs/tmp).
  void StartBigUpload(ChildProcess& publish) {
    ASSERT_NO_FATAL_FAILURE(MakeFile("big", kBigUploadBytes));
    ASSERT_NO_FATAL_FAILURE(Sign("alice", "big", "big", "1.0.0", 1, "big.cert.pem"));
    std::vector<std::string> argv =
        AsDeveloper("alice", {"publish", "big", "big.cert.pem", "--out", "big.cert-store.pem"});
    argv.insert(argv.begin(), Bin("devkit"));
    ASSERT_TRUE(publish.Start(argv, dir_.path(), Path("publish.out"), Path("publish.err")));
    ASSERT_TRUE(
        WaitUntil([&] { return !UploadsInProgress().empty() || !publish.running(); }, seconds(20)));
    ASSERT_FALSE(UploadsInProgress().empty()) << publish.Describe();
  }

  // devkit makes only profile-conforming Cert_devs, so openssl makes these: hello 1.0.0 release 1
  // with the same sitechain extensions (copied from a devkit Cert_dev), issued by alice's key,
  // once as the profile wants it (plain.cert.pem) and once with an extra subjectAltName
  // (extra.cert.pem). Needs alice registered and ./hello.
  void MakeOpensslCertDevs() {
    ProcessResult r =
        Devkit({"sign", "hello", "--key", "alice.key", "--cert", "alice.pem", "--name", "hello",
                "--version", "1.0.0", "--release", "1", "--out", "devkit.cert.pem"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    ProcessResult parsed = Run("openssl", {"asn1parse", "-in", "devkit.cert.pem"});
    ASSERT_EQ(parsed.exit_code, kExitOk) << parsed.Describe();
    // The DER value of each sitechain extension: the OCTET STRING after its OID.
    std::string config;
    for (const std::string oid : {"1.3.6.1.4.1.32473.17.1", "1.3.6.1.4.1.32473.17.3"}) {
      const size_t at = parsed.out.find(":" + oid + "\n");
      ASSERT_NE(at, std::string::npos) << oid << "\n" << parsed.out;
      const size_t hex = parsed.out.find("[HEX DUMP]:", at);
      ASSERT_NE(hex, std::string::npos) << parsed.out;
      const size_t begin = hex + std::string("[HEX DUMP]:").size();
      config +=
          oid + "=DER:" + parsed.out.substr(begin, parsed.out.find('\n', begin) - begin) + "\n";
    }
    config +=
        "subjectKeyIdentifier=hash\nkeyUsage=critical,digitalSignature\n"
        "basicConstraints=critical,CA:FALSE\nauthorityKeyIdentifier=keyid\n";
    ASSERT_TRUE(WriteWholeFile(Path("plain.cnf"), config));
    ASSERT_TRUE(WriteWholeFile(Path("extra.cnf"), config + "subjectAltName=DNS:extra.example\n"));
    ProcessResult req = Run("openssl", {"req", "-new", "-key", "alice.key", "-subj",
                                        "/O=alice/OU=1.0.0/CN=hello", "-out", "hello.csr"});
    ASSERT_EQ(req.exit_code, kExitOk) << req.Describe();
    for (const std::string kind : {"plain", "extra"}) {
      ProcessResult x509 = Run(
          "openssl", {"x509", "-req", "-in", "hello.csr", "-CA", "alice.pem", "-CAkey", "alice.key",
                      "-extfile", kind + ".cnf", "-days", "30", "-out", kind + ".cert.pem"});
      ASSERT_EQ(x509.exit_code, kExitOk) << x509.Describe();
    }
    // Offline, devkit verify accepts the plain one (the recipe is right) and refuses the other.
    r = Devkit({"verify", "--store-root", "store/root.pem", "--developer-cert", "alice.pem",
                "--dev", "plain.cert.pem", "-e", "hello"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
    r = Devkit({"verify", "--store-root", "store/root.pem", "--developer-cert", "alice.pem",
                "--dev", "extra.cert.pem", "-e", "hello"});
    ASSERT_EQ(r.exit_code, kExitFailure) << r.Describe();
    ASSERT_TRUE(Contains(r.out, "EXTENSION_NOT_ALLOWED")) << r.Describe();
  }

  std::unique_ptr<StoreServer> server_;
  // Made by the first ServeWithDevelopers: alice and bob registered.
  static inline StoreTemplate template_{{"alice", "bob"}, {}, {}};
};

// ---------------------------------------------------------------------------------------------
// The whole path

TEST_F(StoreTest, PublishedReleaseIsListedDownloadedVerifiedAndRuns) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  // The ready file says where the store is.
  const json& ready = server_->ready_json();
  EXPECT_EQ(ready.value("address", ""), "127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(ready.value("admin_socket", ""), "store/admin.sock");
  EXPECT_EQ(ready.value("store_root", ""), "store/root.pem");

  // Register: a one-time token and a CSR give a developer identity openssl accepts.
  ASSERT_NO_FATAL_FAILURE(MakeCsr("alice"));
  const std::string token = CreateToken("alice");
  ASSERT_EQ(token.rfind("sct-", 0), 0u) << token;
  ProcessResult r =
      Devkit(AtStore({"register", "--token", token, "--csr", "alice.csr", "--out", "alice.pem"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "registered as 'alice'")) << r.Describe();
  ProcessResult ossl = Run("openssl", {"verify", "-CAfile", "store/root.pem", "alice.pem"});
  EXPECT_EQ(ossl.exit_code, kExitOk) << ossl.Describe();

  // Sign and publish.
  ASSERT_NO_FATAL_FAILURE(CopyHello());
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.0.0", 1, "hello.cert.pem"));
  r = Devkit(AsDeveloper("alice", {"publish", "hello", "hello.cert.pem"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "published hello 1.0.0")) << r.Describe();
  ASSERT_TRUE(std::filesystem::exists(Path("hello.cert-store.pem"))) << r.Describe();

  const std::string hello = ReadWholeFile(Path("hello"));
  const std::string size = std::to_string(hello.size());
  ProcessResult sum = Run("sha256sum", {"hello"});
  ASSERT_EQ(sum.exit_code, kExitOk) << sum.Describe();
  const std::string digest = sum.out.substr(0, sum.out.find(' '));

  // Listed, as text and as JSON.
  ProcessResult text = Devkit(AtStore({"releases"}));
  ASSERT_EQ(text.exit_code, kExitOk) << text.Describe();
  EXPECT_TRUE(
      Contains(text.out, "hello\t1.0.0\trelease 1\talice\t" + size + " bytes\tsha256:" + digest))
      << text.Describe();
  const json releases = Releases(false);
  ASSERT_EQ(releases.size(), 1u) << releases.dump(2);
  const json& rel = releases[0];
  EXPECT_EQ(rel.value("name", ""), "hello");
  EXPECT_EQ(rel.value("version", ""), "1.0.0");
  EXPECT_EQ(rel.value("release_counter", ""), "1");
  EXPECT_EQ(rel.value("developer", ""), "alice");
  EXPECT_EQ(rel.value("digest_algorithm", ""), "sha256");
  EXPECT_EQ(rel.value("digest", ""), digest);
  EXPECT_EQ(rel.value("size", ""), size);
  EXPECT_EQ(rel.value("revoked", true), false);

  // Download into a fresh directory: verified before it is kept.
  r = Devkit(AtStore({"download", "hello", "1.0.0", "--out-dir", "site"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "verified offline against store/root.pem")) << r.Describe();
  EXPECT_EQ(ReadWholeFile(Path("site/hello")), hello);
  EXPECT_EQ(ModeOf(Path("site/hello")), 0755);
  EXPECT_EQ(ReadWholeFile(Path("site/hello.cert-dev.pem")), ReadWholeFile(Path("hello.cert.pem")));
  EXPECT_EQ(ReadWholeFile(Path("site/hello.cert-store.pem")),
            ReadWholeFile(Path("hello.cert-store.pem")));
  EXPECT_EQ(ReadWholeFile(Path("site/hello.developer.pem")), ReadWholeFile(Path("alice.pem")));
  EXPECT_FALSE(std::filesystem::exists(Path("site/hello.download")));

  // The downloaded chain verifies with devkit verify (all of rules 1, 2, 4, 6, 8) ...
  r = Devkit({"verify", "--store-root", "store/root.pem", "--developer-cert",
              "site/hello.developer.pem", "--dev", "site/hello.cert-dev.pem", "--store",
              "site/hello.cert-store.pem", "-e", "site/hello"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(r.out.rfind("OK", 0), 0u) << r.Describe();
  // ... and openssl agrees about the developer's part.
  ossl = Run("openssl", {"verify", "-CAfile", "store/root.pem", "-untrusted",
                         "site/hello.developer.pem", "site/hello.cert-dev.pem"});
  EXPECT_EQ(ossl.exit_code, kExitOk) << ossl.Describe();

  // The downloaded executable runs.
  ProcessResult run = Run(Path("site/hello"), {"tester"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.Describe();
  EXPECT_TRUE(Contains(run.out, "hello, tester")) << run.Describe();

  // Without a version: the newest release.
  r = Devkit(AtStore({"download", "hello", "--out-dir", "site2"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(ReadWholeFile(Path("site2/hello")), hello);

  const json stats = Stats();
  EXPECT_EQ(stats.value("developers", ""), "1") << stats.dump(2);
  EXPECT_EQ(stats.value("releases", ""), "1") << stats.dump(2);
  EXPECT_EQ(stats.value("blob_bytes", ""), size) << stats.dump(2);
}

// ---------------------------------------------------------------------------------------------
// Durability

TEST_F(StoreTest, EverythingSurvivesARestart) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_FALSE(CreateToken("carol, unused").empty());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.1.0", 2));
  ProcessResult r =
      Devkit(AsDeveloper("alice", {"revoke", "hello", "1.0.0", "--reason", "superseded by 1.1.0"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  const json releases = Releases();
  ASSERT_EQ(releases.size(), 2u) << releases.dump(2);
  const std::string developers = AdminJson({"developers", "list"});
  const std::string tokens = AdminJson({"tokens", "list"});
  ASSERT_TRUE(Contains(tokens, "carol, unused")) << tokens;
  const std::vector<json> revocations = Revocations();
  ASSERT_EQ(revocations.size(), 1u);
  const json stats = Stats();

  // A clean stop (exit 0), then a new process on the same directory (and a new port).
  ASSERT_TRUE(server_->Restart(SIGTERM));
  EXPECT_TRUE(Contains(server_->log(), "shutting down")) << server_->log();

  EXPECT_EQ(Releases(), releases);
  EXPECT_EQ(AdminJson({"developers", "list"}), developers);
  EXPECT_EQ(AdminJson({"tokens", "list"}), tokens);
  EXPECT_EQ(Revocations(), revocations);
  EXPECT_EQ(Stats(), stats);

  // The release still downloads and verifies; alice can still publish.
  r = Devkit(AtStore({"download", "hello", "1.1.0", "--out-dir", "site"}));
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Devkit({"verify", "--store-root", "store/root.pem", "--developer-cert",
              "site/hello.developer.pem", "--dev", "site/hello.cert-dev.pem", "--store",
              "site/hello.cert-store.pem", "-e", "site/hello"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.2.0", 3));
}

// A release whose publish was acknowledged is kept even if the store dies right after.
TEST_F(StoreTest, AcknowledgedPublishSurvivesKillNine) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  ASSERT_TRUE(server_->Stop(SIGKILL));
  ASSERT_TRUE(server_->Start());

  const json releases = Releases();
  ASSERT_EQ(releases.size(), 1u) << releases.dump(2);
  EXPECT_EQ(releases[0].value("name", ""), "hello");
  EXPECT_EQ(releases[0].value("version", ""), "1.0.0");
  ProcessResult r = Devkit(AtStore({"download", "hello", "1.0.0", "--out-dir", "site"}));
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_EQ(ReadWholeFile(Path("site/hello")), ReadWholeFile(Path("hello")));
  EXPECT_EQ(Stats().value("releases", ""), "1");
}

// The store dies while an upload is in flight: after a restart there is no trace of it, and
// the same file can be published.
TEST_F(StoreTest, UploadCutByAStoreCrashLeavesNoTrace) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ChildProcess publish;
  ASSERT_NO_FATAL_FAILURE(StartBigUpload(publish));
  // Freeze the client so that the upload cannot finish, then kill the store.
  publish.Signal(SIGSTOP);
  ASSERT_TRUE(server_->Stop(SIGKILL));
  publish.Signal(SIGCONT);
  const std::optional<int> code = publish.WaitForExit(seconds(30));
  ASSERT_TRUE(code.has_value()) << publish.Describe();
  EXPECT_EQ(*code, kExitFailure) << publish.Describe();
  EXPECT_TRUE(Contains(publish.err(), "[UNAVAILABLE]")) << publish.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("big.cert-store.pem")));
  // The crash left the partial upload behind ...
  EXPECT_FALSE(UploadsInProgress().empty());

  // ... which the restarted store removes.
  ASSERT_TRUE(server_->Start());
  EXPECT_TRUE(UploadsInProgress().empty());
  EXPECT_TRUE(Releases().empty());
  const json stats = Stats();
  EXPECT_EQ(stats.value("releases", ""), "0") << stats.dump(2);
  EXPECT_EQ(stats.value("blob_bytes", ""), "0") << stats.dump(2);

  // The same file and Cert_dev publish now.
  ProcessResult r = Publish("alice", "big", "big.cert.pem");
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  const json releases = Releases();
  ASSERT_EQ(releases.size(), 1u) << releases.dump(2);
  EXPECT_EQ(releases[0].value("size", ""), std::to_string(kBigUploadBytes));
  EXPECT_TRUE(UploadsInProgress().empty());
}

// The client dies mid-upload: the store stays up and drops what it received.
TEST_F(StoreTest, UploadCutByAClientCrashLeavesNoTrace) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  const json before = Stats();
  ChildProcess publish;
  ASSERT_NO_FATAL_FAILURE(StartBigUpload(publish));
  publish.Signal(SIGKILL);
  ASSERT_EQ(publish.WaitForExit(seconds(10)), std::optional<int>(128 + SIGKILL));

  EXPECT_TRUE(WaitUntil([&] { return UploadsInProgress().empty(); }, seconds(20)))
      << server_->log();
  EXPECT_TRUE(server_->running()) << server_->log();
  EXPECT_TRUE(Releases().empty());
  EXPECT_EQ(Stats(), before);
}

// ---------------------------------------------------------------------------------------------
// Registration refusals

TEST_F(StoreTest, UnknownTokenIsRefused) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  ASSERT_NO_FATAL_FAILURE(MakeCsr("alice"));
  const json before = Stats();
  ProcessResult r = Devkit(AtStore({"register", "--token", "sct-00000000000000000000000000000000",
                                    "--csr", "alice.csr", "--out", "alice.pem"}));
  ExpectRefused(r, "UNAUTHENTICATED", "unknown registration token");
  EXPECT_FALSE(std::filesystem::exists(Path("alice.pem")));
  EXPECT_EQ(Stats(), before);
}

TEST_F(StoreTest, UsedTokenIsRefused) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  ASSERT_NO_FATAL_FAILURE(MakeCsr("alice"));
  ASSERT_NO_FATAL_FAILURE(MakeCsr("bob"));
  const std::string token = CreateToken("alice");
  ProcessResult r =
      Devkit(AtStore({"register", "--token", token, "--csr", "alice.csr", "--out", "alice.pem"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  const json before = Stats();
  r = Devkit(AtStore({"register", "--token", token, "--csr", "bob.csr", "--out", "bob.pem"}));
  ExpectRefused(r, "UNAUTHENTICATED", "already used");
  EXPECT_TRUE(Contains(r.err, "alice")) << r.Describe();  // by whom
  EXPECT_FALSE(std::filesystem::exists(Path("bob.pem")));
  EXPECT_EQ(Stats(), before);
  EXPECT_FALSE(Contains(AdminJson({"developers", "list"}), "bob"));
}

// The only test that waits for time to pass: a token of one second, used after it expired.
TEST_F(StoreTest, ExpiredTokenIsRefused) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  ASSERT_NO_FATAL_FAILURE(MakeCsr("alice"));
  ProcessResult created =
      Store({"tokens", "create", "--dir", "store", "--ttl", "1s", "--note", "alice", "--json"});
  ASSERT_EQ(created.exit_code, kExitOk) << created.Describe();
  const json token = ParseJson(created);
  const std::optional<int64_t> expires = ParseUtc(token.value("expires_at", ""));
  ASSERT_TRUE(expires.has_value()) << created.Describe();
  // expires_at is printed to the second; one more second is surely past it.
  const auto past =
      std::chrono::system_clock::from_time_t(static_cast<std::time_t>(*expires)) + seconds(1);
  ASSERT_TRUE(WaitUntil([&] { return std::chrono::system_clock::now() >= past; }, seconds(5),
                        milliseconds(20)));

  const json before = Stats();
  EXPECT_EQ(before.value("active_tokens", ""), "0") << before.dump(2);
  ProcessResult r = Devkit(AtStore({"register", "--token", token.value("token", ""), "--csr",
                                    "alice.csr", "--out", "alice.pem"}));
  ExpectRefused(r, "UNAUTHENTICATED", "expired");
  EXPECT_FALSE(std::filesystem::exists(Path("alice.pem")));
  EXPECT_EQ(Stats(), before);
}

// ---------------------------------------------------------------------------------------------
// Publish refusals: each leaves the store as it was.

TEST_F(StoreTest, ExecutableOverTheSizeLimitIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers({"--max-executable-size", "1MiB"}));
  ASSERT_NO_FATAL_FAILURE(MakeFile("large", 2 << 20));
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "large", "large", "1.0.0", 1, "large.cert.pem"));
  const json before = Stats();
  ProcessResult r = Publish("alice", "large", "large.cert.pem");
  ExpectRefused(r, "RESOURCE_EXHAUSTED", "at most 1048576");
  EXPECT_EQ(Stats(), before);
  EXPECT_TRUE(UploadsInProgress().empty());
  EXPECT_TRUE(Releases().empty());

  // Within the limit it is accepted.
  ASSERT_NO_FATAL_FAILURE(MakeFile("small", 1 << 20));
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "small", "small", "1.0.0", 1, "small.cert.pem"));
  r = Publish("alice", "small", "small.cert.pem");
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

TEST_F(StoreTest, ExecutableChangedAfterSigningIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(CopyHello());
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.0.0", 1, "hello.cert.pem"));
  std::string bytes = ReadWholeFile(Path("hello"));
  ASSERT_GT(bytes.size(), 1000u);
  bytes[bytes.size() - 100] = static_cast<char>(bytes[bytes.size() - 100] ^ 0xff);
  ASSERT_TRUE(WriteWholeFile(Path("hello"), bytes));

  const json before = Stats();
  ProcessResult r = Publish("alice", "hello", "hello.cert.pem");
  ExpectRefused(r, "INVALID_ARGUMENT", "publish the very file you signed");
  EXPECT_TRUE(Contains(r.err, "executableHash")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(Path("hello.cert.pem.store.pem")));
  EXPECT_EQ(Stats(), before);
  EXPECT_TRUE(WaitUntil([&] { return UploadsInProgress().empty(); }, seconds(10)));
  EXPECT_TRUE(Releases().empty());
}

TEST_F(StoreTest, CertDevWithAnExtraExtensionIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(CopyHello());
  ASSERT_NO_FATAL_FAILURE(MakeOpensslCertDevs());
  const json before = Stats();
  ProcessResult r = Publish("alice", "hello", "extra.cert.pem");
  ExpectRefused(r, "INVALID_ARGUMENT", "EXTENSION_NOT_ALLOWED");
  EXPECT_TRUE(Contains(r.err, "subjectAltName")) << r.Describe();
  EXPECT_EQ(Stats(), before);
  EXPECT_TRUE(UploadsInProgress().empty());
}

// A Cert_dev made by openssl (UTF8String subject attributes, where devkit writes
// PrintableString) publishes: Cert_store copies the subject's DER byte for byte (rule 4).
TEST_F(StoreTest, CertDevMadeByOpensslIsPublished) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(CopyHello());
  ASSERT_NO_FATAL_FAILURE(MakeOpensslCertDevs());
  ProcessResult r = Publish("alice", "hello", "plain.cert.pem");
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
  r = Devkit(AtStore({"download", "hello", "1.0.0", "--out-dir", "site"}));
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

TEST_F(StoreTest, DuplicateVersionIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  // The same version again, even with a higher counter.
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.0.0", 2, "again.cert.pem"));
  const json before = Stats();
  ProcessResult r = Publish("alice", "hello", "again.cert.pem");
  ExpectRefused(r, "ALREADY_EXISTS", "already published");
  EXPECT_EQ(Stats(), before);
  EXPECT_EQ(Releases().size(), 1u);
}

TEST_F(StoreTest, ReleaseCounterThatDoesNotGrowIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 5));
  const json before = Stats();
  for (int counter : {4, 5}) {
    const std::string cert = "counter" + std::to_string(counter) + ".cert.pem";
    ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.1.0", counter, cert));
    ProcessResult r = Publish("alice", "hello", cert);
    ExpectRefused(r, "FAILED_PRECONDITION", "is not above 5");
    EXPECT_EQ(Stats(), before);
  }
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.1.0", 6, "counter6.cert.pem"));
  ProcessResult r = Publish("alice", "hello", "counter6.cert.pem");
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

// bob (registered, authenticated by mutual TLS) uploads a Cert_dev alice issued.
TEST_F(StoreTest, CertDevOfAnotherDeveloperIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(CopyHello());
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.0.0", 1, "hello.cert.pem"));
  const json before = Stats();
  ProcessResult r = Publish("bob", "hello", "hello.cert.pem");
  ExpectRefused(r, "PERMISSION_DENIED", "not by you ('bob')");
  EXPECT_EQ(Stats(), before);
  EXPECT_TRUE(Releases().empty());
}

// A name belongs to the developer who published it first.
TEST_F(StoreTest, PublishingUnderAnotherDevelopersNameIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  ASSERT_NO_FATAL_FAILURE(Sign("bob", "hello", "hello", "2.0.0", 2, "bob-hello.cert.pem"));
  const json before = Stats();
  ProcessResult r = Publish("bob", "hello", "bob-hello.cert.pem");
  ExpectRefused(r, "PERMISSION_DENIED", "belongs to developer 'alice'");
  EXPECT_EQ(Stats(), before);
  EXPECT_EQ(Releases().size(), 1u);
}

// devkit trusts only the store root it is given: another store's root fails the handshake.
TEST_F(StoreTest, WrongStoreRootIsUnavailableWithAHint) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(Init("other"));
  ASSERT_NO_FATAL_FAILURE(CopyHello());
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.0.0", 1, "hello.cert.pem"));
  const json before = Stats();

  ProcessResult r = Devkit(AtStore({"releases"}, "other/root.pem"));
  ExpectRefused(r, "UNAVAILABLE", "is other/root.pem its root");
  std::vector<std::string> publish =
      AtStore({"publish", "hello", "hello.cert.pem"}, "other/root.pem");
  publish.insert(publish.end(), {"--cert", "alice.pem", "--key", "alice.key"});
  r = Devkit(publish);
  ExpectRefused(r, "UNAVAILABLE", "is other/root.pem its root");
  EXPECT_EQ(Stats(), before);
  EXPECT_TRUE(Releases().empty());
}

// A developer identity of another store is no identity here: the store refuses it by name.
TEST_F(StoreTest, DeveloperCertificateOfAnotherStoreIsUnauthenticated) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  ASSERT_NO_FATAL_FAILURE(Init("other"));
  StoreServer other(Bin("store"), dir_.path(), "other");
  ASSERT_TRUE(other.Start());
  ASSERT_NO_FATAL_FAILURE(Register("mallory", "other", &other));
  ASSERT_NO_FATAL_FAILURE(CopyHello());
  ASSERT_NO_FATAL_FAILURE(Sign("mallory", "hello", "hello", "1.0.0", 1, "hello.cert.pem"));
  const json before = Stats();
  ProcessResult r = Publish("mallory", "hello", "hello.cert.pem");
  ExpectRefused(r, "UNAUTHENTICATED", "not a developer identity of this store");
  EXPECT_EQ(Stats(), before);
  EXPECT_TRUE(Releases().empty());
  EXPECT_TRUE(server_->running());
  // The same files publish at the store that issued them.
  std::vector<std::string> at_other = AtStore(
      {"publish", "hello", "hello.cert.pem", "--cert", "mallory.pem", "--key", "mallory.key"},
      "other/root.pem", &other);
  r = Devkit(at_other);
  EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
}

TEST_F(StoreTest, RevokedDeveloperCanNoLongerPublish) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  ProcessResult r =
      Store({"revoke", "developer", "alice", "--reason", "key compromised", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  ASSERT_NO_FATAL_FAILURE(Sign("alice", "hello", "hello", "1.1.0", 2, "hello-1.1.0.cert.pem"));
  const json before = Stats();
  r = Publish("alice", "hello", "hello-1.1.0.cert.pem");
  ExpectRefused(r, "PERMISSION_DENIED", "was revoked");
  EXPECT_TRUE(Contains(r.err, "key compromised")) << r.Describe();
  EXPECT_EQ(Stats(), before);
  // Nor revoke anything.
  r = Devkit(AsDeveloper("alice", {"revoke", "hello", "1.0.0", "--reason", "x"}));
  ExpectRefused(r, "PERMISSION_DENIED", "was revoked");
  EXPECT_EQ(Stats(), before);
}

// ---------------------------------------------------------------------------------------------
// Revocation feed

TEST_F(StoreTest, FollowerSeesADevelopersRevocationAsItHappens) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.1.0", 2));

  std::vector<std::string> argv = AtStore({"revocations", "--follow", "--count", "2", "--json"});
  argv.insert(argv.begin(), Bin("devkit"));
  ChildProcess follower;
  ASSERT_TRUE(follower.Start(argv, dir_.path(), Path("follow.out"), Path("follow.err")));

  ProcessResult r =
      Devkit(AsDeveloper("alice", {"revoke", "hello", "1.0.0", "--reason", "crashes on start"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "release hello 1.0.0")) << r.Describe();
  // The first entry arrives while the follower keeps watching ...
  ASSERT_TRUE(WaitUntil([&] { return JsonLines(follower.out()).size() == 1; }, seconds(20)))
      << follower.Describe();
  EXPECT_TRUE(follower.running()) << follower.Describe();
  // ... and the second one, revoked after it was watching, ends it (--count 2).
  r = Devkit(AsDeveloper("alice", {"revoke", "hello", "1.1.0", "--reason", "same bug"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  ASSERT_EQ(follower.WaitForExit(seconds(20)), std::optional<int>(kExitOk)) << follower.Describe();

  const std::vector<json> followed = JsonLines(follower.out());
  ASSERT_EQ(followed.size(), 2u) << follower.Describe();
  const json& first = followed[0];
  EXPECT_EQ(first.value("sequence", ""), "1") << first.dump();
  EXPECT_EQ(first.value("kind", ""), "RELEASE") << first.dump();
  EXPECT_EQ(first.value("name", ""), "hello") << first.dump();
  EXPECT_EQ(first.value("version", ""), "1.0.0") << first.dump();
  EXPECT_EQ(first.value("developer", ""), "alice") << first.dump();
  EXPECT_EQ(first.value("reason", ""), "crashes on start") << first.dump();
  EXPECT_EQ(first.value("revoked_by", ""), "developer:alice") << first.dump();
  EXPECT_EQ(first.value("digest", ""), Releases()[0].value("digest", "?")) << first.dump();
  EXPECT_EQ(followed[1].value("sequence", ""), "2") << followed[1].dump();
  EXPECT_EQ(followed[1].value("version", ""), "1.1.0") << followed[1].dump();

  // The listing says the same; --after skips what was seen.
  EXPECT_EQ(Revocations(0), followed);
  const std::vector<json> after_first = Revocations(1);
  ASSERT_EQ(after_first.size(), 1u);
  EXPECT_EQ(after_first[0], followed[1]);
  // Revoked releases leave the catalog (still listed with --include-revoked).
  EXPECT_TRUE(Releases(false).empty());
  const json all = Releases(true);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].value("revoked", false), true);
  EXPECT_EQ(Stats().value("revoked_releases", ""), "2");
}

TEST_F(StoreTest, RevokingSomeoneElsesReleaseIsRefused) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  const json before = Stats();
  ProcessResult r = Devkit(AsDeveloper("bob", {"revoke", "hello", "1.0.0", "--reason", "mine"}));
  ExpectRefused(r, "PERMISSION_DENIED", "alice");
  EXPECT_EQ(Stats(), before);
  EXPECT_TRUE(Revocations().empty());
  EXPECT_EQ(Releases(false).size(), 1u);
}

TEST_F(StoreTest, AdminRevokesARelease) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  ProcessResult r = Store(
      {"revoke", "release", "hello", "1.0.0", "--reason", "malware report", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "revocation 1")) << r.Describe();

  const std::vector<json> feed = Revocations();
  ASSERT_EQ(feed.size(), 1u);
  EXPECT_EQ(feed[0].value("kind", ""), "RELEASE");
  EXPECT_EQ(feed[0].value("name", ""), "hello");
  EXPECT_EQ(feed[0].value("revoked_by", ""), "admin");
  EXPECT_EQ(feed[0].value("reason", ""), "malware report");
  EXPECT_TRUE(Releases(false).empty());

  // Revoking it again, or a release that does not exist, changes nothing.
  const json before = Stats();
  r = Store({"revoke", "release", "hello", "1.0.0", "--reason", "again", "--dir", "store"});
  ExpectRefused(r, "FAILED_PRECONDITION", "already revoked");
  r = Store({"revoke", "release", "nope", "1.0.0", "--reason", "x", "--dir", "store"});
  ExpectRefused(r, "NOT_FOUND", "nope");
  EXPECT_EQ(Stats(), before);
}

// One DEVELOPER entry, then one RELEASE entry for each of the developer's releases (and none
// for anyone else's).
TEST_F(StoreTest, AdminRevokesADeveloperAndEachOfItsReleases) {
  ASSERT_NO_FATAL_FAILURE(ServeWithDevelopers());
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.0.0", 1));
  ASSERT_NO_FATAL_FAILURE(PublishHello("alice", "1.1.0", 2));
  ASSERT_NO_FATAL_FAILURE(CopyHello("tool"));
  ASSERT_NO_FATAL_FAILURE(Sign("bob", "tool", "tool", "1.0.0", 1, "tool.cert.pem"));
  ProcessResult r = Publish("bob", "tool", "tool.cert.pem");
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  r = Store({"revoke", "developer", "alice", "--reason", "left the company", "--dir", "store"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  const std::vector<json> feed = Revocations();
  ASSERT_EQ(feed.size(), 3u);
  EXPECT_EQ(feed[0].value("kind", ""), "DEVELOPER") << feed[0].dump();
  EXPECT_EQ(feed[0].value("developer", ""), "alice") << feed[0].dump();
  EXPECT_EQ(feed[0].value("reason", ""), "left the company") << feed[0].dump();
  EXPECT_EQ(feed[0].value("revoked_by", ""), "admin") << feed[0].dump();
  EXPECT_EQ(feed[0].value("sequence", ""), "1") << feed[0].dump();
  std::set<std::string> versions;
  for (size_t i = 1; i < feed.size(); ++i) {
    EXPECT_EQ(feed[i].value("kind", ""), "RELEASE") << feed[i].dump();
    EXPECT_EQ(feed[i].value("name", ""), "hello") << feed[i].dump();
    EXPECT_EQ(feed[i].value("developer", ""), "alice") << feed[i].dump();
    EXPECT_EQ(feed[i].value("sequence", ""), std::to_string(i + 1)) << feed[i].dump();
    versions.insert(feed[i].value("version", ""));
  }
  EXPECT_EQ(versions, (std::set<std::string>{"1.0.0", "1.1.0"}));

  // bob's release stays; alice is listed as revoked.
  const json listed = Releases(false);
  ASSERT_EQ(listed.size(), 1u) << listed.dump(2);
  EXPECT_EQ(listed[0].value("name", ""), "tool");
  const json developers = json::parse(AdminJson({"developers", "list"}), nullptr, false);
  ASSERT_TRUE(developers.contains("developers")) << developers.dump(2);
  for (const json& d : developers["developers"]) {
    EXPECT_EQ(d.value("revoked", false), d.value("name", "") == "alice") << d.dump();
  }
  const json stats = Stats();
  EXPECT_EQ(stats.value("revoked_developers", ""), "1") << stats.dump(2);
  EXPECT_EQ(stats.value("revoked_releases", ""), "2") << stats.dump(2);
  EXPECT_EQ(stats.value("last_revocation_sequence", ""), "3") << stats.dump(2);
}

// ---------------------------------------------------------------------------------------------
// Admin

TEST_F(StoreTest, AdminSocketIsPrivate) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  struct stat st {};
  ASSERT_EQ(::stat(Path("store/admin.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(StoreTest, TokenSecretsAreShownOnceAndNeverListed) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  ASSERT_NO_FATAL_FAILURE(MakeCsr("alice"));
  const std::string used = CreateToken("for alice");
  const std::string unused = CreateToken("for bob");
  ASSERT_FALSE(used.empty());
  ASSERT_FALSE(unused.empty());
  ASSERT_NE(used, unused);
  ProcessResult r =
      Devkit(AtStore({"register", "--token", used, "--csr", "alice.csr", "--out", "alice.pem"}));
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();

  ProcessResult text = Store({"tokens", "list", "--dir", "store"});
  ASSERT_EQ(text.exit_code, kExitOk) << text.Describe();
  const std::string json_list = AdminJson({"tokens", "list"});
  for (const std::string& listing : {text.out, json_list}) {
    EXPECT_TRUE(Contains(listing, "for alice")) << listing;
    EXPECT_TRUE(Contains(listing, "for bob")) << listing;
    EXPECT_FALSE(Contains(listing, used)) << listing;
    EXPECT_FALSE(Contains(listing, unused)) << listing;
    EXPECT_FALSE(Contains(listing, used.substr(4))) << listing;  // not even without "sct-"
    EXPECT_FALSE(Contains(listing, unused.substr(4))) << listing;
  }
  EXPECT_TRUE(Contains(text.out, "used by alice")) << text.Describe();
  EXPECT_TRUE(Contains(text.out, "unused")) << text.Describe();
  // Nor does the state directory hold them (the store keeps a hash).
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Path("store"))) {
    if (!entry.is_regular_file()) continue;
    const std::string content = ReadWholeFile(entry.path().string());
    EXPECT_FALSE(Contains(content, used.substr(4))) << entry.path();
    EXPECT_FALSE(Contains(content, unused.substr(4))) << entry.path();
  }
}

TEST_F(StoreTest, AdminCommandsSayWhenTheStoreIsNotRunning) {
  ASSERT_NO_FATAL_FAILURE(Init());
  ProcessResult r = Store({"stats", "--dir", "store"});
  ExpectRefused(r, "UNAVAILABLE", "is 'store serve' running?");

  // Also with the socket a killed server left behind.
  server_ = std::make_unique<StoreServer>(Bin("store"), dir_.path(), "store");
  ASSERT_TRUE(server_->Start());
  ASSERT_TRUE(server_->Stop(SIGKILL));
  ASSERT_TRUE(std::filesystem::exists(Path("store/admin.sock")));
  r = Store({"stats", "--dir", "store"});
  ExpectRefused(r, "UNAVAILABLE", "is 'store serve' running?");
  r = Store({"tokens", "create", "--dir", "store"});
  ExpectRefused(r, "UNAVAILABLE", "is 'store serve' running?");
}

TEST_F(StoreTest, SecondServerOnTheSameDirectoryIsRefused) {
  ASSERT_NO_FATAL_FAILURE(InitAndServe());
  ProcessResult r = Store(
      {"serve", "--dir", "store", "--listen", "127.0.0.1:0", "--ready-file", "second.ready.json"});
  ExpectRefused(r, "FAILED_PRECONDITION", "another 'store serve' is running");
  EXPECT_FALSE(std::filesystem::exists(Path("second.ready.json")));
  // The first one is unharmed.
  EXPECT_TRUE(server_->running());
  EXPECT_EQ(Stats().value("developers", ""), "0");
  ASSERT_NO_FATAL_FAILURE(Register("alice"));
}

TEST_F(StoreTest, ServeNeedsAnInitialisedStore) {
  ASSERT_EQ(::mkdir(Path("empty").c_str(), 0700), 0);
  ProcessResult r = Store({"serve", "--dir", "empty", "--listen", "127.0.0.1:0"});
  ExpectRefused(r, "FAILED_PRECONDITION", "store init");
  EXPECT_FALSE(std::filesystem::exists(Path("empty/admin.sock")));
}

}  // namespace
}  // namespace sitechain::testutil
