#include "nlsm/child_exec.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
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
#include <cstdlib>
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

enum class ChildStep : int {
  kSetpgid = 1,
  kDeathSignal,
  kChdir,
  kStdio,
  kExec,
  kCgroup,
  kMountNamespace,
  kPrivateTmp,
  kReadOnlyRoot,
  kCapabilities,
  kUser,
  kNoNewPrivs,
};

struct ChildFailure {
  int step;
  int err;
};

[[noreturn]] void ChildFail(int report, ChildStep step) {
  const ChildFailure f{static_cast<int>(step), errno};
  ssize_t ignored = ::write(report, &f, sizeof f);
  (void)ignored;
  ::_exit(127);
}

struct ChildPlan {
  int devnull, out, err, cwd, exe, report;
  char* const* argv;
  char* const* envp;
  int max_fd;  // for marking descriptors close-on-exec without close_range
  pid_t parent;
  const int* join_fds;
  size_t join_count;
  const char* working_dir;   // chdir by path in a new mount namespace (cwd is the old one's)
  const char* writable_dir;  // with read_only_root
  bool private_tmp, read_only_root;
  // A working directory under /tmp (a test's, a developer's) stays visible under the private
  // /tmp: moved there, after its parents are made in the fresh tmpfs (these, shortest first).
  const char* const* tmp_parents;
  size_t tmp_parent_count;
  bool keep_working_dir;
  bool set_user;
  uid_t uid;
  gid_t gid;
  int cap_last;  // /proc/sys/kernel/cap_last_cap
};

// The mount namespace of the sandbox: private propagation, a fresh /tmp, / read-only but the
// writable directory (and /tmp).
void EnterSandbox(const ChildPlan& p) {
  if (::unshare(CLONE_NEWNS) != 0) ChildFail(p.report, ChildStep::kMountNamespace);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    ChildFail(p.report, ChildStep::kMountNamespace);
  }
  if (p.private_tmp) {
    int kept = -1;
    if (p.keep_working_dir) {
      kept =
          ::open_tree(AT_FDCWD, p.working_dir, OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
      if (kept < 0) ChildFail(p.report, ChildStep::kPrivateTmp);
    }
    if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      ChildFail(p.report, ChildStep::kPrivateTmp);
    }
    if (kept >= 0) {
      for (size_t i = 0; i < p.tmp_parent_count; ++i) {
        if (::mkdir(p.tmp_parents[i], 0711) != 0 && errno != EEXIST) {
          ChildFail(p.report, ChildStep::kPrivateTmp);
        }
      }
      if (::move_mount(kept, "", AT_FDCWD, p.working_dir, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        ChildFail(p.report, ChildStep::kPrivateTmp);
      }
    }
  }
  if (!p.read_only_root) return;
  // The writable directory becomes a mount of its own, so that it can stay writable.
  if (::mount(p.writable_dir, p.writable_dir, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    ChildFail(p.report, ChildStep::kReadOnlyRoot);
  }
  struct mount_attr ro {};
  ro.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) != 0) {
    ChildFail(p.report, ChildStep::kReadOnlyRoot);
  }
  struct mount_attr rw {};
  rw.attr_clr = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(AT_FDCWD, p.writable_dir, AT_RECURSIVE, &rw, sizeof rw) != 0 ||
      (p.private_tmp && ::mount_setattr(AT_FDCWD, "/tmp", AT_RECURSIVE, &rw, sizeof rw) != 0)) {
    ChildFail(p.report, ChildStep::kReadOnlyRoot);
  }
}

// The service's own uid and gid, no supplementary group, no capability left anywhere.
void BecomeServiceUser(const ChildPlan& p) {
  for (int cap = 0; cap <= p.cap_last; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      ChildFail(p.report, ChildStep::kCapabilities);
    }
  }
  if (::setgroups(0, nullptr) != 0 || ::setresgid(p.gid, p.gid, p.gid) != 0 ||
      ::setresuid(p.uid, p.uid, p.uid) != 0) {
    ChildFail(p.report, ChildStep::kUser);
  }
}

