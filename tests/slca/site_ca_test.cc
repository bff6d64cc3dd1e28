// Tests of the site CA (slca/site_ca.h): what a site operator relies on when creating and opening
// the CA, and what nodes rely on in the certificates it issues (node identities, Cert_site, the
// slsm's TLS server certificate). Deterministic: ManualClock + SeededRandom. Interop checks run
// the real `openssl` binary ($OPENSSL if set, else PATH) at the test's fixed time.

#include "slca/site_ca.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "pki/verifier.h"
#include "tests/common/temp_dir.h"
#include "tests/support/hand_made_csr.h"
#include "tests/support/openssl.h"
#include "tests/support/test_chain.h"

namespace sitechain::slca {
namespace {

using testutil::EntriesOf;
using testutil::ModeOf;
using testutil::ReadWholeFile;
using testutil::TempDir;
using testutil::WriteWholeFile;

constexpr Seconds kHour{3600};
constexpr Seconds kDay{86400};
constexpr Seconds kTenYears{10 * 365 * 86400};

// CSRs that CertificateRequest::Create cannot make (tests/support/hand_made_csr.h), and the
// openssl binary (tests/support/openssl.h).
using Bytes = std::vector<uint8_t>;
using testing::Command;
using testing::CommandResult;
using testing::HandMadeCsrPem;
using testing::OpenSsl;
using testing::RunCommand;
using testing::der::Tlv;

// --- Fixture -------------------------------------------------------------------------------------

class SiteCaTest : public ::testing::Test {
 protected:
  SiteCa::InitOptions Options(const std::string& name = "ca", const std::string& site = "site-a") {
    SiteCa::InitOptions opts;
    opts.dir = tmp_.Path(name);
    opts.site = site;
    return opts;
  }

  pki::BuildContext ctx() { return pki::BuildContext{clock_, rng_}; }

  pki::PrivateKey NewKey(pki::KeyType type = pki::KeyType::kEd25519) {
    return pki::PrivateKey::Generate(type, rng_);
  }

  pki::CertificateRequest Csr(const pki::PrivateKey& key, const std::string& name) {
    Result<pki::CertificateRequest> csr = pki::CertificateRequest::Create(key, name, rng_);
    EXPECT_TRUE(csr.ok()) << csr.status().ToString();
    return std::move(csr).value();
  }

  // A node that enrolled with `ca`: its key (made on the node) and its certificate.
  struct Node {
    pki::PrivateKey key;
    pki::Certificate cert;
  };
  Result<Node> Enroll(const SiteCa& ca, const std::string& node,
                      Seconds lifetime = pki::kDefaultNodeLifetime) {
    pki::PrivateKey key = NewKey();
    SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert,
                               ca.IssueNode(Csr(key, node), node, lifetime, ctx()));
    return Node{std::move(key), std::move(cert)};
  }

  // Writes cert as <name>.pem in the test's directory and returns the path.
  std::string WritePem(const pki::Certificate& cert, const std::string& name) {
    return testing::SavePem(cert, tmp_.Path(name + ".pem"));
  }

  // `openssl verify -CAfile <root_pem>` at the clock's time, with no system trust store.
  CommandResult OpenSslVerify(const std::string& root_pem, const std::string& leaf_pem,
                              const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = testing::OpenSslVerifyArgv(clock_.Now(), root_pem);
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(leaf_pem);
    CommandResult r = RunCommand(argv);
    r.output = Command(argv) + "\n" + r.output;
    return r;
  }

  pki::Verification VerifyIssuedBy(const pki::Certificate& cert, pki::CertRole role,
                                   const pki::Certificate& issuer) {
    return pki::Verifier(clock_).VerifyIssuedBy(cert, role, issuer);
  }

  TempDir tmp_;
  ManualClock clock_{testing::kTestEpoch};
  SeededRandom rng_{2024};
};

// --- Init / Open ---------------------------------------------------------------------------------

TEST_F(SiteCaTest, InitCreatesAPrivateDirectoryWithASelfSignedSiteRoot) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  // The operator's secret stays private: dir 0700, key 0600; nothing else is written.
  EXPECT_EQ(ModeOf(tmp_.Path("ca")), 0700);
  EXPECT_EQ(ModeOf(tmp_.Path("ca/root.key")), 0600);
  EXPECT_EQ(EntriesOf(tmp_.Path("ca")), (std::set<std::string>{"root.key", "root.pem"}));

  const pki::Certificate& root = ca.root();
  EXPECT_EQ(root.Subject(), (pki::DistinguishedName{"site-a", "sitechain site CA", ""}));
  EXPECT_EQ(root.Issuer(), root.Subject());
  EXPECT_EQ(ca.site(), "site-a");
  EXPECT_TRUE(root.IsCa());
  EXPECT_TRUE(root.IsSelfSigned());
  EXPECT_EQ(root.PublicKeyAlgorithm(), "Ed25519");  // the default key type
  EXPECT_LE(root.NotBefore(), clock_.Now());
  EXPECT_EQ(root.NotAfter(), clock_.Now() + kTenYears);
  pki::Verification v = VerifyIssuedBy(root, pki::CertRole::kSiteRoot, root);
  EXPECT_TRUE(v.ok()) << testing::Describe(v);

