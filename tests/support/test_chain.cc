#include "tests/support/test_chain.h"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "common/files.h"
#include "pki/oids.h"
#include "pki/profile.h"

namespace sitechain::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sitechain-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    TempDir doomed(std::move(*this));
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

std::string TempDir::File(std::string_view name) const { return path_ + "/" + std::string(name); }

std::string DefaultExecutable() {
  std::string out = "#!/bin/sh\necho hello from sitechain\nexit 0\n";
  out.reserve(200 * 1024);
  for (size_t i = 0; out.size() < 200 * 1024; ++i)
    out.push_back(static_cast<char>((i * 31 + 7) % 251));
  return out;
}

std::string TestPki::NodeId() const { return pki::NodeSpiffeId(options.site, options.node); }

pki::ChainInput TestPki::PublishInput() const {
  pki::ChainInput in;
  in.store_root = store_root;
  in.developer_identity = developer_identity;
  in.cert_dev = cert_dev;
  in.executable_path = executable_path;
  in.metadata_path = metadata_path;
  return in;
}

pki::ChainInput TestPki::InstallInput() const {
  pki::ChainInput in = PublishInput();
  in.cert_store = cert_store;
  return in;
}

pki::ChainInput TestPki::NodeInput() const {
  pki::ChainInput in = InstallInput();
  in.site_root = site_root;
  in.cert_site = cert_site;
  in.expected_node_id = NodeId();
  return in;
}

Result<TestPki> MakeTestPki(const Clock& clock, Random& rng, TestPkiOptions options) {
  const pki::BuildContext ctx{clock, rng};
  TempDir dir;

  pki::PrivateKey store_key = pki::PrivateKey::Generate(options.key_type, rng);
  Result<pki::Certificate> store_root =
      pki::BuildStoreRoot(store_key, options.store_name, options.store_root_lifetime, ctx);
  if (!store_root.ok()) return store_root.status().WithContext("BuildStoreRoot");

  pki::PrivateKey developer_key = pki::PrivateKey::Generate(options.key_type, rng);
  Result<pki::CertificateRequest> csr =
      pki::CertificateRequest::Create(developer_key, options.developer_name, rng);
  if (!csr.ok()) return csr.status().WithContext("CertificateRequest::Create");
  Result<pki::Certificate> identity = pki::BuildDeveloperIdentity(
      *csr, *store_root, store_key, options.developer_identity_lifetime, ctx);
  if (!identity.ok()) return identity.status().WithContext("BuildDeveloperIdentity");

  if (options.executable.empty()) options.executable = DefaultExecutable();
  const std::string executable_path = dir.File(options.release.name);
  SITECHAIN_RETURN_IF_ERROR(
      WriteFileAtomic(executable_path, options.executable, 0755).WithContext("executable"));
  pki::ReleaseSpec spec{options.release, pki::HashBytes(options.hash_algorithm, options.executable),
                        std::nullopt};
  std::optional<std::string> metadata_path;
  if (options.metadata) {
    metadata_path = dir.File(options.release.name + ".meta.json");
    SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(*metadata_path, *options.metadata, 0644));
    spec.metadata = pki::HashBytes(options.hash_algorithm, *options.metadata);
  }
  Result<pki::Certificate> cert_dev =
      pki::BuildCertDev(spec, *identity, developer_key, options.cert_dev_lifetime, ctx);
  if (!cert_dev.ok()) return cert_dev.status().WithContext("BuildCertDev");
  Result<pki::Certificate> cert_store =
      pki::BuildCertStore(*cert_dev, *store_root, store_key, options.cert_store_lifetime, ctx);
  if (!cert_store.ok()) return cert_store.status().WithContext("BuildCertStore");

  pki::PrivateKey site_key = pki::PrivateKey::Generate(options.key_type, rng);
  Result<pki::Certificate> site_root =
      pki::BuildSiteRoot(site_key, options.site, options.site_root_lifetime, ctx);
  if (!site_root.ok()) return site_root.status().WithContext("BuildSiteRoot");
  pki::PrivateKey node_key = pki::PrivateKey::Generate(options.key_type, rng);
  Result<pki::Certificate> node_cert = pki::BuildNodeCertificate(
      node_key.PublicKeyDer(), options.node, *site_root, site_key, options.node_lifetime, ctx);
  if (!node_cert.ok()) return node_cert.status().WithContext("BuildNodeCertificate");
  pki::PrivateKey instance_key = pki::PrivateKey::Generate(options.key_type, rng);
  pki::SiteBinding binding{options.node, options.release.name, instance_key.PublicKeyDer(),
                           options.site_policy_json};
  Result<pki::Certificate> cert_site = pki::BuildCertSite(
      *cert_store, binding, *site_root, site_key, options.cert_site_lifetime, ctx);
  if (!cert_site.ok()) return cert_site.status().WithContext("BuildCertSite");

  return TestPki{
      .options = std::move(options),
      .dir = std::move(dir),
      .store_key = std::move(store_key),
      .store_root = std::move(store_root).value(),
      .developer_key = std::move(developer_key),
      .developer_csr = std::move(csr).value(),
      .developer_identity = std::move(identity).value(),
      .executable_path = executable_path,
      .executable_digest = spec.executable,
      .metadata_path = std::move(metadata_path),
      .metadata_digest = spec.metadata,
      .cert_dev = std::move(cert_dev).value(),
      .cert_store = std::move(cert_store).value(),
      .site_key = std::move(site_key),
      .site_root = std::move(site_root).value(),
      .node_key = std::move(node_key),
      .node_cert = std::move(node_cert).value(),
      .instance_key = std::move(instance_key),
      .cert_site = std::move(cert_site).value(),
  };
}

