#include "nlsm/child_exec.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
// glibc 2.36's <sys/pidfd.h> lacks __BEGIN_DECLS: without this, C++ looks for mangled names.
extern "C" {
#include <sys/pidfd.h>
}

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/files.h"
#include "nlsm/orphans.h"

namespace sitechain::nlsm {
namespace {

constexpr std::string_view kDefaultPath = "PATH=/usr/bin:/bin";

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// [a-z0-9][a-z0-9._-]*, at most 63 bytes: the serviceRelease name rule, safe as a file name.
bool ValidServiceName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

// Moves a descriptor to a number >= 3 (close-on-exec), so that the child's dup2 onto 0, 1 and 2
// can never overwrite it.
Result<UniqueFd> AboveStdio(UniqueFd fd, const std::string& what) {
  if (fd.get() >= 3) return fd;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return ErrnoStatus("cannot duplicate", what, errno);
  return UniqueFd(moved);
}

Result<UniqueFd> OpenFd(const std::string& path, int flags, mode_t mode, const std::string& what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("cannot open " + what, path, errno);
  return AboveStdio(UniqueFd(fd), path);
}

// ---- The child side of fork: async-signal-safe calls only, on prepared data. ----

enum class ChildStep : int { kSetpgid = 1, kDeathSignal, kChdir, kStdio, kExec };

struct ChildFailure {
  int step;
  int err;
};

struct ChildPlan {
  int devnull, out, err, cwd, exe, report;
  char* const* argv;
  char* const* envp;
  int max_fd;  // for marking descriptors close-on-exec without close_range
  pid_t parent;
};

[[noreturn]] void ChildFail(int report, ChildStep step) {
  const ChildFailure f{static_cast<int>(step), errno};
  ssize_t ignored = ::write(report, &f, sizeof f);
  (void)ignored;
  ::_exit(127);
}

[[noreturn]] void ExecChild(const ChildPlan& p) {
  // The watcher blocks every signal, so no handler of the daemon runs here; give the service
  // default dispositions (an ignored SIGPIPE or SIGTERM would otherwise be inherited).
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  if (::setpgid(0, 0) != 0) ChildFail(p.report, ChildStep::kSetpgid);
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) ChildFail(p.report, ChildStep::kDeathSignal);
  if (::getppid() != p.parent) ::_exit(126);  // the supervisor died before prctl
  if (::fchdir(p.cwd) != 0) ChildFail(p.report, ChildStep::kChdir);
  if (::dup2(p.devnull, 0) < 0 || ::dup2(p.out, 1) < 0 || ::dup2(p.err, 2) < 0) {
    ChildFail(p.report, ChildStep::kStdio);
  }
  // Everything above 2 closes at exec (the report pipe too, which tells the parent exec worked).
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < p.max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execveat(p.exe, "", p.argv, p.envp, AT_EMPTY_PATH);
  ChildFail(p.report, ChildStep::kExec);
}

Status ChildFailureStatus(const std::string& service, const ChildFailure& f) {
  std::string what;
  switch (static_cast<ChildStep>(f.step)) {
    case ChildStep::kSetpgid:
      what = "setpgid";
      break;
    case ChildStep::kDeathSignal:
      what = "prctl(PR_SET_PDEATHSIG)";
      break;
    case ChildStep::kChdir:
      what = "chdir";
      break;
    case ChildStep::kStdio:
      what = "dup2 of stdio";
      break;
    case ChildStep::kExec:
      if (f.err == ENOEXEC) {
        return InvalidArgument("cannot exec service " + service +
                               ": the file is not an executable format this node can run");
      }
      what = "exec";
      break;
  }
  return ErrnoStatus("cannot start service " + service + ":", what, f.err);
}

}  // namespace

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by " + SignalName(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

void KillGroup(pid_t pid, int sig) {
  if (::kill(-pid, sig) != 0 && errno == ESRCH) ::kill(pid, sig);
}