  // root.pem is the root handed out to nodes.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate on_disk,
                                 pki::Certificate::Load(tmp_.Path("ca/root.pem")));
  EXPECT_EQ(on_disk, root);
  // root.key is the root's key (unencrypted without a passphrase).
  EXPECT_NE(ReadWholeFile(tmp_.Path("ca/root.key")).find("BEGIN PRIVATE KEY"), std::string::npos);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::PrivateKey key,
                                 pki::PrivateKey::Load(tmp_.Path("ca/root.key"), std::nullopt));
  EXPECT_EQ(key.PublicKeyDer(), root.PublicKeyDer());
}

TEST_F(SiteCaTest, InitCreatesNestedDirectories) {
  SiteCa::InitOptions opts = Options("state/slsm/ca");
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(opts, clock_, rng_));
  EXPECT_EQ(ModeOf(opts.dir), 0700);
  EXPECT_EQ(ModeOf(opts.dir + "/root.key"), 0600);
}

TEST_F(SiteCaTest, OpenGivesTheSameRootAndFingerprint) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa opened, SiteCa::Open(tmp_.Path("ca"), std::nullopt));
  EXPECT_EQ(opened.root(), ca.root());
  EXPECT_EQ(opened.site(), "site-a");
  EXPECT_EQ(opened.RootFingerprint(), ca.RootFingerprint());

  // The reopened CA signs with the same key: its node certificates chain to the first root.
  clock_.Advance(kHour);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Node node, Enroll(opened, "node-1"));
  pki::Verification v = VerifyIssuedBy(node.cert, pki::CertRole::kNode, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
}

TEST_F(SiteCaTest, InitIsDeterministicGivenClockAndRandom) {
  SeededRandom rng_a(7), rng_b(7);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa a, SiteCa::Init(Options("a"), clock_, rng_a));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa b, SiteCa::Init(Options("b"), clock_, rng_b));
  EXPECT_EQ(a.root(), b.root());
  EXPECT_EQ(a.RootFingerprint(), b.RootFingerprint());
}

TEST_F(SiteCaTest, InitRefusesADirectoryThatHoldsACaAndLeavesItAlone) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  const std::string root = ReadWholeFile(tmp_.Path("ca/root.pem"));
  const std::string key = ReadWholeFile(tmp_.Path("ca/root.key"));

  // Not even for the same site: a second `slsm init` must not replace the trust anchor.
  for (const std::string site : {"site-a", "site-b"}) {
    Result<SiteCa> again = SiteCa::Init(Options("ca", site), clock_, rng_);
    ASSERT_FALSE(again.ok()) << site;
    EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  }
  EXPECT_EQ(ReadWholeFile(tmp_.Path("ca/root.pem")), root);
  EXPECT_EQ(ReadWholeFile(tmp_.Path("ca/root.key")), key);

  // A half-written CA (key without certificate) is not replaced either.
  ASSERT_EQ(std::remove(tmp_.Path("ca/root.pem").c_str()), 0);
  Result<SiteCa> again = SiteCa::Init(Options(), clock_, rng_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  EXPECT_EQ(ReadWholeFile(tmp_.Path("ca/root.key")), key);
}

TEST_F(SiteCaTest, InitRefusesAnInvalidSiteNameAndCreatesNothing) {
  // The site name becomes the SPIFFE trust domain: only identifiers are accepted.
  for (const std::string& site :
       {std::string("Bad Site"), std::string(""), std::string(64, 'a'), std::string("Site-A"),
        std::string("-site"), std::string("site/a")}) {
    Result<SiteCa> ca = SiteCa::Init(Options("ca", site), clock_, rng_);
    ASSERT_FALSE(ca.ok()) << "'" << site << "'";
    EXPECT_EQ(ca.status().code(), StatusCode::kInvalidArgument)
        << "'" << site << "': " << ca.status().ToString();
    EXPECT_FALSE(std::filesystem::exists(tmp_.Path("ca"))) << "'" << site << "'";
  }
  // Control: 63 bytes is the limit, and is accepted.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca,
                                 SiteCa::Init(Options("ca", std::string(63, 'a')), clock_, rng_));
  EXPECT_EQ(ca.site(), std::string(63, 'a'));
}

