// BuildTlsServerCertificate: the TLS server certificate of a sitechain network service (the store,
// later the site manager), issued by the service's own root. Checked with sitechain's own parser
// and verifier and with the real `openssl verify -purpose sslserver` (OpenSSL 3; $OPENSSL or
// PATH), at the test's fixed time and with no system trust store.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.h"
#include "pki/builders.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "pki/oids.h"
#include "pki/profile.h"
#include "pki/verifier.h"
#include "tests/support/openssl.h"
#include "tests/support/test_chain.h"

namespace sitechain::pki {
namespace {

namespace st = ::sitechain::testing;

// extnValue of extKeyUsage: SEQUENCE { id-kp-serverAuth } and { serverAuth, clientAuth }.
constexpr const char* kServerAuthOnlyHex = "300a06082b06010505070301";
constexpr const char* kServerAndClientAuthHex = "301406082b0601050507030106082b06010505070302";
// extnValue of keyUsage: BIT STRING with digitalSignature only.
constexpr const char* kDigitalSignatureOnlyHex = "03020780";

using st::Command;
using st::CommandResult;
using st::RunCommand;

std::string KeyTypeTestName(const ::testing::TestParamInfo<KeyType>& info) {
  std::string name(KeyTypeName(info.param));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Two keys per type (root, server), made once per program from fixed seeds: RSA keygen is slow.
// Leaked on purpose: a PrivateKey must not be destroyed after Botan's memory pool (static
// destruction order).
const PrivateKey& CachedKey(KeyType type, int which) {
  static auto* keys = new std::map<std::pair<KeyType, int>, PrivateKey>();
  const auto id = std::make_pair(type, which);
  auto it = keys->find(id);
  if (it == keys->end()) {
    SeededRandom rng(7000 + 10 * static_cast<uint64_t>(type) + static_cast<uint64_t>(which));
    it = keys->emplace(id, PrivateKey::Generate(type, rng)).first;
  }
  return it->second;
}

std::string ExtensionHex(const Certificate& cert, const std::string& oid) {
  auto ext = cert.FindExtension(oid);
  return ext ? HexEncode(ext->value) : "(absent)";
}

class TlsServerCertTest : public ::testing::TestWithParam<KeyType> {
 protected:
  const PrivateKey& root_key() { return CachedKey(GetParam(), 0); }
  const PrivateKey& server_key() { return CachedKey(GetParam(), 1); }

  Result<Certificate> Root(const PrivateKey& key, Seconds lifetime = kDefaultRootLifetime) {
    return BuildStoreRoot(key, "test-store", lifetime, ctx_);
  }

  Result<Certificate> Build(const TlsServerNames& names, const Certificate& root,
                            const PrivateKey& key, Seconds lifetime = kDefaultTlsServerLifetime) {
    return BuildTlsServerCertificate(server_key().PublicKeyDer(), names, root, key, lifetime, ctx_);
  }

  std::string WritePem(const Certificate& cert, const std::string& name) {
    return st::SavePem(cert, dir_.File(name + ".pem"));
  }

  // `openssl verify -purpose sslserver` at the clock's time, trusting only `root`, with `extra`
  // options (e.g. -verify_hostname localhost).
  CommandResult OpenSslVerify(const Certificate& root, const Certificate& leaf,
                              const std::vector<std::string>& extra) {
    std::vector<std::string> argv = st::OpenSslVerifyArgv(clock_.Now(), WritePem(root, "root"));
    argv.insert(argv.end(), {"-purpose", "sslserver"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(WritePem(leaf, "leaf"));
    CommandResult r = RunCommand(argv);
    r.output = Command(argv) + "\n" + r.output;
    return r;
  }

  ManualClock clock_{st::kTestEpoch};
  SeededRandom rng_{8443};
  BuildContext ctx_{clock_, rng_};
  st::TempDir dir_;
};

const TlsServerNames kLocalhost{{"localhost"}, {"127.0.0.1"}};

TEST_P(TlsServerCertTest, BuildsTheProfileRow) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate root, Root(root_key()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate cert, Build(kLocalhost, root, root_key()));

  EXPECT_EQ(cert.DnsSans(), std::vector<std::string>{"localhost"});
  EXPECT_EQ(cert.IpSans(), std::vector<std::string>{"127.0.0.1"});
  EXPECT_TRUE(cert.UriSans().empty());
  EXPECT_FALSE(cert.IsCa());
  EXPECT_EQ(ExtensionHex(cert, kExtKeyUsageOid), kServerAuthOnlyHex);
  EXPECT_EQ(ExtensionHex(cert, kKeyUsageOid), kDigitalSignatureOnlyHex);
  EXPECT_EQ(cert.Subject(), (DistinguishedName{"localhost", "sitechain TLS server", "test-store"}));
  EXPECT_EQ(cert.IssuerDnDer(), root.SubjectDnDer());
  EXPECT_TRUE(cert.SignatureVerifiesWith(root));
  EXPECT_EQ(cert.PublicKeyDer(), server_key().PublicKeyDer());
  EXPECT_EQ(cert.NotBefore(), clock_.Now() - kNotBeforeBackdate);
  EXPECT_EQ(cert.NotAfter(), clock_.Now() + kDefaultTlsServerLifetime);
  const Verification v = Verifier(clock_).VerifyIssuedBy(cert, CertRole::kTlsServer, root);
  EXPECT_TRUE(v.ok()) << st::Describe(v);
}

TEST_P(TlsServerCertTest, LifetimeIsCappedAtTheRootsNotAfter) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate root, Root(root_key(), Seconds(30 * 86400)));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate cert, Build(kLocalhost, root, root_key()));
  EXPECT_EQ(cert.NotAfter(), root.NotAfter());
}

TEST_P(TlsServerCertTest, OpenSslAcceptsItAsAServerCertificate) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate root, Root(root_key()));
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate cert, Build(kLocalhost, root, root_key()));

  CommandResult by_name = OpenSslVerify(root, cert, {"-verify_hostname", "localhost"});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.output;
  EXPECT_NE(by_name.output.find(": OK"), std::string::npos) << by_name.output;
  CommandResult by_ip = OpenSslVerify(root, cert, {"-verify_ip", "127.0.0.1"});
  EXPECT_EQ(by_ip.exit_code, 0) << by_ip.output;

  // Controls: another name or address, and a look-alike root (same name, another key).
  EXPECT_NE(OpenSslVerify(root, cert, {"-verify_hostname", "example.com"}).exit_code, 0);
  EXPECT_NE(OpenSslVerify(root, cert, {"-verify_ip", "127.0.0.2"}).exit_code, 0);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate other_root, Root(server_key()));
  CommandResult wrong_root = OpenSslVerify(other_root, cert, {"-verify_hostname", "localhost"});
  EXPECT_NE(wrong_root.exit_code, 0) << wrong_root.output;
  EXPECT_FALSE(Verifier(clock_).VerifyIssuedBy(cert, CertRole::kTlsServer, other_root).ok());
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, TlsServerCertTest,
                         ::testing::Values(KeyType::kEd25519, KeyType::kEcdsaP256,
                                           KeyType::kRsa2048),
                         KeyTypeTestName);

