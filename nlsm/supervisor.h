#pragma once
// Supervisor runs the node's service processes and watches them: it starts a process from the
// very file descriptor whose digest the node verified, captures its output, restarts it after an
// exit as its restart policy says (capped, jittered exponential backoff), gives up on a service
// that keeps crashing, and stops processes with SIGTERM, then SIGKILL after a grace period.
//
//   auto sup = Supervisor::Create(options, clock, rng);
//   LaunchSpec spec{.service = "thermo", .executable_fd = verified_fd, .args = policy.args, ...};
//   if (Status s = sup.value()->Start(spec); !s.ok()) ...   // exec failed, bad spec, ...
//   std::optional<ProcessInfo> info = sup.value()->Info("thermo");
//   sup.value()->Stop("thermo");
//
// It is built of parts, each with its own header (included here, so users include only this one):
//   child_exec.h      LaunchSpec; fork and execveat of the verified descriptor, the child side
//                     and its failure reporting (how a service process is set up, no window
//                     between check and exec)
//   proc_stat.h       reading /proc/<pid>/stat (ProcessStartTime)
//   orphans.h         pid records, and KillOrphans for what a crashed daemon left running
//   restart_policy.h  RestartBackoff, restart policies and crash-loop accounting
//   supervised_service.h  ProcessState, ProcessInfo; the watcher's record of one service
//   cgroups.h         a cgroup per service (with SupervisorOptions::cgroups): every process of
//                     it, limited by its LaunchSpec::limits, killed and waited for as a whole
//
// Time. The injected Clock stamps ProcessInfo::started_at and the exits counted for crash-loop
// detection (so tests can move it); backoff delays, grace periods and the watcher's waits are
// real time (steady clock).
//
// Threads. All forks happen on one watcher thread that the Supervisor owns, because
// PR_SET_PDEATHSIG fires when the *thread* that forked exits: a child forked by a short-lived
// caller thread (a gRPC handler, say) would be killed with it. Start and Stop hand their request
// to the watcher and block until it has been carried out. The watcher waits on the children's
// pidfds (poll) and reaps only its own children (waitpid on their pids, never waitpid(-1)).
// Every public method is thread-safe. Requires Linux >= 5.3 (pidfd_open).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "nlsm/child_exec.h"
#include "nlsm/launch_policy.h"
#include "nlsm/orphans.h"
#include "nlsm/proc_stat.h"
#include "nlsm/restart_policy.h"
#include "nlsm/supervised_service.h"

namespace sitechain::nlsm {

struct SupervisorOptions {
  // Restart backoff: the n-th consecutive restart (n = 1, 2, ...) waits a uniform time in
  // [d/2, d], d = min(max_backoff, initial_backoff * 2^(n-1)). Requires 0 < initial <= max.
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  // A process that ran at least this long before it exited starts the backoff afresh.
  std::chrono::milliseconds backoff_reset_after{60000};
  // A service whose process exits crash_loop_limit times within crash_loop_window (by the
  // injected clock), each time in a way its restart policy answers with a restart, goes to
  // kCrashLoop instead of restarting. Requires limit >= 1 and window > 0.
  int crash_loop_limit = 5;
  std::chrono::milliseconds crash_loop_window{60000};
  // The grace that StopAll uses when the destructor stops everything.
  std::chrono::milliseconds stop_grace{5000};
  // How long Stop waits for a process to be reaped after SIGKILL before it gives up with
  // UNAVAILABLE (a process stuck in the kernel); the supervisor keeps watching it.
  std::chrono::milliseconds kill_timeout{10000};
  // Where pid records go (created 0700 if missing); empty: no records.
  std::string pid_dir;
  // Where each service gets a cgroup of its own (none: services run in the supervisor's). With
  // it, when a service's main process exits (or is stopped), everything left in its cgroup is
  // killed and waited for (up to kill_timeout) before a restart or before Stop returns.
  std::optional<CgroupHost> cgroups;
  // Called on the watcher thread, without any lock held, after each change of a service's
  // state. It must not block and must not call Start, Stop or StopAll (they wait for the
  // watcher); Info and List are fine. It is called until the destructor returns (which reports
  // the final kStopped), so what it uses must outlive the Supervisor.
  std::function<void(const ProcessInfo&)> on_state_change;
};

// The delay before the n-th consecutive restart (n >= 1), as SupervisorOptions describes
// (restart_policy.h).
std::chrono::milliseconds RestartBackoff(const SupervisorOptions& options, int n, Random& rng);

class Supervisor final {
 public:
  // INVALID_ARGUMENT for inconsistent options; an I/O status if pid_dir cannot be created or the
  // watcher cannot be set up. `clock` and `rng` must outlive the Supervisor.
  static Result<std::unique_ptr<Supervisor>> Create(SupervisorOptions options, const Clock& clock,
                                                    Random& rng);