TEST_F(SiteCaTest, InitRefusesAnUnknownKeyTypeOrNonPositiveLifetimeAndCreatesNothing) {
  SiteCa::InitOptions opts = Options();
  opts.key_type = "rsa-1024";
  Result<SiteCa> ca = SiteCa::Init(opts, clock_, rng_);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kInvalidArgument) << ca.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(tmp_.Path("ca")));

  opts = Options();
  opts.lifetime = Seconds(0);
  ca = SiteCa::Init(opts, clock_, rng_);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kInvalidArgument) << ca.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(tmp_.Path("ca")));
}

TEST_F(SiteCaTest, OpenOfADirectoryWithoutACaIsFailedPreconditionNamingSlsmInit) {
  ASSERT_EQ(::mkdir(tmp_.Path("empty").c_str(), 0700), 0);
  Result<SiteCa> ca = SiteCa::Open(tmp_.Path("empty"), std::nullopt);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kFailedPrecondition) << ca.status().ToString();
  EXPECT_NE(ca.status().message().find("slsm init"), std::string::npos) << ca.status().ToString();

  ca = SiteCa::Open(tmp_.Path("does-not-exist"), std::nullopt);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kFailedPrecondition) << ca.status().ToString();
}

TEST_F(SiteCaTest, OpenWithAKeyThatDoesNotMatchTheRootIsDataLoss) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa a, SiteCa::Init(Options("a"), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa b, SiteCa::Init(Options("b"), clock_, rng_));
  ASSERT_NE(a.root(), b.root());
  ASSERT_TRUE(WriteWholeFile(tmp_.Path("a/root.key"), ReadWholeFile(tmp_.Path("b/root.key"))));
  ASSERT_EQ(ModeOf(tmp_.Path("a/root.key")), 0600);

  Result<SiteCa> opened = SiteCa::Open(tmp_.Path("a"), std::nullopt);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("root.key"), std::string::npos)
      << opened.status().ToString();
}

TEST_F(SiteCaTest, OpenRefusesARootKeyOthersCanRead) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  ASSERT_EQ(::chmod(tmp_.Path("ca/root.key").c_str(), 0644), 0);
  Result<SiteCa> opened = SiteCa::Open(tmp_.Path("ca"), std::nullopt);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kPermissionDenied) << opened.status().ToString();
}

TEST_F(SiteCaTest, EncryptedRootKeyNeedsItsPassphrase) {
  SiteCa::InitOptions opts = Options();
  opts.passphrase = "site secret";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(opts, clock_, rng_));
  EXPECT_NE(ReadWholeFile(tmp_.Path("ca/root.key")).find("ENCRYPTED PRIVATE KEY"),
            std::string::npos);
  EXPECT_EQ(ModeOf(tmp_.Path("ca/root.key")), 0600);

  Result<SiteCa> none = SiteCa::Open(opts.dir, std::nullopt);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnauthenticated) << none.status().ToString();

  Result<SiteCa> wrong = SiteCa::Open(opts.dir, std::string("not the secret"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated) << wrong.status().ToString();

  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa opened, SiteCa::Open(opts.dir, opts.passphrase));
  EXPECT_EQ(opened.root(), ca.root());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Node node, Enroll(opened, "node-1"));
  pki::Verification v = VerifyIssuedBy(node.cert, pki::CertRole::kNode, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
}