// Refusals, with Ed25519 keys (the checks do not depend on the key type).
class TlsServerCertRefusalTest : public TlsServerCertTest {
 protected:
  void SetUp() override {
    Result<Certificate> root = Root(root_key());
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    root_.emplace(std::move(root).value());
  }

  // The status code of building a certificate for `names` under the test root. A refusal must
  // name what it refuses: its message contains `what`.
  StatusCode Refusal(const TlsServerNames& names, const std::string& what = "") {
    Result<Certificate> r = Build(names, *root_, root_key());
    if (r.ok()) return StatusCode::kOk;
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().ToString();
    return r.status().code();
  }

  std::optional<Certificate> root_;
};

std::string Labels(size_t total) {
  // Labels of 63 'a's joined by dots, the last one shortened to reach `total` bytes.
  std::string out;
  while (out.size() < total) {
    if (!out.empty()) out += '.';
    out += std::string(std::min<size_t>(63, total - out.size()), 'a');
  }
  return out;
}

TEST_P(TlsServerCertRefusalTest, NeedsAtLeastOneName) {
  EXPECT_EQ(Refusal({}, "at least one"), StatusCode::kInvalidArgument);
}

TEST_P(TlsServerCertRefusalTest, RefusesBadDnsNames) {
  ASSERT_EQ(Labels(253).size(), 253u);
  ASSERT_EQ(Labels(254).size(), 254u);
  for (const std::string& bad :
       {std::string("a b"), std::string("*.x"), std::string(""), Labels(254), std::string("a..b"),
        std::string(".a"), std::string("-a.b"), std::string("a_b"), std::string("127.0.0.1"),
        std::string("localhost\n")}) {
    EXPECT_EQ(Refusal({{bad}, {}}, "DNS name"), StatusCode::kInvalidArgument) << "'" << bad << "'";
    EXPECT_EQ(Refusal({{"localhost", bad}, {}}, "DNS name"), StatusCode::kInvalidArgument)
        << "'" << bad << "'";
  }
  EXPECT_EQ(Refusal({{"localhost", "LocalHost"}, {}}, "repeats"), StatusCode::kInvalidArgument)
      << "a repeated name";
}