[[noreturn]] void ExecChild(const ChildPlan& p) {
  // The watcher blocks every signal, so no handler of the daemon runs here; give the service
  // default dispositions (an ignored SIGPIPE or SIGTERM would otherwise be inherited).
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  if (::setpgid(0, 0) != 0) ChildFail(p.report, ChildStep::kSetpgid);
  for (size_t i = 0; i < p.join_count; ++i) {
    if (::write(p.join_fds[i], "0", 1) != 1) ChildFail(p.report, ChildStep::kCgroup);
  }
  const bool sandbox = p.private_tmp || p.read_only_root;
  if (sandbox) EnterSandbox(p);
  if ((sandbox ? ::chdir(p.working_dir) : ::fchdir(p.cwd)) != 0) {
    ChildFail(p.report, ChildStep::kChdir);
  }
  if (::dup2(p.devnull, 0) < 0 || ::dup2(p.out, 1) < 0 || ::dup2(p.err, 2) < 0) {
    ChildFail(p.report, ChildStep::kStdio);
  }
  if (p.set_user) BecomeServiceUser(p);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(p.report, ChildStep::kNoNewPrivs);
  // After the change of user, which clears the death signal.
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) ChildFail(p.report, ChildStep::kDeathSignal);
  if (::getppid() != p.parent) ::_exit(126);  // the supervisor died before prctl
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
    case ChildStep::kCgroup:
      what = "joining its cgroup";
      break;
    case ChildStep::kMountNamespace:
      what = "unshare of its mount namespace";
      break;
    case ChildStep::kPrivateTmp:
      what = "mounting its private /tmp";
      break;
    case ChildStep::kReadOnlyRoot:
      what = "making / read-only";
      break;
    case ChildStep::kCapabilities:
      what = "dropping capabilities";
      break;
    case ChildStep::kUser:
      what = "setting its user";
      break;
    case ChildStep::kNoNewPrivs:
      what = "prctl(PR_SET_NO_NEW_PRIVS)";
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

// The highest capability number this kernel knows (63 if it cannot be read: dropping unknown
// ones fails with EINVAL, which is ignored).
int CapLastCap() {
  auto text = ReadSmallFile("/proc/sys/kernel/cap_last_cap", 64);
  if (!text.ok()) return 63;
  const int n = std::atoi(text->c_str());
  return n > 0 && n < 64 ? n : 63;
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
  if (spec.read_only_root && (spec.writable_dir.empty() || HasNul(spec.writable_dir))) {
    return InvalidArgument("service " + name + ": read_only_root needs a writable directory");
  }
  if (spec.user && (spec.user->uid == 0 || spec.user->gid == 0)) {
    return InvalidArgument("service " + name + ": a service user may not be root");
  }
  child.working_dir = spec.working_dir;
  child.stdout_path = spec.stdout_path;
  child.stderr_path = spec.stderr_path;
  child.user = spec.user;
  child.private_tmp = spec.private_tmp;
  child.read_only_root = spec.read_only_root;
  child.writable_dir = spec.writable_dir;
  child.check_before_exec = spec.check_before_exec;
  const int exe = ::fcntl(spec.executable_fd, F_DUPFD_CLOEXEC, 3);
  if (exe < 0) return ErrnoStatus("cannot duplicate the executable descriptor of", name, errno);
  child.exe = UniqueFd(exe);
  return child;
}

Result<SpawnedChild> SpawnChild(const ChildSpec& spec, const std::string& pid_dir,
                                const std::vector<int>& join_fds) {
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
  ChildPlan plan{};
  plan.devnull = devnull.get();
  plan.out = out.get();
  plan.err = err.get();
  plan.cwd = cwd.get();
  plan.exe = spec.exe.get();
  plan.report = report.get();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.max_fd = max_fd;
  plan.parent = ::getpid();
  plan.join_fds = join_fds.data();
  plan.join_count = join_fds.size();
  plan.working_dir = spec.working_dir.c_str();
  plan.writable_dir = spec.writable_dir.c_str();
  plan.private_tmp = spec.private_tmp;
  plan.read_only_root = spec.read_only_root;
  plan.set_user = spec.user.has_value();
  plan.uid = spec.user ? spec.user->uid : 0;
  plan.gid = spec.user ? spec.user->gid : 0;
  plan.cap_last = CapLastCap();
  std::vector<std::string> tmp_parents;
  std::vector<const char*> tmp_parent_ptrs;
  if (spec.private_tmp && spec.working_dir.rfind("/tmp/", 0) == 0) {
    for (size_t slash = spec.working_dir.find('/', 5); slash != std::string::npos;
         slash = spec.working_dir.find('/', slash + 1)) {
      tmp_parents.push_back(spec.working_dir.substr(0, slash));
    }
    tmp_parents.push_back(spec.working_dir);
    for (const auto& t : tmp_parents) tmp_parent_ptrs.push_back(t.c_str());
    plan.tmp_parents = tmp_parent_ptrs.data();
    plan.tmp_parent_count = tmp_parent_ptrs.size();
    plan.keep_working_dir = true;
  }
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