TEST_F(SiteCaTest, EcdsaAndRsaRootsWork) {
  const struct {
    const char* key_type;
    const char* algorithm;
  } kCases[] = {{"ecdsa-p256", "ECDSA"}, {"rsa-2048", "RSA"}};
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.key_type);
    SiteCa::InitOptions opts = Options(c.key_type);
    opts.key_type = c.key_type;
    SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(opts, clock_, rng_));
    EXPECT_EQ(ca.root().PublicKeyAlgorithm(), c.algorithm);
    pki::Verification v = VerifyIssuedBy(ca.root(), pki::CertRole::kSiteRoot, ca.root());
    EXPECT_TRUE(v.ok()) << testing::Describe(v);

    SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa opened, SiteCa::Open(opts.dir, std::nullopt));
    EXPECT_EQ(opened.root(), ca.root());
    SITECHAIN_ASSERT_OK_AND_ASSIGN(Node node, Enroll(opened, "node-1"));
    v = VerifyIssuedBy(node.cert, pki::CertRole::kNode, ca.root());
    EXPECT_TRUE(v.ok()) << testing::Describe(v);
    const CommandResult r = OpenSslVerify(WritePem(ca.root(), std::string(c.key_type) + "-root"),
                                          WritePem(node.cert, std::string(c.key_type) + "-node"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
}

// --- RootFingerprint ----------------------------------------------------------------------------

TEST_F(SiteCaTest, RootFingerprintIsTheSha256OfTheRootDerAsOpenSslComputesIt) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  const std::string fp = ca.RootFingerprint();
  ASSERT_EQ(fp.size(), 64u) << fp;
  EXPECT_TRUE(std::all_of(fp.begin(), fp.end(),
                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
      << "lower-case hex: " << fp;

  const Bytes der = ca.root().ToDer();
  EXPECT_EQ(fp,
            pki::HashBytes(pki::HashAlgorithm::kSha256,
                           std::string_view(reinterpret_cast<const char*>(der.data()), der.size()))
                .Hex());

  // What a join token carries must match what an operator computes with openssl.
  const std::vector<std::string> argv = {
      OpenSsl(), "x509", "-noout", "-fingerprint", "-sha256", "-in", tmp_.Path("ca/root.pem")};
  const CommandResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << Command(argv) << "\n" << r.output;
  const size_t eq = r.output.find('=');
  ASSERT_NE(eq, std::string::npos) << r.output;  // "sha256 Fingerprint=AB:CD:..."
  std::string theirs;
  for (char c : r.output.substr(eq + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      theirs.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  EXPECT_EQ(fp, theirs) << r.output;

  // Another site's root has another fingerprint.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa other, SiteCa::Init(Options("other"), clock_, rng_));
  EXPECT_NE(other.RootFingerprint(), fp);
}

// --- IssueNode -----------------------------------------------------------------------------------

TEST_F(SiteCaTest, IssueNodeGivesTheNodeItsSpiffeIdentity) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  clock_.Advance(kHour);
  pki::PrivateKey key = NewKey();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert,
                                 ca.IssueNode(Csr(key, "node-1"), "node-1", 2 * kDay, ctx()));

  EXPECT_EQ(cert.Subject(), (pki::DistinguishedName{"node-1", "", "site-a"}));
  EXPECT_EQ(cert.Issuer(), ca.root().Subject());
  EXPECT_EQ(cert.UriSans(), std::vector<std::string>{"spiffe://site-a/node/node-1"});
  EXPECT_EQ(cert.UriSans(), std::vector<std::string>{pki::NodeSpiffeId("site-a", "node-1")});
  EXPECT_FALSE(cert.IsCa());
  EXPECT_EQ(cert.PublicKeyDer(), key.PublicKeyDer());  // the node's own key, never the CA's
  EXPECT_LE(cert.NotBefore(), clock_.Now());
  EXPECT_EQ(cert.NotAfter(), clock_.Now() + 2 * kDay);
  pki::Verification v = VerifyIssuedBy(cert, pki::CertRole::kNode, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);

  // OpenSSL accepts it as a TLS client and server under the site root.
  const std::string root_pem = tmp_.Path("ca/root.pem");
  const std::string node_pem = WritePem(cert, "node");
  CommandResult r = OpenSslVerify(root_pem, node_pem);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(node_pem + ": OK"), std::string::npos) << r.output;
  for (const char* purpose : {"sslclient", "sslserver"}) {
    r = OpenSslVerify(root_pem, node_pem, {"-purpose", purpose});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  // Control: openssl refuses it under another site's root.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa other, SiteCa::Init(Options("other"), clock_, rng_));
  r = OpenSslVerify(tmp_.Path("other/root.pem"), node_pem);
  EXPECT_NE(r.exit_code, 0) << r.output;
}

TEST_F(SiteCaTest, IssueNodeAcceptsEcdsaAndRsaNodeKeys) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  for (pki::KeyType type : {pki::KeyType::kEcdsaP256, pki::KeyType::kRsa2048}) {
    SCOPED_TRACE(pki::KeyTypeName(type));
    pki::PrivateKey key = NewKey(type);
    SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert,
                                   ca.IssueNode(Csr(key, "node-1"), "node-1", kDay, ctx()));
    EXPECT_EQ(cert.PublicKeyDer(), key.PublicKeyDer());
    pki::Verification v = VerifyIssuedBy(cert, pki::CertRole::kNode, ca.root());
    EXPECT_TRUE(v.ok()) << testing::Describe(v);
  }
}

TEST_F(SiteCaTest, IssueNodeAcceptsAHandMadeCsrWithoutExtensions) {
  // Control for the refusals below: the hand-made CSR itself is fine.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = NewKey();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::CertificateRequest csr,
      pki::CertificateRequest::FromPem(HandMadeCsrPem(key, "node-1", {}, key, rng_)));
  ASSERT_TRUE(csr.SignatureValid());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, ca.IssueNode(csr, "node-1", kDay, ctx()));
  EXPECT_EQ(cert.Subject().common_name, "node-1");
  EXPECT_EQ(cert.PublicKeyDer(), key.PublicKeyDer());
}

TEST_F(SiteCaTest, NodeLifetimeIsCappedAtTheRoots) {
  SiteCa::InitOptions opts = Options();
  opts.lifetime = 30 * kDay;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(opts, clock_, rng_));
  clock_.Advance(29 * kDay);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Node node, Enroll(ca, "node-1", 7 * kDay));
  EXPECT_EQ(node.cert.NotAfter(), ca.root().NotAfter());
  pki::Verification v = VerifyIssuedBy(node.cert, pki::CertRole::kNode, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
}

