#pragma once
// Starting one service process: fork, then execveat of the verified descriptor in the child, and
// the child's failure reported back to the parent before SpawnChild returns.
//
// Processes. Each service runs as the leader of its own process group, with stdin /dev/null,
// stdout and stderr appended to its log files (created 0600) and no other descriptor; its
// environment is exactly LaunchSpec::env plus PATH=/usr/bin:/bin (unless env sets PATH): nothing
// of the daemon's environment leaks in. Signal dispositions and the signal mask are reset to the
// defaults. The process gets SIGTERM (PR_SET_PDEATHSIG) if the supervisor dies. When the leader
// exits, whatever is left of its process group is killed (SIGKILL), so a restart never runs
// beside remnants of the previous run; with cgroups (cgroups.h) the whole cgroup is, which a
// process that left its group (setsid) cannot escape.
//
// Isolation (LaunchSpec::user and the sandbox; needs root): the child joins its cgroups, then
// optionally enters a private mount namespace (its own /tmp, into which a working directory that
// lies under /tmp is moved; / read-only but writable_dir), drops every capability from its
// bounding set, takes the service's gid with no supplementary groups and its uid (which clears
// its capabilities), and sets no_new_privs. no_new_privs is set for
// every service, isolated or not: nothing it execs can gain privileges (setuid binaries).
//
// No window between check and exec: the executable is run with execveat(fd, "", AT_EMPTY_PATH)
// on a dup() of the caller's descriptor, kept for restarts, so replacing or unlinking the file
// at its path changes nothing. The descriptor is close-on-exec, so an interpreter script (#!)
// cannot be run this way (the interpreter would have to reopen it by name); the exec fails with
// NOT_FOUND. Services are compiled executables.
//
// The child side runs only async-signal-safe calls on data prepared before fork. A step that
// fails there (setpgid, prctl, chdir, dup2, exec) writes its errno down a close-on-exec pipe;
// the parent reads it and returns it as a status (exec closing the pipe means success).
//
// Threads: SpawnChild forks from the calling thread, and PR_SET_PDEATHSIG fires when that
// *thread* exits: call it from a thread that lives as long as the child should (the supervisor's
// watcher). It blocks every signal in the child until just before exec. Stateless; the caller
// owns the returned pidfd and reaps the child.

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "nlsm/launch_policy.h"
#include "nlsm/service_users.h"

namespace sitechain::nlsm {

// What a Supervisor is asked to run.
struct LaunchSpec {
  // Names the service in Info/List and its pid record: [a-z0-9][a-z0-9._-]*, at most 63 bytes.
  // It is also argv[0] of the process.
  std::string service;
  // An open descriptor of the verified executable (a regular file). Borrowed: the supervisor
  // keeps its own dup() for restarts, so the caller may close it when Start returns.
  int executable_fd = -1;
  std::vector<std::string> args;           // argv[1..]
  std::map<std::string, std::string> env;  // the whole environment (plus PATH, see above)
  std::string working_dir = "/";           // the process's working directory
  std::string stdout_path;                 // appended to; created 0600; not a symlink
  std::string stderr_path;                 // may equal stdout_path
  RestartPolicy restart = RestartPolicy::kOnFailure;

  // Isolation; the defaults are how an unprivileged node runs a service.
  std::optional<ServiceUser> user;  // run as this uid and gid (the caller must be root)
  ResourceLimits limits;            // enforced by the supervisor's cgroups
  bool private_tmp = false;         // a private mount namespace with its own /tmp
  bool read_only_root = false;      // ... and / read-only, but writable_dir
  std::string writable_dir;         // required with read_only_root
  // Called by the supervisor before every exec, the first and each restart, with the descriptor
  // about to be exec'd (the node checks its digest again). A failure is final: the service is
  // not started, or not restarted (kExited, the detail says why).
  std::function<Status(int executable_fd)> check_before_exec;
};

// A LaunchSpec as exec gets it, kept by the supervisor for every (re)start of the service.
struct ChildSpec {
  std::string name;               // the service
  UniqueFd exe;                   // dup of the verified descriptor, close-on-exec
  std::vector<std::string> argv;  // argv[0] = name
  std::vector<std::string> envp;  // "K=V", sorted, with PATH
  std::string working_dir, stdout_path, stderr_path;
  std::optional<ServiceUser> user;
  bool private_tmp = false, read_only_root = false;
  std::string writable_dir;
  std::function<Status(int)> check_before_exec;
};

// Checks `spec` and prepares what exec gets: INVALID_ARGUMENT for a malformed spec (name,
// descriptor not a regular file, NUL bytes, '=' in a variable name, empty log paths); the errno's
// status if the descriptor cannot be duplicated.
Result<ChildSpec> PrepareChild(const LaunchSpec& spec);

struct SpawnedChild {
  pid_t pid = 0;
  UniqueFd pidfd;  // pidfd_open of the child: readable when it exits
};

// Forks and execs `spec`, and returns once the child has exec'd; the child first writes "0" to
// each of `join_fds` (the cgroup.procs of its cgroups). With pid_dir non-empty, the
// child's pid record (orphans.h) is written before the exec is confirmed, so that a daemon killed
// from then on leaves a record behind. Errors: the status of opening a log file or the working
// directory, of pipe, fork, pidfd_open or the pid record, or of the child's failing step
// (INVALID_ARGUMENT for a file that is no executable format, the errno's status otherwise). On
// any error no child is left: it is killed and reaped, its record removed.
Result<SpawnedChild> SpawnChild(const ChildSpec& spec, const std::string& pid_dir,
                                const std::vector<int>& join_fds = {});

// "exit code 3", "killed by SIGSEGV".
std::string DescribeWaitStatus(int status);

// Signals a process group, or the process alone if it leads no group.
void KillGroup(pid_t pid, int sig);

}  // namespace sitechain::nlsm
