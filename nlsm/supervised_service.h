#pragma once
// The state of a supervised service: the public ProcessState and ProcessInfo, and the record the
// supervisor's watcher keeps of each service (SupervisedService), with the snapshot it shows.
//
// SupervisedService is the Supervisor's own type (supervisor.h includes this header for the
// public ones): each record is owned by the Supervisor, created, changed and destroyed only by
// its watcher thread under its lock, and read by other threads under that lock. Not thread-safe
// by itself. No errors: these are plain records.

#include <sys/types.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "nlsm/cgroups.h"
#include "nlsm/child_exec.h"
#include "nlsm/launch_policy.h"
#include "nlsm/restart_policy.h"

namespace sitechain::nlsm {

using SteadyTime = std::chrono::steady_clock::time_point;

// The life of a supervised service.
enum class ProcessState {
  kStarting,   // being forked and exec'd
  kRunning,    // a process runs (also while Stop waits for it to exit; see detail)
  kBackoff,    // exited; a restart is scheduled (ProcessInfo::restart_at)
  kExited,     // exited; the restart policy does not restart it
  kCrashLoop,  // crashed too often (SupervisorOptions::crash_loop_*); not restarted any more
  kStopped,    // stopped by Stop, StopAll or the destructor
};

// "starting", "running", "backoff", "exited", "crash-loop", "stopped".
std::string_view ProcessStateName(ProcessState state);

// A snapshot of one service.
struct ProcessInfo {
  std::string service;
  ProcessState state = ProcessState::kStarting;
  pid_t pid = 0;                        // the running process, 0 if none
  int restarts = 0;                     // restarts since Start (the first spawn is not one)
  std::optional<int> last_exit_code;    // of the last exit, if it exited normally
  std::optional<int> last_exit_signal;  // of the last exit, if a signal ended it
  TimePoint started_at{};               // when the current (or last) process was spawned
  std::optional<TimePoint> restart_at;  // in kBackoff: when the restart is due
  std::string detail;                   // for a person: "exit code 3; restart 2 in 1.4 s"
  std::string cgroup;                   // its v2 cgroup, "" without cgroups
};

// "1.4 s": a duration for a person, to a tenth of a second.
std::string Seconds1(std::chrono::milliseconds d);

struct SupervisedService {
  // Fixed at Start.
  std::string name;
  ChildSpec child;  // what exec gets, for every (re)start
  RestartPolicy restart = RestartPolicy::kOnFailure;
  ResourceLimits limits;
  std::unique_ptr<InstanceCgroup> cgroup;  // with the supervisor's cgroups: made at Start

  // Changed by the watcher only, under the supervisor's lock.
  ProcessState state = ProcessState::kStarting;
  pid_t pid = 0;
  UniqueFd pidfd;
  int restarts = 0;
  RestartRecord restart_record;  // backoff series and exits counted for crash loops
  std::optional<int> last_exit_code;
  std::optional<int> last_exit_signal;
  std::string last_exit;  // "exit code 3", "restart failed: ...", "" before any exit
  TimePoint started_at{};
  SteadyTime started_steady{};
  SteadyTime restart_at{};      // kBackoff
  TimePoint restart_at_wall{};  // kBackoff, by the injected clock
  bool stopping = false;        // Stop sent SIGTERM; not restarted
  bool killed = false;          // ... and then SIGKILL
  bool refused = false;         // check_before_exec failed: never spawned again
  SteadyTime kill_at{};         // stopping && !killed: when SIGKILL is due
  SteadyTime give_up_at{};      // killed: when Stop's waiters stop waiting
  std::vector<std::promise<Status>> stop_waiters;
  std::string detail;  // for terminal states

  // Starting, running or in backoff.
  bool Active() const;
  // The snapshot Info and List return (detail: for a person, "restart 2 in 1.4 s", ...).
  ProcessInfo Info() const;
};

}  // namespace sitechain::nlsm