TEST_F(SiteCaTest, IssueNodeAfterTheRootExpiredIsFailedPrecondition) {
  SiteCa::InitOptions opts = Options();
  opts.lifetime = kDay;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(opts, clock_, rng_));
  clock_.Advance(2 * kDay);
  pki::PrivateKey key = NewKey();
  Result<pki::Certificate> cert = ca.IssueNode(Csr(key, "node-1"), "node-1", kDay, ctx());
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kFailedPrecondition) << cert.status().ToString();
}

TEST_F(SiteCaTest, IssueNodeRefusesACsrAskingForCa) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = NewKey();
  const pki::RawExtension ca_true = testing::CaTrueExtension();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::CertificateRequest csr,
      pki::CertificateRequest::FromPem(HandMadeCsrPem(key, "node-1", {ca_true}, key, rng_)));
  ASSERT_TRUE(csr.RequestsCa());
  Result<pki::Certificate> cert = ca.IssueNode(csr, "node-1", kDay, ctx());
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kPermissionDenied) << cert.status().ToString();
}

TEST_F(SiteCaTest, IssueNodeRefusesACsrAskingForAnExtension) {
  // A node asking for another node's SPIFFE ID as an extra URI SAN.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = NewKey();
  const std::string uri = pki::NodeSpiffeId("site-a", "node-2");
  const pki::RawExtension san{pki::kSubjectAltNameOid, false,
                              Tlv(0x30, Tlv(0x86, Bytes(uri.begin(), uri.end())))};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::CertificateRequest csr,
      pki::CertificateRequest::FromPem(HandMadeCsrPem(key, "node-1", {san}, key, rng_)));
  ASSERT_FALSE(csr.RequestsCa());
  ASSERT_EQ(csr.RequestedExtensions().size(), 1u);
  Result<pki::Certificate> cert = ca.IssueNode(csr, "node-1", kDay, ctx());
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kPermissionDenied) << cert.status().ToString();
}

TEST_F(SiteCaTest, IssueNodeRefusesACsrWhoseSignatureDoesNotVerify) {
  // A CSR naming the victim's key but signed by someone else: whoever sent it does not hold the
  // key it wants certified.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  pki::PrivateKey named = NewKey();
  pki::PrivateKey signer = NewKey();
  // It decodes (the signature is checked by the CA, not the decoder) ...
  Result<pki::CertificateRequest> csr =
      pki::CertificateRequest::FromPem(HandMadeCsrPem(named, "node-1", {}, signer, rng_));
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  ASSERT_FALSE(csr->SignatureValid());
  EXPECT_EQ(csr->PublicKeyDer(), named.PublicKeyDer());
  // ... and the CA refuses it.
  Result<pki::Certificate> cert = ca.IssueNode(*csr, "node-1", kDay, ctx());
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kUnauthenticated) << cert.status().ToString();
}

TEST_F(SiteCaTest, IssueNodeRefusesACsrNamingAnotherNode) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  pki::PrivateKey key = NewKey();
  Result<pki::Certificate> cert = ca.IssueNode(Csr(key, "node-2"), "node-1", kDay, ctx());
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kInvalidArgument) << cert.status().ToString();
  EXPECT_NE(cert.status().message().find("node-2"), std::string::npos) << cert.status().ToString();
}

TEST_F(SiteCaTest, IssueNodeRefusesAnInvalidNodeName) {
  // The node name becomes a SPIFFE path segment.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  for (const std::string node : {"Node 1", "node/1", "-node"}) {
    pki::PrivateKey key = NewKey();
    Result<pki::Certificate> cert = ca.IssueNode(Csr(key, node), node, kDay, ctx());
    ASSERT_FALSE(cert.ok()) << node;
    EXPECT_EQ(cert.status().code(), StatusCode::kInvalidArgument)
        << node << ": " << cert.status().ToString();
  }
}

// --- RenewNode -----------------------------------------------------------------------------------

TEST_F(SiteCaTest, RenewNodeKeepsTheKeyAndNodeWithANewSerialAndLaterExpiry) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Node node, Enroll(ca, "node-1", kDay));
  clock_.Advance(12 * kHour);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate renewed, ca.RenewNode(node.cert, kDay, ctx()));

  EXPECT_EQ(renewed.PublicKeyDer(), node.key.PublicKeyDer());
  EXPECT_EQ(renewed.Subject(), node.cert.Subject());
  EXPECT_EQ(renewed.UriSans(), node.cert.UriSans());
  EXPECT_NE(renewed.SerialHex(), node.cert.SerialHex());
  EXPECT_EQ(renewed.NotAfter(), node.cert.NotAfter() + 12 * kHour);
  EXPECT_GT(renewed.NotBefore(), node.cert.NotBefore());
  EXPECT_FALSE(renewed.IsCa());
  pki::Verification v = VerifyIssuedBy(renewed, pki::CertRole::kNode, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);

  // The renewed certificate can itself be renewed, also by the CA reopened from disk.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa opened, SiteCa::Open(tmp_.Path("ca"), std::nullopt));
  clock_.Advance(12 * kHour);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate again, opened.RenewNode(renewed, kDay, ctx()));
  EXPECT_EQ(again.PublicKeyDer(), node.key.PublicKeyDer());
  EXPECT_EQ(again.NotAfter(), renewed.NotAfter() + 12 * kHour);
}

