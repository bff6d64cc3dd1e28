#pragma once
// Test support: a complete, valid sitechain certificate chain built with the real builders
// (pki/builders.h), for tests that need certificates. Deterministic: everything comes from the
// clock and random source the test hands in (use ManualClock and SeededRandom).
//
//   ManualClock clock(testing::kTestEpoch);
//   SeededRandom rng(1);
//   auto pki = testing::MakeTestPki(clock, rng);          // Result<TestPki>
//   ASSERT_TRUE(pki.ok()) << pki.status().ToString();
//   pki::Verifier verifier(clock);
//   EXPECT_TRUE(verifier.Verify(pki->NodeInput()).ok());
//
// Attack tests forge certificates with SpecFrom (an exact copy of a certificate's contents as a
// CertificateSpec) + pki::IssueCertificate, changing one thing at a time.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "pki/verifier.h"

// In a test body: declares lhs from a Result's value, or fails the test (fatally) with the status.
//   SITECHAIN_ASSERT_OK_AND_ASSIGN(pki::Certificate cert, pki::Certificate::Load(path));
#define SITECHAIN_ASSERT_OK_AND_ASSIGN(lhs, expr)                                                  \
  auto SITECHAIN_CONCAT_(sitechain_test_result_, __LINE__) = (expr);                               \
  ASSERT_TRUE(SITECHAIN_CONCAT_(sitechain_test_result_, __LINE__).ok())                            \
      << #expr << ": " << SITECHAIN_CONCAT_(sitechain_test_result_, __LINE__).status().ToString(); \
  lhs = std::move(SITECHAIN_CONCAT_(sitechain_test_result_, __LINE__)).value()

namespace sitechain::testing {

// 2026-01-01T00:00:00Z: the default start of a test's ManualClock (whole seconds, as X.509).
inline const TimePoint kTestEpoch = TimePoint(Seconds(1767225600));

// A temporary directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
// Move-only. Aborts the test program if the directory cannot be created.
class TempDir final {
 public:
  TempDir();
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name. Does not create anything.
  std::string File(std::string_view name) const;

 private:
  std::string path_;  // empty after a move
};

// What the chain is made of. The defaults give a small valid chain.
struct TestPkiOptions {
  pki::KeyType key_type = pki::KeyType::kEd25519;  // used for every key of the chain
  std::string store_name = "test-store";
  std::string developer_name = "alice";
  pki::ServiceRelease release{"hello", "1.0.0", 7};
  pki::HashAlgorithm hash_algorithm = pki::HashAlgorithm::kSha256;
  // Executable contents; empty = DefaultExecutable().
  std::string executable;
  // If set, a metadata file with these contents is written and Cert_dev carries metadataHash.
  std::optional<std::string> metadata;
  std::string site = "site-a";
  std::string node = "node-1";
  std::string site_policy_json = R"({"args":["--port","8080"]})";
  // Lifetimes passed to the builders (which may cap them at the issuer's notAfter).
  Seconds store_root_lifetime = pki::kDefaultRootLifetime;
  Seconds developer_identity_lifetime = pki::kDefaultDeveloperIdentityLifetime;
  Seconds cert_dev_lifetime = pki::kDefaultCertDevLifetime;
  Seconds cert_store_lifetime = pki::kDefaultCertDevLifetime;
  Seconds site_root_lifetime = pki::kDefaultRootLifetime;
  Seconds node_lifetime = pki::kDefaultNodeLifetime;
  Seconds cert_site_lifetime = pki::kDefaultCertSiteLifetime;
};

// About 200 KiB of fixed bytes starting with "#!": larger than any sensible hashing chunk, so
// tests that flip a late byte check that the whole file is hashed.
std::string DefaultExecutable();

// A full valid chain, every certificate made by its builder at the clock's time. Movable.
struct TestPki {
  TestPkiOptions options;
  TempDir dir;  // holds the executable (and metadata) file

  // Store side.
  pki::PrivateKey store_key;
  pki::Certificate store_root;

  // Developer side: key, CSR (CN = options.developer_name), identity issued by the store root.
  pki::PrivateKey developer_key;
  pki::CertificateRequest developer_csr;
  pki::Certificate developer_identity;

  // The release: files on disk, their digests, Cert_dev and Cert_store.
  std::string executable_path;  // mode 0755
  pki::Digest executable_digest;
  std::optional<std::string> metadata_path;
  std::optional<pki::Digest> metadata_digest;
  pki::Certificate cert_dev;
  pki::Certificate cert_store;

  // Site side: site root, node (key made "on the node"), service instance key and Cert_site
  // for options.node with options.site_policy_json; service = release name.
  pki::PrivateKey site_key;
  pki::Certificate site_root;
  pki::PrivateKey node_key;
  pki::Certificate node_cert;
  pki::PrivateKey instance_key;
  pki::Certificate cert_site;

  // spiffe://<site>/node/<node>
  std::string NodeId() const;

  // What the store checks when a developer publishes: store root, identity, Cert_dev, files.
  pki::ChainInput PublishInput() const;
  // What a site manager checks on install: PublishInput() + Cert_store.
  pki::ChainInput InstallInput() const;
  // What a node checks before running: everything, with expected_node_id = NodeId().
  // highest_release_counter is left unset (set it to exercise rule 7).
  pki::ChainInput NodeInput() const;
};

// Builds the chain in the order of the life cycle. The clock is read, never moved. Returns the
// first builder's error with the step as context ("BuildCertDev: ...").
Result<TestPki> MakeTestPki(const Clock& clock, Random& rng, TestPkiOptions options = {});

// An exact copy of what `cert` says, as a spec IssueCertificate can sign again: subject, key,
// validity, CA flag and pathLen, keyUsage bits, extKeyUsage (TLS) presence, URI SANs, and every
// other extension (raw, in order) in extra_extensions. Re-signing it with the real issuer gives
// a certificate the verifier accepts; change one field to forge.
pki::CertificateSpec SpecFrom(const pki::Certificate& cert);

// Signs spec with `wrong_key` while naming `real_issuer` as the issuer (its subject DN): what a
// forger without the issuer's key can make. IssueCertificate refuses an issuer key that does not
// belong to the issuer certificate, so this issues under a self-signed look-alike of real_issuer
// (same subject and extensions, wrong_key's public key).
Result<pki::Certificate> SignWithWrongKey(const pki::CertificateSpec& spec,
                                          const pki::Certificate& real_issuer,
                                          const pki::PrivateKey& wrong_key, Random& rng);

// Replaces the value of the extra extension `oid` in spec. Returns false if it is absent.
bool ReplaceExtension(pki::CertificateSpec& spec, const std::string& oid,
                      std::vector<uint8_t> value);

// "OK (rules 1,2,3)" or the failure's ToString(), for assertion messages.
std::string Describe(const pki::Verification& v);

}  // namespace sitechain::testing
