#pragma once
// What the node reads of a process in /proc: its state and its starttime (field 22 of
// /proc/<pid>/stat, clock ticks since boot). A pid and its starttime together name one process
// for good: the orphan records (orphans.h) store both, so that a recycled pid is never taken for
// the process that was recorded.
//
// Free functions, no state; thread-safe. Failures are statuses: NOT_FOUND for a process that does
// not run, DATA_LOSS for a stat file that cannot be parsed.

#include <sys/types.h>

#include <cstdint>

#include "common/result.h"

namespace sitechain::nlsm {

// The fields of /proc/<pid>/stat that matter here.
struct ProcStat {
  char state = '?';  // R, S, D, Z (zombie), X (dead), ...
  uint64_t start_time = 0;
};

// Reads /proc/<pid>/stat (also of a zombie). NOT_FOUND if there is no such file; DATA_LOSS if it
// is malformed.
Result<ProcStat> ReadProcStat(pid_t pid);

// True for the states of a process that has exited (zombie, dead).
bool IsDeadState(char state);

// The starttime of a live process (field 22 of /proc/<pid>/stat, clock ticks since boot).
// NOT_FOUND if no such process runs (a zombie does not run).
Result<uint64_t> ProcessStartTime(pid_t pid);

}  // namespace sitechain::nlsm
