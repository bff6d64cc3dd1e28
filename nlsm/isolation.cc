#include "nlsm/isolation.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "common/files.h"
#include "nlsm/config.h"

namespace sitechain::nlsm {
namespace {

// FNV-1a, 64 bits: a stable short name for a state directory.
std::string ShortHash(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return std::string(out, 16);
}

// OK if every directory above `dir` lets other users pass (o+x): services running as their own
// users must reach their files below it.
Status ReachableByOthers(const std::string& dir) {
  namespace fs = std::filesystem;
  for (fs::path p = fs::absolute(dir).lexically_normal().parent_path(); !p.empty();
       p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return ErrnoStatus("cannot stat", p.string(), errno);
    if ((st.st_mode & S_IXOTH) == 0) {
      return FailedPrecondition(p.string() +
                                " does not let other users through (no o+x), so "
                                "services running as their own users could not reach their "
                                "files; chmod o+x " +
                                p.string() + " or keep the state directory elsewhere");
    }
    if (p == p.root_path()) break;
  }
  return Status::Ok();
}

}  // namespace

Result<Isolation> SetUpIsolation(const std::string& dir, const std::string& node,
                                 const NlsmConfig& config) {
  Isolation isolation;
  const auto off = [&](const std::string& why) -> Result<Isolation> {
    if (config.isolation == "on") {
      return FailedPrecondition("isolation is \"on\" in the configuration, but " + why);
    }
    isolation.summary = "off: " + why;
    return isolation;
  };
  if (config.isolation == "off") return off("isolation is \"off\" in the configuration");
  if (::geteuid() != 0) {
    return off("the nlsm does not run as root (uid " + std::to_string(::geteuid()) +
               "), so every service runs as the nlsm's user and can read the node key");
  }
  if (Status s = ReachableByOthers(dir); !s.ok()) return off(s.message());
  // Named by the absolute path: two node managers whose --dir reads the same ("n1", relative to
  // their own working directories) must never share (and kill) each other's cgroups.
  const std::string absolute = std::filesystem::weakly_canonical(std::filesystem::absolute(dir));
  auto cgroups = CgroupHost::SetUp("sitechain-nlsm." + node + "." + ShortHash(absolute));
  if (!cgroups.ok()) return off("no cgroups for the services: " + cgroups.status().message());
  isolation.on = true;
  isolation.summary = "on: a user per service from " + config.service_uid_range.ToString() + ", " +
                      cgroups->Describe();
  isolation.cgroups = std::move(*cgroups);
  return isolation;
}

}  // namespace sitechain::nlsm