TEST_P(TlsServerCertRefusalTest, AcceptsLongAndMixedCaseNamesAfterTheFirst) {
  // 253 bytes is the DNS limit; only the first name becomes the CN (at most 64 bytes).
  const std::string longest = Labels(253);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(
      const Certificate cert,
      Build({{"store.example", "Store-2.Example", longest}, {}}, *root_, root_key()));
  EXPECT_EQ(cert.DnsSans(),
            (std::vector<std::string>{"store.example", "Store-2.Example", longest}));
  EXPECT_EQ(cert.Subject().common_name, "store.example");
  EXPECT_EQ(Refusal({{longest}, {}}, "CN"), StatusCode::kInvalidArgument);
}

TEST_P(TlsServerCertRefusalTest, IpOnlyCertificateUsesTheAddressAsCn) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate cert,
                                 Build({{}, {"192.0.2.7", "10.0.0.1"}}, *root_, root_key()));
  EXPECT_EQ(cert.Subject().common_name, "192.0.2.7");
  EXPECT_EQ(cert.IpSans(), (std::vector<std::string>{"192.0.2.7", "10.0.0.1"}));
  EXPECT_TRUE(cert.DnsSans().empty());
}

TEST_P(TlsServerCertRefusalTest, RefusesBadAndIpv6Addresses) {
  for (const std::string bad : {"300.1.1.1", "", "1.2.3", "01.2.3.4", "localhost", "1.2.3.4 "}) {
    EXPECT_EQ(Refusal({{"localhost"}, {bad}}, "not an IPv4 address"), StatusCode::kInvalidArgument)
        << "'" << bad << "'";
  }
  // Botan 2 encodes only IPv4 iPAddress names.
  Result<Certificate> v6 = Build({{"localhost"}, {"::1"}}, *root_, root_key());
  ASSERT_FALSE(v6.ok());
  EXPECT_EQ(v6.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v6.status().message().find("IPv6"), std::string::npos) << v6.status().ToString();
  EXPECT_EQ(Refusal({{"localhost"}, {"10.0.0.1", "10.0.0.1"}}, "repeats"),
            StatusCode::kInvalidArgument);
}

TEST_P(TlsServerCertRefusalTest, RefusesARootKeyThatIsNotTheRoots) {
  Result<Certificate> r = Build(kLocalhost, *root_, server_key());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find("does not belong"), std::string::npos)
      << r.status().ToString();
}

TEST_P(TlsServerCertRefusalTest, RefusesAnIssuerThatIsNotARoot) {
  SITECHAIN_ASSERT_OK_AND_ASSIGN(const Certificate leaf, Build(kLocalhost, *root_, root_key()));
  Result<Certificate> r = Build(kLocalhost, leaf, server_key());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find("not a self-signed CA"), std::string::npos)
      << r.status().ToString();
}

TEST_P(TlsServerCertRefusalTest, RefusesANonPositiveLifetimeAndAnExpiredRoot) {
  EXPECT_EQ(Build(kLocalhost, *root_, root_key(), Seconds(0)).status().code(),
            StatusCode::kInvalidArgument);
  clock_.Set(root_->NotAfter() + Seconds(1));
  EXPECT_EQ(Build(kLocalhost, *root_, root_key()).status().code(), StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(Ed25519, TlsServerCertRefusalTest, ::testing::Values(KeyType::kEd25519),
                         KeyTypeTestName);

// The ext_key_usage bit set replaced a bool: node and Cert_site keep serverAuth + clientAuth.
TEST(TlsServerCertCompatTest, NodeAndCertSiteKeepServerAndClientAuth) {
  ManualClock clock(st::kTestEpoch);
  SeededRandom rng(12);
  SITECHAIN_ASSERT_OK_AND_ASSIGN(st::TestPki p, st::MakeTestPki(clock, rng));
  EXPECT_EQ(ExtensionHex(p.node_cert, kExtKeyUsageOid), kServerAndClientAuthHex);
  EXPECT_EQ(ExtensionHex(p.cert_site, kExtKeyUsageOid), kServerAndClientAuthHex);
  EXPECT_EQ(CertRoleName(CertRole::kTlsServer), "tls-server");
}

}  // namespace
}  // namespace sitechain::pki
