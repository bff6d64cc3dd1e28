// Interoperability with the real `openssl` binary (OpenSSL 3): every certificate kind parses
// and shows the sitechain extensions, every chain verifies, and key files written by
// PrivateKey::Save are read by `openssl pkey`. The openssl program is taken from $OPENSSL if
// set, else from PATH. Verification runs at the test's fixed time (-attime), never the wall
// clock, and with no system trust store.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/hex.h"
#include "pki/extensions.h"
#include "pki/key.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "tests/support/openssl.h"
#include "tests/support/test_chain.h"

namespace sitechain::pki {
namespace {

namespace st = ::sitechain::testing;

using st::Command;
using st::CommandResult;
using st::OpenSsl;
using st::RunCommand;

// The lines of `text` that contain `needle`.
std::vector<std::string> LinesWith(const std::string& text, const std::string& needle) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) lines.push_back(line);
  }
  return lines;
}

std::string KeyTypeTestName(const ::testing::TestParamInfo<KeyType>& info) {
  std::string name(KeyTypeName(info.param));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

class OpenSslInteropTest : public ::testing::TestWithParam<KeyType> {
 protected:
  void SetUp() override {
    CommandResult version = RunCommand({OpenSsl(), "version"});
    ASSERT_EQ(version.exit_code, 0) << "the openssl binary is needed: " << version.output;
    st::TestPkiOptions options;
    options.key_type = GetParam();
    Result<st::TestPki> made = st::MakeTestPki(clock_, rng_, options);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    pki_.emplace(std::move(made).value());
  }

  // Writes cert as <name>.pem in the test's directory and returns the path.
  std::string WritePem(const Certificate& cert, const std::string& name) {
    return st::SavePem(cert, dir_.File(name + ".pem"));
  }

  // `openssl verify` at the chain's issuing time, trusting only root.
  void ExpectVerifies(const Certificate& root, const std::vector<const Certificate*>& untrusted,
                      const Certificate& leaf, const std::string& name) {
    const std::string root_pem = WritePem(root, name + "-root");
    const std::string leaf_pem = WritePem(leaf, name);
    std::vector<std::string> argv = st::OpenSslVerifyArgv(clock_.Now(), root_pem);
    if (!untrusted.empty()) {
      std::string bundle;
      for (const Certificate* c : untrusted) bundle += c->ToPem();
      const std::string path = dir_.File(name + "-untrusted.pem");
      ASSERT_TRUE(WriteFileAtomic(path, bundle).ok());
      argv.insert(argv.end(), {"-untrusted", path});
    }
    argv.push_back(leaf_pem);
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
    EXPECT_NE(r.output.find(leaf_pem + ": OK"), std::string::npos) << Command(argv) << "\n"
                                                                   << r.output;
  }

  // `openssl x509 -text` of cert; fails the test if openssl cannot parse it.
  std::string Text(const Certificate& cert, const std::string& name) {
    const std::string path = WritePem(cert, name);
    std::vector<std::string> argv = {OpenSsl(), "x509", "-noout", "-text", "-in", path};
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
    return r.output;
  }

  st::TestPki& pki() { return *pki_; }

  ManualClock clock_{st::kTestEpoch};
  SeededRandom rng_{443};
  st::TempDir dir_;
  std::optional<st::TestPki> pki_;
};

// Every sitechain extension `text` should show, as "<oid>:" and not critical.
void ExpectSitechainExtensions(const std::string& text, const std::vector<std::string>& oids,
                               const std::string& what) {
  for (const std::string& oid : oids) {
    std::vector<std::string> lines = LinesWith(text, oid + ":");
    ASSERT_EQ(lines.size(), 1u) << what << " should show " << ExtensionName(oid) << " (" << oid
                                << ") once:\n"
                                << text;
    EXPECT_EQ(lines[0].find("critical"), std::string::npos) << what << ": " << lines[0];
  }
}

TEST_P(OpenSslInteropTest, EveryKindParsesAndShowsTheSitechainExtensions) {
  const std::string protected_oids[] = {ExecutableHashOid(), ServiceReleaseOid()};
  for (const std::string& oid : protected_oids)
    EXPECT_EQ(oid.rfind("1.3.6.1.4.1.32473.17.", 0), 0u);

  const std::string store_root = Text(pki().store_root, "store-root");
  EXPECT_NE(store_root.find("CA:TRUE"), std::string::npos) << store_root;
  const std::string identity = Text(pki().developer_identity, "developer-identity");
  EXPECT_NE(identity.find("CA:TRUE, pathlen:0"), std::string::npos) << identity;
  EXPECT_TRUE(LinesWith(identity, "1.3.6.1.4.1.32473.17.").empty()) << identity;

  const std::string cert_dev = Text(pki().cert_dev, "cert-dev");
  ExpectSitechainExtensions(cert_dev, {ExecutableHashOid(), ServiceReleaseOid()}, "Cert_dev");
  EXPECT_NE(cert_dev.find("CA:FALSE"), std::string::npos) << cert_dev;
  const std::string cert_store = Text(pki().cert_store, "cert-store");
  ExpectSitechainExtensions(cert_store, {ExecutableHashOid(), ServiceReleaseOid()}, "Cert_store");

  Text(pki().site_root, "site-root");
  const std::string node = Text(pki().node_cert, "node");
  EXPECT_NE(node.find("URI:" + pki().NodeId()), std::string::npos) << node;
  EXPECT_NE(node.find("TLS Web Server Authentication"), std::string::npos) << node;
  EXPECT_NE(node.find("TLS Web Client Authentication"), std::string::npos) << node;

  const std::string cert_site = Text(pki().cert_site, "cert-site");
  ExpectSitechainExtensions(cert_site, {ExecutableHashOid(), ServiceReleaseOid(), SitePolicyOid()},
                            "Cert_site");
  const std::string svid =
      "URI:" + ServiceSpiffeId(pki().options.site, pki().options.node, pki().options.release.name);
  EXPECT_NE(cert_site.find(svid), std::string::npos) << cert_site;

  const char* algorithm = GetParam() == KeyType::kEd25519     ? "ED25519"
                          : GetParam() == KeyType::kEcdsaP256 ? "id-ecPublicKey"
                                                              : "rsaEncryption";
  EXPECT_NE(cert_site.find(std::string("Public Key Algorithm: ") + algorithm), std::string::npos)
      << cert_site;
}

TEST_P(OpenSslInteropTest, EveryChainVerifies) {
  ExpectVerifies(pki().store_root, {}, pki().developer_identity, "developer-identity");
  ExpectVerifies(pki().store_root, {&pki().developer_identity}, pki().cert_dev, "cert-dev");
  ExpectVerifies(pki().store_root, {}, pki().cert_store, "cert-store");
  ExpectVerifies(pki().site_root, {}, pki().node_cert, "node");
  ExpectVerifies(pki().site_root, {}, pki().cert_site, "cert-site");
}

TEST_P(OpenSslInteropTest, OpenSslRefusesTheWrongRoot) {
  // Control for EveryChainVerifies: the same command with the other root must fail.
  const std::string root = WritePem(pki().site_root, "wrong-root");
  const std::string leaf = WritePem(pki().cert_store, "cert-store");
  std::vector<std::string> argv = st::OpenSslVerifyArgv(clock_.Now(), root);
  argv.push_back(leaf);
  CommandResult r = RunCommand(argv);
  EXPECT_NE(r.exit_code, 0) << r.output;
}

TEST_P(OpenSslInteropTest, ExecutableHashMatchesOpenSslDigest) {
  std::vector<std::string> argv = {OpenSsl(), "dgst", "-sha256", "-r", pki().executable_path};
  CommandResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
  std::optional<RawExtension> ext = pki().cert_dev.FindExtension(ExecutableHashOid());
  ASSERT_TRUE(ext.has_value());
  Result<Digest> digest = DecodeHashExtension(ext->value);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(r.output.substr(0, 64), digest->Hex()) << r.output;
}

TEST_P(OpenSslInteropTest, DeveloperCsrVerifies) {
  const std::string path = dir_.File("developer.csr");
  ASSERT_TRUE(pki().developer_csr.Save(path).ok());
  std::vector<std::string> argv = {OpenSsl(), "req", "-noout", "-verify", "-in", path};
  CommandResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
  EXPECT_NE(r.output.find("verify OK"), std::string::npos) << r.output;
}

TEST_P(OpenSslInteropTest, OpenSslReadsEncryptedKeyFiles) {
  const PrivateKey& key = pki().instance_key;
  const std::string key_path = dir_.File("instance.key");
  const std::string pass_path = dir_.File("passphrase");
  const std::string der_path = dir_.File("instance.pub.der");
  const std::string passphrase = "correct horse battery staple";
  ASSERT_TRUE(WriteFileAtomic(pass_path, passphrase + "\n", 0600).ok());
  Status saved = key.Save(key_path, passphrase, rng_);
  ASSERT_TRUE(saved.ok()) << saved.ToString();
  Result<mode_t> mode = FileMode(key_path);
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(*mode & 0777, 0600u);
  Result<std::string> pem = ReadSmallFile(key_path);
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----", 0), 0u) << *pem;

  // The right passphrase gives back the very public key.
  std::vector<std::string> argv = {
      OpenSsl(), "pkey",     "-in", key_path, "-passin", "file:" + pass_path,
      "-pubout", "-outform", "DER", "-out",   der_path};
  CommandResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
  Result<std::string> der = ReadSmallFile(der_path);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(HexEncode(*der), HexEncode(key.PublicKeyDer()));

  // A wrong passphrase is refused: the file really is encrypted.
  argv = {OpenSsl(), "pkey", "-noout", "-in", key_path, "-passin", "pass:wrong"};
  r = RunCommand(argv);
  EXPECT_NE(r.exit_code, 0) << Command(argv) << "\n" << r.output;

  // PBES2 with PBKDF2-HMAC-SHA256, AES-256-CBC and the fixed iteration count.
  argv = {OpenSsl(), "asn1parse", "-in", key_path};
  r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
  for (const char* part : {"PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"}) {
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n" << r.output;
  }
  std::ostringstream iterations;
  iterations << std::uppercase << std::hex << kKeyFilePbkdfIterations;
  EXPECT_NE(r.output.find(":0" + iterations.str() + "\n"), std::string::npos)
      << "iterations 0x" << iterations.str() << "\n"
      << r.output;
}

TEST_P(OpenSslInteropTest, OpenSslReadsUnencryptedKeyFiles) {
  const PrivateKey& key = pki().node_key;
  const std::string key_path = dir_.File("node.key");
  const std::string der_path = dir_.File("node.pub.der");
  ASSERT_TRUE(key.Save(key_path, std::nullopt, rng_).ok());
  std::vector<std::string> argv = {OpenSsl(),  "pkey", "-in",  key_path, "-pubout",
                                   "-outform", "DER",  "-out", der_path};
  CommandResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
  Result<std::string> der = ReadSmallFile(der_path);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(HexEncode(*der), HexEncode(key.PublicKeyDer()));
}

TEST_P(OpenSslInteropTest, EncryptedKeyFromOpenSslLoads) {
  // The other direction: a PBES2 key file made by openssl (its own defaults for the KDF).
  const std::string key_path = dir_.File("openssl.key");
  const std::string pub_path = dir_.File("openssl.pub.der");
  std::vector<std::string> gen = {OpenSsl(), "genpkey"};
  switch (GetParam()) {
    case KeyType::kEd25519:
      gen.insert(gen.end(), {"-algorithm", "ed25519"});
      break;
    case KeyType::kEcdsaP256:
      gen.insert(gen.end(), {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
      break;
    case KeyType::kRsa2048:
    case KeyType::kRsa3072:
      gen.insert(gen.end(), {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
      break;
  }
  gen.insert(gen.end(), {"-aes-256-cbc", "-pass", "pass:s3cret", "-out", key_path});
  CommandResult r = RunCommand(gen);
  ASSERT_EQ(r.exit_code, 0) << Command(gen) << "\n" << r.output;
  ASSERT_EQ(chmod(key_path.c_str(), 0600), 0);
  std::vector<std::string> pub = {OpenSsl(), "pkey",     "-in", key_path, "-passin", "pass:s3cret",
                                  "-pubout", "-outform", "DER", "-out",   pub_path};
  r = RunCommand(pub);
  ASSERT_EQ(r.exit_code, 0) << Command(pub) << "\n" << r.output;

  Result<PrivateKey> loaded = PrivateKey::Load(key_path, std::string("s3cret"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->type(), GetParam());
  Result<std::string> der = ReadSmallFile(pub_path);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(HexEncode(loaded->PublicKeyDer()), HexEncode(*der));
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, OpenSslInteropTest,
                         ::testing::Values(KeyType::kEd25519, KeyType::kEcdsaP256,
                                           KeyType::kRsa2048),
                         KeyTypeTestName);

}  // namespace
}  // namespace sitechain::pki