Result<ChildSpec> PrepareChild(const LaunchSpec& spec) {
  if (!ValidServiceName(spec.service)) {
    return InvalidArgument("service name \"" + spec.service +
                           "\" must match [a-z0-9][a-z0-9._-]* (at most 63 bytes)");
  }
  const std::string& name = spec.service;
  struct stat st;
  if (spec.executable_fd < 0 || ::fstat(spec.executable_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument("service " + name +
                           ": the executable descriptor is not an open "
                           "regular file");
  }
  ChildSpec child;
  child.name = name;
  child.argv.push_back(name);
  for (const auto& a : spec.args) {
    if (HasNul(a)) return InvalidArgument("service " + name + ": an argument contains NUL");
    child.argv.push_back(a);
  }
  bool has_path = false;
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos || HasNul(k) || HasNul(v)) {
      return InvalidArgument("service " + name + ": environment variable \"" + k +
                             "\" has an empty name, '=' in its name, or a NUL");
    }
    has_path = has_path || k == "PATH";
    child.envp.push_back(k + "=" + v);
  }
  if (!has_path) child.envp.emplace_back(kDefaultPath);
  std::sort(child.envp.begin(), child.envp.end());
  for (const auto* p : {&spec.working_dir, &spec.stdout_path, &spec.stderr_path}) {
    if (p->empty() || HasNul(*p)) {
      return InvalidArgument("service " + name +
                             ": working directory and log paths must be non-empty, without NUL");
    }
  }
  child.working_dir = spec.working_dir;
  child.stdout_path = spec.stdout_path;
  child.stderr_path = spec.stderr_path;
  const int exe = ::fcntl(spec.executable_fd, F_DUPFD_CLOEXEC, 3);
  if (exe < 0) return ErrnoStatus("cannot duplicate the executable descriptor of", name, errno);
  child.exe = UniqueFd(exe);
  return child;
}

Result<SpawnedChild> SpawnChild(const ChildSpec& spec, const std::string& pid_dir) {
  SITECHAIN_ASSIGN_OR_RETURN(UniqueFd devnull,
                             OpenFd("/dev/null", O_RDONLY, 0, "stdin of " + spec.name));
  const int log_flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW;
  SITECHAIN_ASSIGN_OR_RETURN(
      UniqueFd out, OpenFd(spec.stdout_path, log_flags, 0600, "stdout log of " + spec.name));
  SITECHAIN_ASSIGN_OR_RETURN(
      UniqueFd err, OpenFd(spec.stderr_path, log_flags, 0600, "stderr log of " + spec.name));
  SITECHAIN_ASSIGN_OR_RETURN(UniqueFd cwd, OpenFd(spec.working_dir, O_PATH | O_DIRECTORY, 0,
                                                  "working directory of " + spec.name));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus("cannot create", "pipe", errno);
  UniqueFd report_read(pipe_fds[0]);
  SITECHAIN_ASSIGN_OR_RETURN(UniqueFd report, AboveStdio(UniqueFd(pipe_fds[1]), "pipe"));

  // execve does not write through these pointers; the strings outlive the exec.
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.envp) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  rlimit nofile{};
  const int max_fd = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536
                         ? static_cast<int>(nofile.rlim_cur)
                         : 65536;
  const ChildPlan plan{devnull.get(), out.get(),   err.get(),   cwd.get(), spec.exe.get(),
                       report.get(),  argv.data(), envp.data(), max_fd,    ::getpid()};
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("cannot fork for service", spec.name, errno);
  if (pid == 0) ExecChild(plan);
  report = UniqueFd();  // the child holds the write end until it execs
  ::setpgid(pid, pid);  // also here, so that a Stop right away finds the group (EACCES after exec)

  const auto abandon = [pid](Status why) -> Result<SpawnedChild> {
    ::kill(pid, SIGKILL);
    int ignored;
    ::waitpid(pid, &ignored, 0);
    return why;
  };
  const int pidfd = ::pidfd_open(pid, 0);
  if (pidfd < 0) return abandon(ErrnoStatus("cannot watch service", spec.name, errno));
  SpawnedChild spawned{pid, UniqueFd(pidfd)};
  if (!pid_dir.empty()) {
    // Recorded before exec, so that a daemon killed from here on leaves a record behind.
    // The child is ours and not reaped, so its stat is there even if it already exited.
    if (Status s = WritePidRecord(pid_dir, spec.name, pid); !s.ok()) return abandon(s);
  }
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return spawned;  // exec closed the pipe
  RemovePidRecord(pid_dir, spec.name);
  Status why = n == static_cast<ssize_t>(sizeof failure)
                   ? ChildFailureStatus(spec.name, failure)
                   : Internal("service " + spec.name + ": no report from the child");
  return abandon(why);
}

}  // namespace sitechain::nlsm
