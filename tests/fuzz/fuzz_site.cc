#include "tests/fuzz/fuzz_site.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <utility>

#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "slca/site_ca.h"
#include "storage/blob_store.h"

namespace sitechain::fuzz {
namespace {

constexpr const char* kSite = "fuzz-site";

// Aborts the program (a fuzz target cannot run without its site) with what failed.
template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "fuzz site: %s: %s\n", what, r.status().ToString().c_str());
    std::abort();
  }
  return std::move(r).value();
}

constexpr const char* kDirPrefix = "sitechain-fuzz-site-";

// A fresh directory <base>/sitechain-fuzz-site-<pid>-XXXXXX. A crash ends the program without
// removing its directory (libFuzzer leaves by _Exit), so the directories of programs no longer
// running are removed first.
std::string MakeTempDir() {
  std::string base = "/dev/shm";
  if (!std::filesystem::is_directory(base)) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kDirPrefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + std::strlen(kDirPrefix), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  std::string tmpl = base + "/" + kDirPrefix + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror(("fuzz site: mkdtemp " + tmpl).c_str());
    std::abort();
  }
  return tmpl;
}

std::string& DirToRemove() {
  static std::string dir;
  return dir;
}

void RemoveDir() {
  std::error_code ec;
  std::filesystem::remove_all(DirToRemove(), ec);
}

}  // namespace

const TimePoint FuzzSite::kEpoch = TimePoint(Seconds(1767225600));

// Serves releases made once, whole, as the store sends them.
class FuzzSite::MemoryStore final : public slsm::ReleaseSource {
 public:
  struct Release {
    slsm::ReleaseHeader header;
    std::string executable;
  };
  void Add(Release r) { releases_[r.header.name] = std::move(r); }

  Status Download(const std::string& name, const std::string&,
                  const std::function<Status(const slsm::ReleaseHeader&)>& on_header,
                  const std::function<Status(std::span<const uint8_t>)>& on_chunk) override {
    auto it = releases_.find(name);
    if (it == releases_.end()) return NotFound("no release " + name);
    SITECHAIN_RETURN_IF_ERROR(on_header(it->second.header));
    const std::string& x = it->second.executable;
    return on_chunk({reinterpret_cast<const uint8_t*>(x.data()), x.size()});
  }

 private:
  std::map<std::string, Release> releases_;
};

FuzzSite& FuzzSite::Get() {
  static FuzzSite* site = new FuzzSite();  // never destroyed: the program exits with it
  return *site;
}

const std::vector<std::string>& FuzzSite::Nodes() {
  static const std::vector<std::string> nodes = {"node-1", "node-2"};
  return nodes;
}

std::vector<std::string> FuzzSite::ServicesOf(const std::string& node) {
  if (node == "node-1") return {"hello", "world"};
  if (node == "node-2") return {"hello"};
  return {};
}

const slsm::NodeRecord& FuzzSite::record(const std::string& node) const {
  for (const auto& r : records_) {
    if (r.name == node) return r;
  }
  std::fprintf(stderr, "fuzz site: no node %s\n", node.c_str());
  std::abort();
}

FuzzSite::FuzzSite()
    : clock_(kEpoch), rng_(1), dir_(MakeTempDir()), store_(std::make_unique<MemoryStore>()) {
  DirToRemove() = dir_;
  std::atexit(RemoveDir);
  const pki::BuildContext ctx{clock_, rng_};

  // The store: its root, a developer and the two releases, as devkit and the store make them.
  const pki::PrivateKey store_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  store_root_ = Must(pki::BuildStoreRoot(store_key, "fuzz-store", pki::kDefaultRootLifetime, ctx),
                     "store root");
  const pki::PrivateKey developer_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
  const pki::Certificate identity =
      Must(pki::BuildDeveloperIdentity(
               Must(pki::CertificateRequest::Create(developer_key, "alice", rng_), "developer CSR"),
               *store_root_, store_key, pki::kDefaultDeveloperIdentityLifetime, ctx),
           "developer identity");
  for (const char* name : {"hello", "world"}) {
    const std::string executable = std::string("#!/bin/sh\necho ") + name + "\n";
    const pki::ReleaseSpec spec{
        {name, "1.0.0", 1}, pki::HashBytes(pki::HashAlgorithm::kSha256, executable), std::nullopt};
    const pki::Certificate cert_dev =
        Must(pki::BuildCertDev(spec, identity, developer_key, pki::kDefaultCertDevLifetime, ctx),
             "Cert_dev");
    const pki::Certificate cert_store = Must(
        pki::BuildCertStore(cert_dev, *store_root_, store_key, pki::kDefaultCertDevLifetime, ctx),
        "Cert_store");
    store_->Add({{name, "1.0.0", 1, "alice", "sha256", spec.executable.Hex(), executable.size(),
                  cert_dev.ToPem(), cert_store.ToPem(), identity.ToPem()},
                 executable});
  }

  // The site.
  slca::SiteCa ca =
      Must(slca::SiteCa::Init({.dir = dir_ + "/ca", .site = kSite}, clock_, rng_), "site CA");
  slsm::SiteOptions options;
  options.max_issuance_per_second = 1e9;
  options.issuance_burst = 1e12;
  hub_ = std::make_unique<slsm::NodeHub>(clock_, Seconds(15));
  service_ = Must(
      slsm::SiteService::Create(std::move(ca), *store_root_,
                                Must(slsm::SiteDatabase::Open(dir_ + "/slsm.db"), "site database"),
                                Must(storage::BlobStore::Open(dir_ + "/packages"), "package store"),
                                *store_, *hub_, clock_, rng_, options),
      "site service");
  for (const char* name : {"hello", "world"}) {
    Must(service_->Install(name, "1.0.0"), "install");
  }
  for (const auto& node : Nodes()) {
    const slsm::CreatedJoinToken token =
        Must(service_->CreateJoinToken(node, Seconds(0)), "join token");
    const pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    const pki::CertificateRequest csr =
        Must(pki::CertificateRequest::Create(key, node, rng_), "node CSR");
    const slsm::Enrolled enrolled =
        Must(service_->Enroll(token.token, node, csr.ToDer()), "enrollment");
    records_.push_back(
        Must(service_->AuthenticateNode(enrolled.node_certificate.ToPem()), "authentication"));
  }
  for (const auto& node : Nodes()) {
    for (const auto& s : ServicesOf(node)) Must(service_->Deploy(s, {node}), "deploy");
  }
}

pki::Verification FuzzSite::VerifyAsNode(const std::string& node, const std::string& service,
                                         const pki::Certificate& cert_site) {
  slsm::Package package = Must(service_->PackageFor(record(node), service), "package");
  const slsm::ReleaseRecord& r = package.release;
  pki::ChainInput in;
  in.store_root = *store_root_;
  in.site_root = service_->site_root();
  in.developer_identity = Must(pki::Certificate::FromPem(r.developer_certificate_pem), "identity");
  in.cert_dev = Must(pki::Certificate::FromPem(r.cert_dev_pem), "Cert_dev");
  in.cert_store = Must(pki::Certificate::FromPem(r.cert_store_pem), "Cert_store");
  in.cert_site = cert_site;
  in.executable_fd = package.fd.get();
  in.expected_node_id = pki::NodeSpiffeId(kSite, node);
  in.highest_release_counter = r.release_counter;
  return pki::Verifier(clock_).Verify(in);
}

}  // namespace sitechain::fuzz