TEST_F(SiteCaTest, RenewNodeRefusesANodeCertificateOfAnotherCa) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  // Same site name, different key: the issuer DN matches, only the signature tells them apart.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa twin, SiteCa::Init(Options("twin"), clock_, rng_));
  ASSERT_EQ(twin.root().SubjectDnDer(), ca.root().SubjectDnDer());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Node foreign, Enroll(twin, "node-1"));
  Result<pki::Certificate> renewed = ca.RenewNode(foreign.cert, kDay, ctx());
  ASSERT_FALSE(renewed.ok());
  EXPECT_EQ(renewed.status().code(), StatusCode::kInvalidArgument) << renewed.status().ToString();

  // Another site altogether.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa site_b, SiteCa::Init(Options("b", "site-b"), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(Node other, Enroll(site_b, "node-1"));
  renewed = ca.RenewNode(other.cert, kDay, ctx());
  ASSERT_FALSE(renewed.ok());
  EXPECT_EQ(renewed.status().code(), StatusCode::kInvalidArgument) << renewed.status().ToString();
}

TEST_F(SiteCaTest, RenewNodeRefusesCertificatesThatAreNotNodeCertificates) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(testing::TestPki chain, testing::MakeTestPki(clock_, rng_));

  // A Cert_site this CA issued: renewing it "as a node" would mint a node identity for a
  // service instance key.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate cert_site,
      ca.IssueCertSite(chain.cert_store,
                       {"node-1", "hello", chain.instance_key.PublicKeyDer(), "{}"},
                       pki::kDefaultCertSiteLifetime, ctx()));
  // The slsm's own TLS certificate.
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::TlsServerIdentity tls,
                                 ca.IssueTlsServer({{"slsm.local"}, {}}, 90 * kDay, ctx()));

  const struct {
    const char* what;
    const pki::Certificate& cert;
  } kCases[] = {
      {"cert-site", cert_site}, {"tls-server", tls.certificate}, {"site root", ca.root()}};
  for (const auto& c : kCases) {
    Result<pki::Certificate> renewed = ca.RenewNode(c.cert, kDay, ctx());
    ASSERT_FALSE(renewed.ok()) << c.what;
    EXPECT_EQ(renewed.status().code(), StatusCode::kInvalidArgument)
        << c.what << ": " << renewed.status().ToString();
  }
}

// --- IssueCertSite -------------------------------------------------------------------------------

class SiteCaCertSiteTest : public SiteCaTest {
 protected:
  void SetUp() override {
    Result<SiteCa> ca = SiteCa::Init(Options(), clock_, rng_);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_.emplace(std::move(ca).value());
    Result<testing::TestPki> chain = testing::MakeTestPki(clock_, rng_);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    chain_.emplace(std::move(chain).value());
    binding_ = {"node-1", "hello", chain_->instance_key.PublicKeyDer(),
                R"({"args":["--port","8080"]})"};
  }

  // Everything a node checks before running the release, with this CA's root as site root.
  pki::ChainInput NodeInput(const pki::Certificate& cert_site) const {
    pki::ChainInput in;
    in.store_root = chain_->store_root;
    in.site_root = ca_->root();
    in.developer_identity = chain_->developer_identity;
    in.cert_dev = chain_->cert_dev;
    in.cert_store = chain_->cert_store;
    in.cert_site = cert_site;
    in.executable_path = chain_->executable_path;
    in.expected_node_id = pki::NodeSpiffeId("site-a", "node-1");
    in.highest_release_counter = chain_->options.release.release_counter;
    return in;
  }

  std::optional<SiteCa> ca_;
  std::optional<testing::TestPki> chain_;
  pki::SiteBinding binding_;
};

