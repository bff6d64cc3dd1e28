#include "nlsm/cgroups.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "common/files.h"

namespace sitechain::nlsm {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

struct Mount {
  std::string root, point;
};

// The cgroup mounts of /proc/self/mountinfo: "cgroup2" and each v1 controller, with the root
// of the hierarchy they show and where.
std::map<std::string, Mount> CgroupMounts() {
  std::map<std::string, Mount> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root point options [optional...] - fstype source super-options
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, word;
    fields >> id >> parent >> dev >> root >> point;
    while (fields >> word && word != "-") {
    }
    std::string fstype, source, super;
    fields >> fstype >> source >> super;
    if (fstype == "cgroup2") {
      mounts.emplace("cgroup2", Mount{root, point});
    } else if (fstype == "cgroup") {
      std::istringstream options(super);
      std::string option;
      while (std::getline(options, option, ',')) mounts.emplace(option, Mount{root, point});
    }
  }
  return mounts;
}

// /proc/self/cgroup: "" for v2 ("0::/path"), else each v1 controller, to the process's path.
std::map<std::string, std::string> OwnCgroups() {
  std::map<std::string, std::string> own;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) {
      own[""] = path;
      continue;
    }
    std::istringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ',')) own[c] = path;
  }
  return own;
}

// Where the process's cgroup `path` of a hierarchy is in its mount.
std::string InMount(const Mount& m, const std::string& path) {
  std::string rel = path;
  if (m.root != "/" && rel.rfind(m.root, 0) == 0) rel = rel.substr(m.root.size());
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  return m.point + rel;
}

Status WriteText(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("cannot open", path, errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus("cannot write \"" + std::string(text) + "\" to", path, errno);
  }
  return Status::Ok();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool HasWord(const std::string& text, std::string_view word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

Status MakeCgroup(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("cannot create cgroup", dir, errno);
  }
  return Status::Ok();
}

bool EventsSayPopulated(int events_fd) {
  char buf[256];
  const ssize_t n = ::pread(events_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = '\0';
  return std::string_view(buf, static_cast<size_t>(n)).find("populated 1") !=
         std::string_view::npos;
}

// Waits until the cgroup whose cgroup.events `events_fd` reads is empty (POLLPRI tells of each
// change); false if it is not within `timeout`.
bool WaitEmpty(int events_fd, milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (EventsSayPopulated(events_fd)) {
    const auto left = std::chrono::ceil<milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) return false;
    pollfd p{events_fd, POLLPRI, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 100)));
  }
  return true;
}