namespace {

// keyUsage is a DER BIT STRING: 03 <len> <unused bits> <bytes...>; bit n is the n-th bit from
// the most significant bit of the first byte. digitalSignature = 0, keyCertSign = 5, cRLSign = 6.
unsigned KeyUsageBitsOf(const std::vector<uint8_t>& der) {
  if (der.size() < 4 || der[0] != 0x03) return 0;
  const uint8_t first = der[3];
  unsigned bits = 0;
  if (first & 0x80) bits |= pki::kDigitalSignature;
  if (first & 0x04) bits |= pki::kKeyCertSign;
  if (first & 0x02) bits |= pki::kCrlSign;
  return bits;
}

bool IsStandardExtension(const std::string& oid) {
  return oid == pki::kBasicConstraintsOid || oid == pki::kKeyUsageOid ||
         oid == pki::kExtKeyUsageOid || oid == pki::kSubjectAltNameOid ||
         oid == pki::kSubjectKeyIdOid || oid == pki::kAuthorityKeyIdOid;
}

}  // namespace

pki::CertificateSpec SpecFrom(const pki::Certificate& cert) {
  pki::CertificateSpec spec;
  spec.subject = cert.Subject();
  spec.subject_public_key = cert.PublicKeyDer();
  spec.not_before = cert.NotBefore();
  spec.not_after = cert.NotAfter();
  spec.is_ca = cert.IsCa();
  if (spec.is_ca) spec.path_limit = cert.PathLimit();
  if (auto ku = cert.FindExtension(pki::kKeyUsageOid)) spec.key_usage = KeyUsageBitsOf(ku->value);
  // sitechain's certificates carry serverAuth + clientAuth (node, Cert_site) or serverAuth
  // alone (TLS servers, which have DNS or IP names).
  if (cert.FindExtension(pki::kExtKeyUsageOid)) {
    spec.ext_key_usage = cert.DnsSans().empty() && cert.IpSans().empty()
                             ? pki::kServerAuth | pki::kClientAuth
                             : pki::kServerAuth;
  }
  spec.uri_sans = cert.UriSans();
  spec.dns_sans = cert.DnsSans();
  spec.ip_sans = cert.IpSans();
  for (const pki::RawExtension& ext : cert.Extensions()) {
    if (!IsStandardExtension(ext.oid)) spec.extra_extensions.push_back(ext);
  }
  return spec;
}

Result<pki::Certificate> SignWithWrongKey(const pki::CertificateSpec& spec,
                                          const pki::Certificate& real_issuer,
                                          const pki::PrivateKey& wrong_key, Random& rng) {
  pki::CertificateSpec look_alike = SpecFrom(real_issuer);
  look_alike.subject_public_key = wrong_key.PublicKeyDer();
  Result<pki::Certificate> fake = pki::IssueCertificate(look_alike, {nullptr, wrong_key}, rng);
  if (!fake.ok()) return fake.status().WithContext("look-alike issuer");
  return pki::IssueCertificate(spec, {&*fake, wrong_key}, rng);
}

bool ReplaceExtension(pki::CertificateSpec& spec, const std::string& oid,
                      std::vector<uint8_t> value) {
  for (pki::RawExtension& ext : spec.extra_extensions) {
    if (ext.oid == oid) {
      ext.value = std::move(value);
      return true;
    }
  }
  return false;
}

std::string Describe(const pki::Verification& v) {
  if (v.failure) return v.failure->ToString();
  std::string out = "OK (rules ";
  for (size_t i = 0; i < v.rules_checked.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(v.rules_checked[i]);
  }
  return out + ")";
}

}  // namespace sitechain::testing
