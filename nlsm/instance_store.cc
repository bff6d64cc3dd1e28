#include "nlsm/instance_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/files.h"
#include "common/identity_file.h"
#include "common/time_format.h"

namespace sitechain::nlsm {
namespace {

// The key and Cert_site files of releases before identity.pem.
void RemoveLegacyIdentityFiles(const std::string& dir) {
  for (const char* legacy : {"/instance.key", "/cert-site.pem"}) {
    std::error_code ec;
    std::filesystem::remove(dir + legacy, ec);
  }
}

}  // namespace

InstanceStore::InstanceStore(std::string dir, const NodeFiles& node, Random& rng)
    : dir_(std::move(dir)), node_(node), rng_(rng) {}

std::string InstanceStore::DirOf(const std::string& service) const {
  return dir_ + "/instances/" + service;
}

Result<std::vector<std::string>> InstanceStore::Kept() const {
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(dir_ + "/instances", 0700));
  std::vector<std::string> services;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/instances", ec)) {
    if (!entry.is_directory()) continue;
    services.push_back(entry.path().filename().string());
  }
  if (ec) return ErrnoStatus("cannot list", dir_ + "/instances", ec.value());
  return services;
}

Status InstanceStore::Save(const Instance& i) {
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(i.dir, 0700));
  SITECHAIN_RETURN_IF_ERROR(i.cert_dev->Save(i.dir + "/cert-dev.pem"));
  SITECHAIN_RETURN_IF_ERROR(i.cert_store->Save(i.dir + "/cert-store.pem"));
  SITECHAIN_RETURN_IF_ERROR(i.developer->Save(i.dir + "/developer.pem"));
  SITECHAIN_RETURN_IF_ERROR(WriteBundle(i));
  SITECHAIN_RETURN_IF_ERROR(WriteFederation(i));
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(i.dir + "/policy.json", i.policy_json + "\n", 0644));
  const nlohmann::json meta = {
      {"service", i.service},
      {"name", i.name},
      {"version", i.version},
      {"release_counter", i.release_counter},
      {"digest_algorithm", i.digest_algorithm},
      {"digest", i.digest},
      {"renew_after", i.suggested ? ToUnixSeconds(i.suggested->renew_after) : 0},
      {"renew_before", i.suggested ? ToUnixSeconds(i.suggested->renew_before) : 0}};
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(i.dir + "/instance.json", meta.dump(2) + "\n", 0644));
  // Last: the key and certificate that make the instance runnable, in one file replaced as a
  // whole.
  SITECHAIN_RETURN_IF_ERROR(GrantAccess(i));
  SITECHAIN_RETURN_IF_ERROR(
      WriteIdentityFile(i.dir + "/identity.pem",
                        {i.key->ToPem(std::nullopt, rng_), i.cert_site->ToPem()}, GroupOf(i)));
  RemoveLegacyIdentityFiles(i.dir);
  return Status::Ok();
}

Status InstanceStore::OpenToServiceUsers() const {
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(dir_ + "/instances", 0700));
  for (const std::string& d : {dir_, dir_ + "/instances"}) {
    if (::chmod(d.c_str(), 0711) != 0) return ErrnoStatus("cannot chmod 0711", d, errno);
  }
  // The packages are the nlsm's alone: it execs them by descriptor.
  const std::string packages = dir_ + "/packages";
  if (PathExists(packages) && ::chmod(packages.c_str(), 0700) != 0) {
    return ErrnoStatus("cannot chmod 0700", packages, errno);
  }
  return Status::Ok();
}

std::optional<gid_t> InstanceStore::GroupOf(const Instance& i) {
  if (!i.user) return std::nullopt;
  return i.user->gid;
}

Status InstanceStore::GrantAccess(const Instance& i) const {
  const std::string work = i.dir + "/work";
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(work, 0700));
  if (!i.user) return Status::Ok();
  const auto change = [](const std::string& path, uid_t uid, gid_t gid, mode_t mode) -> Status {
    if (::chown(path.c_str(), uid, gid) != 0) {
      return ErrnoStatus("cannot give " + std::to_string(uid) + ":" + std::to_string(gid), path,
                         errno);
    }
    if (::chmod(path.c_str(), mode) != 0) return ErrnoStatus("cannot chmod", path, errno);
    return Status::Ok();
  };
  const auto keep = static_cast<uid_t>(-1);
  SITECHAIN_RETURN_IF_ERROR(change(i.dir, keep, i.user->gid, 0750));
  SITECHAIN_RETURN_IF_ERROR(change(work, i.user->uid, i.user->gid, 0700));
  const std::string identity = i.dir + "/identity.pem";
  if (PathExists(identity)) SITECHAIN_RETURN_IF_ERROR(change(identity, keep, i.user->gid, 0440));
  return Status::Ok();
}

