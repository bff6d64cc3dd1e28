#pragma once
// The cgroups the supervisor runs services in: one per service instance, so that every process
// of a service (setsid, double fork and all) is found, limited and killed with it.
//
// Two layouts are supported:
//   unified  pure cgroup v2 (real nodes): each instance is <own>/<scope>/<service>, with the
//            memory, pids and cpu controllers enabled for it. <own> is the nlsm's cgroup (with
//            systemd: its unit's, Delegate=yes); if <own> holds processes, the nlsm first moves
//            itself into <own>/supervisor, as cgroup v2 allows controllers only for cgroups
//            without processes of their own.
//   hybrid   cgroup v1 controllers beside a v2 hierarchy without controllers (older distributions,
//            some containers): the v2 cgroup <own v2>/<scope>/<service> gives cgroup.kill and
//            cgroup.events; limits go to <own v1>/<scope>/<service> of the memory, pids and cpu
//            hierarchies that are mounted.
// Both need a v2 hierarchy with cgroup.kill (Linux >= 5.14) and write access to it (root, or a
// delegated cgroup). The supervisor never joins an instance cgroup: a service's child writes
// "0" to the cgroup.procs descriptors (join_fds) between fork and exec.
//
// Stopping: cgroup.kill (SIGKILL to every process, atomically against forks), then waiting until
// cgroup.events says "populated 0" (poll for POLLPRI).
//
// Not thread-safe; the supervisor's watcher owns every InstanceCgroup. Errors are statuses with
// the path and errno.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "nlsm/launch_policy.h"

namespace sitechain::nlsm {

struct CgroupHost {
  enum class Layout { kUnified, kHybrid } layout = Layout::kUnified;
  std::string unified;  // the v2 directory that holds the instance cgroups
  // Hybrid: the v1 directories that hold the instance cgroups ("" if that hierarchy is absent).
  std::string memory_v1, pids_v1, cpu_v1;
  // The limits this node can enforce.
  bool memory = false, pids = false, cpu = false;

  // Finds the hierarchies (/proc/self/mountinfo, /proc/self/cgroup) and creates <own>/<scope> in
  // each. FAILED_PRECONDITION naming what is missing (no v2 hierarchy, no cgroup.kill, no write
  // access); the I/O status otherwise.
  static Result<CgroupHost> SetUp(std::string_view scope);

  // "cgroup v2 at /sys/fs/cgroup/...: limits memory, pids, cpu" or "cgroup v1+v2 hybrid: ...".
  std::string Describe() const;

  // Kills and removes the instance cgroups a previous run left (a daemon killed with its services
  // running). Their names.
  std::vector<std::string> RemoveLeftovers(std::chrono::milliseconds timeout) const;

  // Removes <own>/<scope> of each hierarchy if it is empty (at shutdown; best effort).
  void RemoveScope() const;

  // FAILED_PRECONDITION naming the first limit this node cannot enforce, else OK.
  Status CanEnforce(const ResourceLimits& limits) const;
};

class InstanceCgroup final {
 public:
  // Creates the cgroup(s) of `service` (killing and removing a leftover of the same name first)
  // and writes the limits. FAILED_PRECONDITION for a limit the host cannot enforce.
  static Result<std::unique_ptr<InstanceCgroup>> Create(const CgroupHost& host,
                                                        const std::string& service,
                                                        const ResourceLimits& limits);
  // Kills what is left and removes the directories.
  ~InstanceCgroup();
  InstanceCgroup(const InstanceCgroup&) = delete;
  InstanceCgroup& operator=(const InstanceCgroup&) = delete;

  // cgroup.procs of each hierarchy, opened for writing (close-on-exec): the child writes "0".
  std::vector<int> join_fds() const;
  const std::string& path() const { return dirs_.front(); }  // the v2 cgroup

  // SIGKILL to every process in it (cgroup.kill); does not wait.
  Status Kill() const;
  // Kill, then wait until it is empty. UNAVAILABLE if it is not within `timeout`.
  Status KillAndWait(std::chrono::milliseconds timeout) const;
  // Whether any process lives in it (cgroup.events); false if it cannot be read.
  bool Populated() const;

 private:
  InstanceCgroup() = default;

  std::vector<std::string> dirs_;  // the v2 cgroup first, then the v1 ones
  std::vector<UniqueFd> procs_;
  UniqueFd events_;  // the v2 cgroup.events
};

}  // namespace sitechain::nlsm