  // Stops every process (StopAll with options.stop_grace) and joins the watcher.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Spawns the service and returns once its executable has been exec'd (kRunning). Errors:
  // INVALID_ARGUMENT for a malformed spec (name, descriptor not a regular file, NUL bytes,
  // '=' in a variable name, empty log paths); ALREADY_EXISTS if the service is starting,
  // running or in backoff (a stopped, exited or crash-looping one is replaced, its counters
  // reset); the status of the failing step otherwise — opening a log file or the working
  // directory, writing the pid record, or exec itself (PERMISSION_DENIED for a file that is not
  // executable, ...); FAILED_PRECONDITION for limits the supervisor cannot enforce (no cgroups,
  // or no such controller), or what spec.check_before_exec returned. A service whose first spawn
  // fails is not kept.
  Status Start(const LaunchSpec& spec);

  // Stops the service for good: SIGTERM to its process group, SIGKILL after `grace` (grace 0:
  // SIGKILL only, at once), then waits until the process has been reaped. A scheduled restart is
  // cancelled. OK also for a service that had no process (it becomes kStopped). NOT_FOUND for an
  // unknown service; UNAVAILABLE if the process was not reaped options.kill_timeout after SIGKILL.
  Status Stop(std::string_view service,
              std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  // Stops every service as Stop does, all at once.
  void StopAll(std::chrono::milliseconds grace);

  // Forgets a service that has no process (stopped, exited, crash-loop). NOT_FOUND for an
  // unknown service, FAILED_PRECONDITION for one that is starting, running or in backoff.
  Status Forget(std::string_view service);

  // Sends `signal` to the service's running process (through its pidfd: never to a process that
  // reused the pid). NOT_FOUND for an unknown service; FAILED_PRECONDITION if no process runs.
  Status Signal(std::string_view service, int signal);

  std::optional<ProcessInfo> Info(std::string_view service) const;
  std::vector<ProcessInfo> List() const;  // by service name

  // Kills the processes recorded in pid_dir by a previous run (orphans.h): SIGTERM to
  // each verified process (and its process group), SIGKILL to those still running after
  // `grace`, then waits up to 5 s for them to die. Records of processes that are gone are
  // removed. A missing pid_dir is not an error. I/O status if pid_dir cannot be read.
  static Result<std::vector<OrphanReport>> KillOrphans(const std::string& pid_dir,
                                                       std::chrono::milliseconds grace);

 private:
  using Service = SupervisedService;
  struct Request;

  Supervisor(SupervisorOptions options, const Clock& clock, Random& rng, UniqueFd wake);

  // Queues a request for the watcher; the future gives its answer.
  std::future<Status> Enqueue(std::unique_ptr<Request> request);
  void Wake() const;

  // The watcher thread and what it does; all of these run on it. "Locked" ones need mu_ held.
  void Run();
  void HandleRequestLocked(std::unique_ptr<Request> request, std::unique_lock<std::mutex>& lock);
  // Checks and forks and execs svc (counting a restart if `restart`); releases mu_ meanwhile.
  Status SpawnLocked(Service& svc, std::unique_lock<std::mutex>& lock, bool restart);
  void BeginStopLocked(Service& svc, std::chrono::milliseconds grace);
  void OnExitLocked(Service& svc, int wait_status);
  void OnSpawnFailedLocked(Service& svc, const Status& why);
  void ScheduleRestartOrGiveUpLocked(Service& svc, const std::string& what);
  void FinishStopLocked(Service& svc, const Status& result);
  // SIGKILL to the service's process group and to its cgroup (no wait).
  void KillAllLocked(Service& svc);
  void RunTimersLocked(std::unique_lock<std::mutex>& lock);
  void NotifyLocked(const Service& svc);

  const SupervisorOptions options_;
  const Clock& clock_;
  Random& rng_;
  const UniqueFd wake_;  // eventfd: written to wake the watcher from poll

  mutable std::mutex mu_;
  // Guarded by mu_. Service objects are created, changed and destroyed only by the watcher
  // thread (under mu_); other threads only read them under mu_.
  std::map<std::string, std::unique_ptr<Service>, std::less<>> services_;
  std::deque<std::unique_ptr<Request>> requests_;  // guarded by mu_
  bool shutting_down_ = false;                     // guarded by mu_
  // Changes to report through options_.on_state_change once mu_ is released (watcher only).
  std::vector<ProcessInfo> pending_notifications_;  // guarded by mu_

  std::thread watcher_;  // last: started once everything above exists
};

}  // namespace sitechain::nlsm
