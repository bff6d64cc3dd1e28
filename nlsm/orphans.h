#pragma once
// Pid records, and the orphans of a daemon that died without stopping its services.
//
// With SupervisorOptions::pid_dir set, each spawn records "<pid> <starttime>\n" (the starttime
// field of /proc/<pid>/stat, proc_stat.h) in <pid_dir>/<service>.pid, written to a temporary file
// and renamed; the record is removed when the process is reaped. After a crash of the daemon
// (kill -9), KillOrphans() at the next start kills what the records name, and only if the pid
// still runs with the recorded starttime, so a recycled pid is never killed.
//
// Free functions, no state of their own (the records are the state). The record functions are
// called by the supervisor's watcher thread; KillOrphans runs before a supervisor starts. Errors
// are statuses (I/O of the records).

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sitechain::nlsm {

// <dir>/<service>.pid.
std::string PidRecordPath(const std::string& dir, std::string_view service);

// Records the pid and starttime of the (not yet reaped) child `pid` of `service` in dir. The
// status of reading its /proc stat, or of the write ("cannot record the pid of <service>").
Status WritePidRecord(const std::string& dir, std::string_view service, pid_t pid);

// Removes the record of `service`; nothing if dir is empty or there is no record.
void RemovePidRecord(const std::string& dir, std::string_view service);

// What KillOrphans did with one pid record.
struct OrphanReport {
  std::string service;  // the record's file name without ".pid"
  pid_t pid = 0;        // 0 if the record was malformed
  // "killed by SIGTERM", "killed by SIGKILL", "not running", "pid reused by another process",
  // "malformed record", "still running after SIGKILL".
  std::string outcome;
  bool still_running = false;  // the process could not be killed; its record is kept
};

// Kills the processes recorded in pid_dir by a previous run (see above): SIGTERM to each verified
// process (and its process group), SIGKILL to those still running after `grace`, then waits up
// to 5 s for them to die. Records of processes that are gone are removed. A missing pid_dir is
// not an error. I/O status if pid_dir cannot be read. (Supervisor::KillOrphans calls this.)
Result<std::vector<OrphanReport>> KillOrphans(const std::string& pid_dir,
                                              std::chrono::milliseconds grace);

}  // namespace sitechain::nlsm