// Kills and waits for a v2 cgroup by path, then removes it with the v1 ones of the same name
// (best effort: what cannot be removed stays).
void KillAndRemove(const std::string& v2, const std::vector<std::string>& v1,
                   milliseconds timeout) {
  UniqueFd events(::open((v2 + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
  (void)WriteText(v2 + "/cgroup.kill", "1");
  if (events.valid()) WaitEmpty(events.get(), timeout);
  for (const auto& d : v1) ::rmdir(d.c_str());
  ::rmdir(v2.c_str());
}

}  // namespace

Result<CgroupHost> CgroupHost::SetUp(std::string_view scope) {
  const auto mounts = CgroupMounts();
  const auto own = OwnCgroups();
  auto v2 = mounts.find("cgroup2");
  if (v2 == mounts.end() || !own.contains("")) {
    return FailedPrecondition("no cgroup v2 hierarchy is mounted (services cannot be contained)");
  }
  CgroupHost host;
  const std::string own_v2 = InMount(v2->second, own.at(""));
  const bool hybrid =
      mounts.contains("memory") || mounts.contains("pids") || mounts.contains("cpu");
  host.layout = hybrid ? Layout::kHybrid : Layout::kUnified;
  host.unified = own_v2 + "/" + std::string(scope);
  SITECHAIN_RETURN_IF_ERROR(MakeCgroup(host.unified));
  if (!PathExists(host.unified + "/cgroup.kill")) {  // (the root cgroup never has one)
    return FailedPrecondition(host.unified + " has no cgroup.kill (Linux 5.14 or later is needed)");
  }
  if (hybrid) {
    for (auto [controller, dir, enforce] : {std::tuple{"memory", &host.memory_v1, &host.memory},
                                            {"pids", &host.pids_v1, &host.pids},
                                            {"cpu", &host.cpu_v1, &host.cpu}}) {
      auto m = mounts.find(controller);
      if (m == mounts.end() || !own.contains(controller)) continue;
      *dir = InMount(m->second, own.at(controller)) + "/" + std::string(scope);
      SITECHAIN_RETURN_IF_ERROR(MakeCgroup(*dir));
      *enforce = true;
    }
    return host;
  }
  // Unified: the controllers must be enabled in <own> and in <own>/<scope>; a cgroup with
  // processes of its own (but the root) cannot enable any, so the nlsm leaves <own> first.
  const std::string available = ReadText(own_v2 + "/cgroup.controllers");
  std::string enable;
  for (const char* c : {"memory", "pids", "cpu"}) {
    if (HasWord(available, c)) enable += std::string(enable.empty() ? "+" : " +") + c;
  }
  if (!enable.empty()) {
    Status s = WriteText(own_v2 + "/cgroup.subtree_control", enable);
    if (!s.ok() && errno == EBUSY) {
      const std::string leaf = own_v2 + "/supervisor";
      SITECHAIN_RETURN_IF_ERROR(MakeCgroup(leaf));
      SITECHAIN_RETURN_IF_ERROR(WriteText(leaf + "/cgroup.procs", "0"));
      s = WriteText(own_v2 + "/cgroup.subtree_control", enable);
    }
    SITECHAIN_RETURN_IF_ERROR(s);
    SITECHAIN_RETURN_IF_ERROR(WriteText(host.unified + "/cgroup.subtree_control", enable));
  }
  const std::string enabled = ReadText(host.unified + "/cgroup.subtree_control");
  host.memory = HasWord(enabled, "memory");
  host.pids = HasWord(enabled, "pids");
  host.cpu = HasWord(enabled, "cpu");
  return host;
}

std::string CgroupHost::Describe() const {
  std::string limits;
  for (auto [name, on] : {std::pair{"memory", memory}, {"pids", pids}, {"cpu", cpu}}) {
    if (on) limits += std::string(limits.empty() ? "" : ", ") + name;
  }
  if (limits.empty()) limits = "none";
  if (layout == Layout::kUnified) return "cgroup v2 at " + unified + "; limits: " + limits;
  return "cgroup v1+v2 hybrid: kill and events on v2 at " + unified + ", limits on v1: " + limits;
}

std::vector<std::string> CgroupHost::RemoveLeftovers(milliseconds timeout) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(unified, ec)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    std::vector<std::string> v1;
    for (const std::string* d : {&memory_v1, &pids_v1, &cpu_v1}) {
      if (!d->empty() && PathExists(*d + "/" + name)) v1.push_back(*d + "/" + name);
    }
    KillAndRemove(entry.path().string(), v1, timeout);
    names.push_back(name);
  }
  return names;
}

void CgroupHost::RemoveScope() const {
  for (const std::string* d : {&memory_v1, &pids_v1, &cpu_v1, &unified}) {
    if (!d->empty()) ::rmdir(d->c_str());
  }
}

Status CgroupHost::CanEnforce(const ResourceLimits& limits) const {
  const auto refuse = [this](const char* key) {
    return FailedPrecondition(std::string("site policy: \"limits.") + key +
                              "\": this node cannot enforce it (" + Describe() +
                              "); a policy the node cannot honour");
  };
  if (limits.memory_bytes && !memory) return refuse("memory");
  if (limits.pids && !pids) return refuse("pids");
  if (limits.cpu_millicores && !cpu) return refuse("cpu");
  return Status::Ok();
}

