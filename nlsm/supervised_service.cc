#include "nlsm/supervised_service.h"

#include <algorithm>
#include <cstdio>

namespace sitechain::nlsm {

using std::chrono::milliseconds;

namespace {

SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }

}  // namespace

std::string_view ProcessStateName(ProcessState state) {
  switch (state) {
    case ProcessState::kStarting:
      return "starting";
    case ProcessState::kRunning:
      return "running";
    case ProcessState::kBackoff:
      return "backoff";
    case ProcessState::kExited:
      return "exited";
    case ProcessState::kCrashLoop:
      return "crash-loop";
    case ProcessState::kStopped:
      return "stopped";
  }
  return "?";
}

std::string Seconds1(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

bool SupervisedService::Active() const {
  return state == ProcessState::kStarting || state == ProcessState::kRunning ||
         state == ProcessState::kBackoff;
}

ProcessInfo SupervisedService::Info() const {
  const SupervisedService& svc = *this;
  ProcessInfo info;
  info.service = svc.name;
  info.state = svc.state;
  info.pid = svc.pid;
  info.restarts = svc.restarts;
  info.last_exit_code = svc.last_exit_code;
  info.last_exit_signal = svc.last_exit_signal;
  info.started_at = svc.started_at;
  if (svc.cgroup) info.cgroup = svc.cgroup->path();
  const auto remaining = [](SteadyTime t) {
    return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(t - SteadyNow()));
  };
  switch (svc.state) {
    case ProcessState::kStarting:
      info.detail = svc.restarts > 0 || !svc.last_exit.empty() ? "restarting" : "starting";
      break;
    case ProcessState::kRunning:
      if (svc.stopping) {
        info.detail =
            svc.killed ? "stopping: SIGKILL sent"
                       : "stopping: SIGTERM sent, SIGKILL in " + Seconds1(remaining(svc.kill_at));
      } else {
        info.detail = svc.last_exit.empty() ? "running"
                                            : "running; restart " + std::to_string(svc.restarts) +
                                                  " after " + svc.last_exit;
      }
      break;
    case ProcessState::kBackoff:
      info.restart_at = svc.restart_at_wall;
      info.detail = svc.last_exit + "; restart " + std::to_string(svc.restarts + 1) + " in " +
                    Seconds1(remaining(svc.restart_at));
      break;
    case ProcessState::kExited:
    case ProcessState::kCrashLoop:
    case ProcessState::kStopped:
      info.detail = svc.detail;
      break;
  }
  return info;
}

}  // namespace sitechain::nlsm
