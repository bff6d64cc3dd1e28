#include "nlsm/orphans.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>
// glibc 2.36's <sys/pidfd.h> lacks __BEGIN_DECLS: without this, C++ looks for mangled names.
extern "C" {
#include <sys/pidfd.h>
}

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <utility>

#include "common/files.h"
#include "common/unique_fd.h"
#include "nlsm/proc_stat.h"

namespace sitechain::nlsm {

using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr milliseconds kOrphanKillWait{5000};

SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }

}  // namespace

std::string PidRecordPath(const std::string& dir, std::string_view service) {
  return dir + "/" + std::string(service) + ".pid";
}

Status WritePidRecord(const std::string& dir, std::string_view service, pid_t pid) {
  SITECHAIN_ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  Status s =
      WriteFileAtomic(PidRecordPath(dir, service),
                      std::to_string(pid) + " " + std::to_string(stat.start_time) + "\n", 0600);
  if (!s.ok()) return s.WithContext("cannot record the pid of " + std::string(service));
  return Status::Ok();
}

void RemovePidRecord(const std::string& dir, std::string_view service) {
  if (!dir.empty()) ::unlink(PidRecordPath(dir, service).c_str());
}

Result<std::vector<OrphanReport>> KillOrphans(const std::string& pid_dir, milliseconds grace) {
  namespace fs = std::filesystem;
  std::vector<OrphanReport> reports;
  std::error_code ec;
  if (!fs::exists(pid_dir, ec)) return reports;
  struct Target {
    size_t report;  // index into reports
    UniqueFd pidfd;
    std::string record;
    bool gone = false;
  };
  std::vector<Target> targets;
  fs::directory_iterator it(pid_dir, ec);
  if (ec) return ErrnoStatus("cannot read pid records in", pid_dir, ec.value());
  std::vector<fs::path> records;
  for (const auto& entry : it) {
    const std::string file = entry.path().filename().string();
    if (file.starts_with(".") || !file.ends_with(".pid")) continue;  // temporaries of a write
    records.push_back(entry.path());
  }
  std::sort(records.begin(), records.end());
  for (const auto& path : records) {
    OrphanReport report;
    report.service = path.stem().string();
    const std::string record = path.string();
    auto text = ReadSmallFile(record, 64);
    pid_t pid = 0;
    uint64_t start_time = 0;
    bool parsed = false;
    if (text.ok()) {
      std::string_view t = *text;
      const size_t space = t.find(' ');
      if (space != std::string_view::npos && t.ends_with('\n')) {
        std::string_view a = t.substr(0, space), b = t.substr(space + 1, t.size() - space - 2);
        parsed =
            std::from_chars(a.data(), a.data() + a.size(), pid).ptr == a.data() + a.size() &&
            std::from_chars(b.data(), b.data() + b.size(), start_time).ptr == b.data() + b.size() &&
            !a.empty() && !b.empty() && pid > 1;
      }
    }
    if (!parsed) {
      report.outcome = "malformed record";
      ::unlink(record.c_str());
      reports.push_back(std::move(report));
      continue;
    }
    report.pid = pid;
    // The pidfd pins the process we check, so the signals below go to it and to no other
    // process that might get its number later.
    UniqueFd pidfd(::pidfd_open(pid, 0));
    auto now_start = pidfd.valid() ? ProcessStartTime(pid) : Result<uint64_t>(NotFound(""));
    if (!now_start.ok()) {
      report.outcome = "not running";
    } else if (*now_start != start_time) {
      report.outcome = "pid reused by another process";
    } else {
      ::pidfd_send_signal(pidfd.get(), SIGTERM, nullptr, 0);
      if (::getpgid(pid) == pid) ::kill(-pid, SIGTERM);
      targets.push_back({reports.size(), std::move(pidfd), record});
      reports.push_back(std::move(report));
      continue;
    }
    ::unlink(record.c_str());
    reports.push_back(std::move(report));
  }

  // Waits until every target has exited or `deadline` passes.
  const auto wait_all = [&targets](milliseconds within) {
    const SteadyTime deadline = SteadyNow() + within;
    while (true) {
      std::vector<pollfd> fds;
      std::vector<Target*> open;
      for (auto& t : targets) {
        if (!t.gone) {
          fds.push_back({t.pidfd.get(), POLLIN, 0});
          open.push_back(&t);
        }
      }
      if (fds.empty()) return;
      const auto left = std::chrono::ceil<milliseconds>(deadline - SteadyNow());
      if (left <= milliseconds(0)) return;
      if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) {
        return;
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents != 0) open[i]->gone = true;
      }
    }
  };
  wait_all(grace);
  for (auto& t : targets) {
    if (t.gone) {
      reports[t.report].outcome = "killed by SIGTERM";
    } else {
      ::pidfd_send_signal(t.pidfd.get(), SIGKILL, nullptr, 0);
      const pid_t pid = reports[t.report].pid;
      if (::getpgid(pid) == pid) ::kill(-pid, SIGKILL);
    }
  }
  wait_all(kOrphanKillWait);
  for (auto& t : targets) {
    OrphanReport& r = reports[t.report];
    if (!r.outcome.empty()) {
      // killed by SIGTERM
    } else if (t.gone) {
      r.outcome = "killed by SIGKILL";
    } else {
      r.outcome = "still running after SIGKILL";
      r.still_running = true;
      continue;  // keep the record
    }
    ::unlink(t.record.c_str());
  }
  return reports;
}

}  // namespace sitechain::nlsm