Result<std::unique_ptr<InstanceCgroup>> InstanceCgroup::Create(const CgroupHost& host,
                                                               const std::string& service,
                                                               const ResourceLimits& limits) {
  SITECHAIN_RETURN_IF_ERROR(host.CanEnforce(limits));
  std::unique_ptr<InstanceCgroup> cg(new InstanceCgroup());
  const std::string v2 = host.unified + "/" + service;
  std::vector<std::string> v1;
  const bool hybrid = host.layout == CgroupHost::Layout::kHybrid;
  if (hybrid) {
    for (const std::string* d : {&host.memory_v1, &host.pids_v1, &host.cpu_v1}) {
      if (!d->empty()) v1.push_back(*d + "/" + service);
    }
  }
  if (PathExists(v2)) KillAndRemove(v2, v1, milliseconds(5000));  // a leftover
  cg->dirs_.push_back(v2);
  for (const auto& d : v1) cg->dirs_.push_back(d);
  for (const auto& d : cg->dirs_) SITECHAIN_RETURN_IF_ERROR(MakeCgroup(d));

  const auto dir_of = [&](const std::string& base) { return hybrid ? base + "/" + service : v2; };
  if (limits.memory_bytes) {
    const std::string bytes = std::to_string(*limits.memory_bytes);
    const std::string d = dir_of(host.memory_v1);
    if (hybrid) {
      SITECHAIN_RETURN_IF_ERROR(WriteText(d + "/memory.limit_in_bytes", bytes));
      // Without swap accounting there is no memsw file; a node without swap needs none.
      if (PathExists(d + "/memory.memsw.limit_in_bytes")) {
        SITECHAIN_RETURN_IF_ERROR(WriteText(d + "/memory.memsw.limit_in_bytes", bytes));
      }
    } else {
      SITECHAIN_RETURN_IF_ERROR(WriteText(d + "/memory.max", bytes));
      if (PathExists(d + "/memory.swap.max")) {
        SITECHAIN_RETURN_IF_ERROR(WriteText(d + "/memory.swap.max", "0"));
      }
    }
  }
  if (limits.pids) {
    SITECHAIN_RETURN_IF_ERROR(
        WriteText(dir_of(host.pids_v1) + "/pids.max", std::to_string(*limits.pids)));
  }
  if (limits.cpu_millicores) {
    const std::string quota = std::to_string(uint64_t{*limits.cpu_millicores} * 100);  // per 100 ms
    const std::string d = dir_of(host.cpu_v1);
    if (hybrid) {
      SITECHAIN_RETURN_IF_ERROR(WriteText(d + "/cpu.cfs_period_us", "100000"));
      SITECHAIN_RETURN_IF_ERROR(WriteText(d + "/cpu.cfs_quota_us", quota));
    } else {
      SITECHAIN_RETURN_IF_ERROR(WriteText(d + "/cpu.max", quota + " 100000"));
    }
  }
  for (const auto& d : cg->dirs_) {
    const std::string procs = d + "/cgroup.procs";
    UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus("cannot open", procs, errno);
    cg->procs_.push_back(std::move(fd));
  }
  cg->events_ = UniqueFd(::open((v2 + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
  if (!cg->events_.valid()) return ErrnoStatus("cannot open", v2 + "/cgroup.events", errno);
  return cg;
}

InstanceCgroup::~InstanceCgroup() {
  procs_.clear();
  events_ = UniqueFd();
  if (dirs_.empty()) return;
  KillAndRemove(dirs_.front(), {dirs_.begin() + 1, dirs_.end()}, milliseconds(5000));
}

std::vector<int> InstanceCgroup::join_fds() const {
  std::vector<int> fds;
  for (const auto& fd : procs_) fds.push_back(fd.get());
  return fds;
}

Status InstanceCgroup::Kill() const { return WriteText(path() + "/cgroup.kill", "1"); }

bool InstanceCgroup::Populated() const { return EventsSayPopulated(events_.get()); }

Status InstanceCgroup::KillAndWait(milliseconds timeout) const {
  if (!Populated()) return Status::Ok();
  SITECHAIN_RETURN_IF_ERROR(Kill());
  if (!WaitEmpty(events_.get(), timeout)) {
    return Unavailable(path() + " still holds processes " + std::to_string(timeout.count()) +
                       " ms after cgroup.kill");
  }
  return Status::Ok();
}

}  // namespace sitechain::nlsm