Status InstanceStore::LoadIdentity(Instance& i) const {
  const std::string path = i.dir + "/identity.pem";
  if (!PathExists(path) && PathExists(i.dir + "/instance.key")) {
    SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::Load(i.dir + "/cert-site.pem"));
    SITECHAIN_ASSIGN_OR_RETURN(auto key,
                               pki::PrivateKey::Load(i.dir + "/instance.key", std::nullopt));
    // Kept as one file from now on (the service is pointed at identity.pem).
    SITECHAIN_RETURN_IF_ERROR(
        WriteIdentityFile(path, {key.ToPem(std::nullopt, rng_), cert.ToPem()}, GroupOf(i)));
    i.cert_site = std::move(cert);
    i.key = std::move(key);
    RemoveLegacyIdentityFiles(i.dir);
    return Status::Ok();
  }
  SITECHAIN_ASSIGN_OR_RETURN(IdentityPem pem, ReadIdentityFile(path));
  auto key = pki::PrivateKey::FromPem(pem.key_pem, std::nullopt);
  if (!key.ok()) return DataLoss(path + ": the key does not decode: " + key.status().message());
  auto cert = pki::Certificate::FromPem(pem.chain_pem);
  if (!cert.ok()) {
    return DataLoss(path + ": the Cert_site does not decode: " + cert.status().message());
  }
  i.cert_site = std::move(*cert);
  i.key = std::move(*key);
  return Status::Ok();
}

Status InstanceStore::Load(Instance& i) const {
  SITECHAIN_ASSIGN_OR_RETURN(std::string meta_text,
                             ReadSmallFile(i.dir + "/instance.json", 64 << 10));
  try {
    const auto meta = nlohmann::json::parse(meta_text);
    i.name = meta.at("name").get<std::string>();
    i.version = meta.at("version").get<std::string>();
    i.release_counter = meta.at("release_counter").get<uint64_t>();
    i.digest_algorithm = meta.at("digest_algorithm").get<std::string>();
    i.digest = meta.at("digest").get<std::string>();
    const int64_t after = meta.value("renew_after", int64_t{0});
    const int64_t before = meta.value("renew_before", int64_t{0});
    if (after > 0 && before >= after) {
      i.suggested = RenewalWindow{FromUnixSeconds(after), FromUnixSeconds(before)};
    }
  } catch (const nlohmann::json::exception& e) {
    return DataLoss(i.dir + "/instance.json is corrupt: " + e.what());
  }
  auto load = [&](const char* file, std::optional<pki::Certificate>& out) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::Load(i.dir + "/" + file));
    out = std::move(cert);
    return Status::Ok();
  };
  for (auto [file, out] : {std::pair{"cert-dev.pem", &i.cert_dev},
                           {"cert-store.pem", &i.cert_store},
                           {"developer.pem", &i.developer}}) {
    SITECHAIN_RETURN_IF_ERROR(load(file, *out));
  }
  SITECHAIN_RETURN_IF_ERROR(LoadIdentity(i));
  i.policy_json = PolicyOf(*i.cert_site);
  if (PathExists(i.dir + "/federation.pem")) {
    SITECHAIN_ASSIGN_OR_RETURN(i.federation_pem, ReadSmallFile(i.dir + "/federation.pem"));
  }
  // Written again: a bundle of an earlier release held the store root too.
  SITECHAIN_RETURN_IF_ERROR(WriteBundle(i));
  return GrantAccess(i);
}

Status InstanceStore::WriteBundle(const Instance& i) const {
  // The site root only. Never the store root: every developer identity is a CA under it, so a
  // bundle holding it would accept a TLS identity any registered developer minted for any
  // service (docs/cert-profile.md, "The trust bundle").
  return WriteFileAtomic(i.dir + "/bundle.pem", node_.identity.site_root.ToPem(), 0644);
}

Status InstanceStore::WriteFederation(const Instance& i) const {
  const std::string path = i.dir + "/federation.pem";
  if (!i.federation_pem.empty()) return WriteFileAtomic(path, i.federation_pem, 0644);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) return ErrnoStatus("cannot remove", path, ec.value());
  return Status::Ok();
}

void InstanceStore::Forget(const Instance& i) {
  std::error_code ec;
  std::filesystem::remove_all(i.dir, ec);
}

}  // namespace sitechain::nlsm