TEST_F(SiteCaCertSiteTest, CertSitePassesEveryRuleOnTheNodeItNames) {
  clock_.Advance(kHour);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate cert_site,
      ca_->IssueCertSite(chain_->cert_store, binding_, pki::kDefaultCertSiteLifetime, ctx()));

  EXPECT_EQ(cert_site.Subject(), (pki::DistinguishedName{"hello", "node-1", "site-a"}));
  EXPECT_EQ(cert_site.Issuer(), ca_->root().Subject());
  EXPECT_EQ(cert_site.UriSans(),
            std::vector<std::string>{pki::ServiceSpiffeId("site-a", "node-1", "hello")});
  EXPECT_EQ(cert_site.PublicKeyDer(), binding_.instance_public_key);
  EXPECT_FALSE(cert_site.IsCa());
  EXPECT_EQ(cert_site.NotAfter(), clock_.Now() + pki::kDefaultCertSiteLifetime);
  // The store's protected extensions, byte for byte, and the site's policy.
  for (const std::string& oid : pki::ProtectedExtensionOids()) {
    EXPECT_EQ(cert_site.FindExtension(oid), chain_->cert_store.FindExtension(oid)) << oid;
  }
  std::optional<pki::RawExtension> policy = cert_site.FindExtension(pki::SitePolicyOid());
  ASSERT_TRUE(policy.has_value());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(std::string json, pki::DecodeSitePolicy(policy->value));
  EXPECT_EQ(json, binding_.site_policy_json);

  pki::Verification v = pki::Verifier(clock_).Verify(NodeInput(cert_site));
  ASSERT_TRUE(v.ok()) << testing::Describe(v);
  EXPECT_EQ(v.rules_checked, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8})) << testing::Describe(v);
  ASSERT_TRUE(v.release.has_value());
  EXPECT_EQ(*v.release, chain_->options.release);
}

TEST_F(SiteCaCertSiteTest, CertSiteForOneNodeIsRefusedOnAnotherAsWrongNode) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate cert_site,
      ca_->IssueCertSite(chain_->cert_store, binding_, pki::kDefaultCertSiteLifetime, ctx()));
  pki::ChainInput in = NodeInput(cert_site);
  in.expected_node_id = pki::NodeSpiffeId("site-a", "node-2");
  pki::Verification v = pki::Verifier(clock_).Verify(in);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.failure->rule, 5) << testing::Describe(v);
  EXPECT_EQ(v.failure->certificate, pki::CertRole::kCertSite) << testing::Describe(v);
  EXPECT_EQ(v.failure->reason, pki::Reason::kWrongNode) << testing::Describe(v);

  // A node whose name merely starts with the bound node's is another node too.
  in.expected_node_id = pki::NodeSpiffeId("site-a", "node-10");
  v = pki::Verifier(clock_).Verify(in);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.failure->reason, pki::Reason::kWrongNode) << testing::Describe(v);
}

// The site CA signs whatever Cert_store it is handed: checking the store chain (rules 1, 2, 4)
// against the site's trusted store root is the slsm's job before it calls IssueCertSite. A
// Cert_store from a store the site does not trust therefore still gets a Cert_site, and it is
// the full verifier on the node that refuses it, at rule 2.
TEST_F(SiteCaCertSiteTest, CertSiteOverAnUntrustedStoresCertStoreIsIssuedButFailsRule2) {
  testing::TestPkiOptions rogue_options;
  rogue_options.store_name = "rogue-store";
  SITECHAIN_ASSERT_OK_AND_ASSIGN(testing::TestPki rogue,
                                 testing::MakeTestPki(clock_, rng_, rogue_options));
  pki::SiteBinding binding = binding_;
  binding.instance_public_key = rogue.instance_key.PublicKeyDer();
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      pki::Certificate cert_site,
      ca_->IssueCertSite(rogue.cert_store, binding, pki::kDefaultCertSiteLifetime, ctx()));

  // The node trusts only the site's store root.
  pki::ChainInput in = NodeInput(cert_site);
  in.cert_store = rogue.cert_store;
  pki::Verification v = pki::Verifier(clock_).Verify(in);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.failure->rule, 2) << testing::Describe(v);
  EXPECT_EQ(v.failure->certificate, pki::CertRole::kCertStore) << testing::Describe(v);
  EXPECT_EQ(v.failure->reason, pki::Reason::kIssuerMismatch) << testing::Describe(v);

  // Control: the Cert_site is otherwise sound; under the rogue store's own root it passes, so
  // the refusal above is the store root's doing.
  in.store_root = rogue.store_root;
  in.developer_identity = rogue.developer_identity;
  in.cert_dev = rogue.cert_dev;
  in.executable_path = rogue.executable_path;
  v = pki::Verifier(clock_).Verify(in);
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
}

TEST_F(SiteCaCertSiteTest, RefusesASitePolicyThatIsNotAJsonObject) {
  for (const std::string policy : {"[1,2]", "\"args\"", "42", "not json", "", "{\"a\":"}) {
    pki::SiteBinding binding = binding_;
    binding.site_policy_json = policy;
    Result<pki::Certificate> cert_site =
        ca_->IssueCertSite(chain_->cert_store, binding, pki::kDefaultCertSiteLifetime, ctx());
    ASSERT_FALSE(cert_site.ok()) << "'" << policy << "'";
    EXPECT_EQ(cert_site.status().code(), StatusCode::kInvalidArgument)
        << "'" << policy << "': " << cert_site.status().ToString();
  }
}

TEST_F(SiteCaCertSiteTest, RefusesInvalidNodeOrServiceNames) {
  for (const auto& [node, service] :
       std::vector<std::pair<std::string, std::string>>{{"Node 1", "hello"}, {"node-1", "a/b"}}) {
    pki::SiteBinding binding = binding_;
    binding.node = node;
    binding.service = service;
    Result<pki::Certificate> cert_site =
        ca_->IssueCertSite(chain_->cert_store, binding, pki::kDefaultCertSiteLifetime, ctx());
    ASSERT_FALSE(cert_site.ok()) << node << "/" << service;
    EXPECT_EQ(cert_site.status().code(), StatusCode::kInvalidArgument)
        << cert_site.status().ToString();
  }
}

TEST_F(SiteCaCertSiteTest, ACertificateOfTheWrongRoleIsInvalidArgument) {
  // A caller's mistake (a developer identity, which carries no release, handed in as the
  // Cert_store) is refused before anything is signed, as INVALID_ARGUMENT.
  Result<pki::Certificate> cert_site = ca_->IssueCertSite(chain_->developer_identity, binding_,
                                                          pki::kDefaultCertSiteLifetime, ctx());
  ASSERT_FALSE(cert_site.ok());
  EXPECT_EQ(cert_site.status().code(), StatusCode::kInvalidArgument)
      << cert_site.status().ToString();
}

// --- IssueTlsServer ------------------------------------------------------------------------------

TEST_F(SiteCaTest, IssueTlsServerGivesTheSlsmAServerCertificateWithAFreshKey) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  const pki::TlsServerNames names{{"slsm.site-a.internal", "localhost"}, {"127.0.0.1", "10.0.0.7"}};
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::TlsServerIdentity tls,
                                 ca.IssueTlsServer(names, 90 * kDay, ctx()));

  EXPECT_EQ(tls.certificate.DnsSans(), names.dns);
  EXPECT_EQ(tls.certificate.IpSans(), names.ips);
  EXPECT_TRUE(tls.certificate.UriSans().empty());  // no SPIFFE identity: not a node
  EXPECT_FALSE(tls.certificate.IsCa());
  EXPECT_EQ(tls.certificate.Issuer(), ca.root().Subject());
  EXPECT_EQ(tls.certificate.Subject(),
            (pki::DistinguishedName{"slsm.site-a.internal", "sitechain TLS server", "site-a"}));
  EXPECT_EQ(tls.certificate.NotAfter(), clock_.Now() + 90 * kDay);
  pki::Verification v = VerifyIssuedBy(tls.certificate, pki::CertRole::kTlsServer, ca.root());
  EXPECT_TRUE(v.ok()) << testing::Describe(v);
  // A TLS server certificate is no node identity.
  v = VerifyIssuedBy(tls.certificate, pki::CertRole::kNode, ca.root());
  EXPECT_FALSE(v.ok()) << testing::Describe(v);

  const CommandResult r = OpenSslVerify(tmp_.Path("ca/root.pem"), WritePem(tls.certificate, "tls"),
                                        {"-purpose", "sslserver"});
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // The key is the certificate's, neither the root's nor reused from one call to the next.
  EXPECT_EQ(tls.key.PublicKeyDer(), tls.certificate.PublicKeyDer());
  EXPECT_NE(tls.key.PublicKeyDer(), ca.root().PublicKeyDer());
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::TlsServerIdentity again,
                                 ca.IssueTlsServer(names, 90 * kDay, ctx()));
  EXPECT_NE(again.key.PublicKeyDer(), tls.key.PublicKeyDer());
  EXPECT_NE(again.certificate.SerialHex(), tls.certificate.SerialHex());
  const std::vector<uint8_t> sig = pki::SignMessage(tls.key, "hello", rng_);
  EXPECT_TRUE(pki::VerifyMessage(tls.certificate.PublicKeyDer(), "hello", sig));
}

TEST_F(SiteCaTest, IssueTlsServerLifetimeIsCappedAtTheRoots) {
  SiteCa::InitOptions opts = Options();
  opts.lifetime = 30 * kDay;
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(opts, clock_, rng_));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::TlsServerIdentity tls,
                                 ca.IssueTlsServer({{}, {"192.0.2.1"}}, 90 * kDay, ctx()));
  EXPECT_EQ(tls.certificate.NotAfter(), ca.root().NotAfter());
  EXPECT_EQ(tls.certificate.Subject().common_name, "192.0.2.1");
}

TEST_F(SiteCaTest, IssueTlsServerRefusesNoNamesOrBadNames) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(SiteCa ca, SiteCa::Init(Options(), clock_, rng_));
  EXPECT_EQ(ca.IssueTlsServer({}, 90 * kDay, ctx()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.IssueTlsServer({{"*.site-a.internal"}, {}}, 90 * kDay, ctx()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.IssueTlsServer({{}, {"::1"}}, 90 * kDay, ctx()).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sitechain::slca
