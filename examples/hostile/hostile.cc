// hostile: a deliberately hostile service for the node manager's isolation tests
// (tests/integration/isolation_test.cc). It tries what a compromised service would — read other
// services' keys, rewrite its own package, signal or trace other processes, fork bomb, eat memory,
// escape its process group — and prints what it got, so that a test can assert the refusals.
//
//   hostile MODE [ARGS...]
//
//   read FILE...     open and read each FILE whole: "RESULT read:FILE ok <bytes>"
//   write-exe        print "exe <path of /proc/self/exe>", then try chmod 0777 on it (the mode is
//                    put back if that worked) and open it and /proc/self/exe for writing (nothing
//                    is written; a running executable is refused ETXTBSY whatever the isolation):
//                    RESULT chmod-exe, RESULT open-exe-for-write, RESULT open-proc-exe-for-write
//   signal PID       kill(PID, SIGKILL), then PTRACE_ATTACH (detached again at once if it worked):
//                    RESULT kill:PID, RESULT ptrace:PID
//   forkbomb         "ready", then every process forks forever (children sleep 10 ms between
//                    forks, 1 ms after a failure); only the original prints: "forks <n>" every
//                    100 of its own forks and "RESULT fork refused <errno>" at its first failed
//                    one. Children keep the default SIGTERM (they die on it) and never print.
//   balloon [MB]     "ready", then malloc and touch MB MiB (default 16) every 20 ms, without
//                    bound, printing "allocated <total> MiB" (a failed malloc prints
//                    "RESULT malloc refused ENOMEM" once and is retried)
//   escape           a child calls setsid() and starts a grandchild that ignores SIGTERM, SIGHUP
//                    and SIGINT, prints "escaped pid <pid> pgid <pgid> sid <sid>" and sleeps
//                    forever; the child exits, then "ready" (always after the escaped line)
//   procs N          N-1 children that sleep forever (default SIGTERM), then "procs <N>", "ready"
//   crash-after MS   "started pid <pid>", "ready", then "exiting with code 3" and exit 3 after
//                    MS ms
//   idle             "ready"
//
// Before any mode: "whoami uid <uid> gid <gid> groups <n> nnp <0|1> capeff <hex> pgid <pgid>"
// and "cgroup <the lines of /proc/self/cgroup joined by ';'>". Every attempt prints one line,
// "RESULT <name> ok <detail>" or "RESULT <name> refused <errno name, e.g. EACCES>". Unless said
// otherwise a mode ends with "ready" and then waits for SIGTERM: "got SIGTERM, exiting", exit 0
// (forkbomb and balloon stop on SIGTERM too). An unknown mode prints the usage to stderr, exit 2.
// Output is written a whole line at a time and flushed.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr char kUsage[] =
    "usage: hostile MODE [ARGS...]\n"
    "  read FILE...     read each FILE\n"
    "  write-exe        try to chmod and open for writing its own executable\n"
    "  signal PID       kill -KILL and ptrace-attach PID\n"
    "  forkbomb         fork forever\n"
    "  balloon [MB]     allocate MB MiB (default 16) every 20 ms, forever\n"
    "  escape           leave the process group and session (double fork + setsid)\n"
    "  procs N          run as N processes\n"
    "  crash-after MS   exit 3 after MS ms\n"
    "  idle             wait for SIGTERM\n";

volatile sig_atomic_t g_term = 0;
void OnTerm(int) { g_term = 1; }

// One whole line per write, so that lines from several processes do not interleave.
void Line(const std::string& text) { std::cout << (text + "\n"); }

void SleepMs(long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "errno" + std::to_string(err);
}

void Ok(const std::string& name, const std::string& detail) {
  Line("RESULT " + name + " ok " + detail);
}
void Refused(const std::string& name, int err) {
  Line("RESULT " + name + " refused " + ErrnoName(err));
}

// A non-negative decimal number, or -1.
long ParseCount(const char* text) {
  if (text == nullptr || *text == '\0') return -1;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < 0) return -1;
  return value;
}

// fork() with SIGTERM blocked around it, so that a child that must die on SIGTERM gets the
// default disposition back before it can see one. Returns what fork() returned.
pid_t ForkWithDefaultTerm() {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &old);
  const pid_t pid = fork();
  const int err = errno;
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    g_term = 0;
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return pid;
}

void ReapChildren() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

void PrintWhoami() {
  const int groups = getgroups(0, nullptr);
  const int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  std::string capeff = "?";
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("CapEff:", 0) == 0) {
      const size_t start = line.find_first_not_of(" \t", 7);
      if (start != std::string::npos) capeff = line.substr(start);
    }
  }
  Line("whoami uid " + std::to_string(getuid()) + " gid " + std::to_string(getgid()) + " groups " +
       std::to_string(groups) + " nnp " + std::to_string(nnp) + " capeff " + capeff + " pgid " +
       std::to_string(getpgid(0)));
  std::string cgroups;
  std::ifstream cgroup_file("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup_file, line);) {
    if (line.empty()) continue;
    if (!cgroups.empty()) cgroups += ";";
    cgroups += line;
  }
  Line("cgroup " + cgroups);
}

void ReadFile(const std::string& path) {
  const std::string name = "read:" + path;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Refused(name, errno);
  char buffer[65536];
  long long total = 0;
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return Refused(name, err);
    }
    total += n;
  }
  close(fd);
  Ok(name, std::to_string(total));
}

void OpenForWrite(const std::string& name, const char* path) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Refused(name, errno);
  close(fd);  // nothing is written: succeeding is the finding
  Ok(name, "opened");
}

void WriteExe() {
  char target[PATH_MAX] = {};
  const ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
  if (n < 0) {
    Refused("readlink-exe", errno);
    return;
  }
  target[n] = '\0';
  Line(std::string("exe ") + target);
  struct stat before {};
  const bool have_mode = stat(target, &before) == 0;
  if (chmod(target, 0777) != 0) {
    Refused("chmod-exe", errno);
  } else {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", before.st_mode & 07777);
    // Put the mode back: the line already says that it could be changed.
    const bool restored = have_mode && chmod(target, before.st_mode & 07777) == 0;
    Ok("chmod-exe", restored ? std::string("mode was ") + mode + ", restored" : "not restored");
  }
  OpenForWrite("open-exe-for-write", target);
  OpenForWrite("open-proc-exe-for-write", "/proc/self/exe");
}

void SignalAndTrace(pid_t pid) {
  const std::string id = std::to_string(pid);
  if (kill(pid, SIGKILL) != 0) {
    Refused("kill:" + id, errno);
  } else {
    Ok("kill:" + id, "SIGKILL sent");
  }
  if (ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) != 0) {
    Refused("ptrace:" + id, errno);
    return;
  }
  int status = 0;
  waitpid(pid, &status, __WALL);
  ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  Ok("ptrace:" + id, "attached and detached");
}

// A forkbomb child: forks forever and never prints (nor returns).
[[noreturn]] void ForkForever() {
  while (true) {
    const pid_t pid = fork();
    if (pid == 0) continue;  // the new child loops here too
    ReapChildren();
    SleepMs(pid < 0 ? 1 : 10);
  }
}

// The original process of the forkbomb: forks without pause until SIGTERM.
void ForkBomb() {
  Line("ready");
  long forks = 0;
  bool reported_failure = false;
  while (!g_term) {
    const pid_t pid = ForkWithDefaultTerm();
    if (pid == 0) ForkForever();
    if (pid < 0) {
      if (!reported_failure) {
        reported_failure = true;
        Refused("fork", errno);
      }
      ReapChildren();
      SleepMs(1);
      continue;
    }
    if (++forks % 100 == 0) Line("forks " + std::to_string(forks));
  }
}

void Balloon(long step_mib) {
  Line("ready");
  const size_t step = static_cast<size_t>(step_mib) * 1024 * 1024;
  std::vector<void*> blocks;  // kept, so that nothing is freed or optimised away
  long long total = 0;
  bool reported_failure = false;
  while (!g_term) {
    void* block = std::malloc(step);
    if (block == nullptr) {
      if (!reported_failure) {
        reported_failure = true;
        Refused("malloc", ENOMEM);
      }
    } else {
      std::memset(block, 0xa5, step);  // every page written, so really resident
      blocks.push_back(block);
      total += step_mib;
      Line("allocated " + std::to_string(total) + " MiB");
    }
    SleepMs(20);
  }
}

void Escape() {
  int ready_pipe[2];
  if (pipe2(ready_pipe, O_CLOEXEC) != 0) return Refused("escape", errno);
  const pid_t child = fork();
  if (child < 0) {
    const int err = errno;
    close(ready_pipe[0]);
    close(ready_pipe[1]);
    return Refused("escape", err);
  }
  if (child == 0) {
    close(ready_pipe[0]);
    if (setsid() < 0) Refused("setsid", errno);
    const pid_t grandchild = fork();
    if (grandchild < 0) {
      Refused("escape-fork", errno);
      _exit(1);
    }
    if (grandchild == 0) {
      signal(SIGTERM, SIG_IGN);
      signal(SIGHUP, SIG_IGN);
      signal(SIGINT, SIG_IGN);
      Line("escaped pid " + std::to_string(getpid()) + " pgid " + std::to_string(getpgid(0)) +
           " sid " + std::to_string(getsid(0)));
      close(ready_pipe[1]);  // the line is out: the original may say "ready"
      while (true) sleep(1);
    }
    // The original waits on the pipe for the grandchild's line; this child's part is done.
    close(ready_pipe[1]);
    _exit(0);
  }
  close(ready_pipe[1]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // EOF once the grandchild closed its copy of the write end (or died).
  char byte;
  while (read(ready_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  close(ready_pipe[0]);
}

void Procs(long n) {
  long running = 1;
  for (long i = 1; i < n; ++i) {
    const pid_t pid = ForkWithDefaultTerm();
    if (pid == 0) {
      while (true) pause();
    }
    if (pid < 0) {
      Refused("fork", errno);
      break;
    }
    ++running;
  }
  Line("procs " + std::to_string(running));
}

int WaitForTerm() {
  Line("ready");
  while (!g_term) SleepMs(10);
  Line("got SIGTERM, exiting");
  return EXIT_SUCCESS;
}

int Usage() {
  std::cerr << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << std::unitbuf;
  if (argc < 2) return Usage();
  const std::string mode = argv[1];
  long number = -1;
  if (mode == "read") {
    if (argc < 3) return Usage();
  } else if (mode == "signal" || mode == "procs" || mode == "crash-after") {
    number = argc == 3 ? ParseCount(argv[2]) : -1;
    if (number < 0 || (mode != "crash-after" && number == 0) || number > INT_MAX) return Usage();
  } else if (mode == "balloon") {
    number = argc == 2 ? 16 : argc == 3 ? ParseCount(argv[2]) : -1;
    if (number <= 0 || number > 1024 * 1024) return Usage();
  } else if (mode != "write-exe" && mode != "forkbomb" && mode != "escape" && mode != "idle") {
    return Usage();
  }
  if ((mode == "write-exe" || mode == "forkbomb" || mode == "escape" || mode == "idle") &&
      argc != 2) {
    return Usage();
  }

  struct sigaction sa {};
  sa.sa_handler = OnTerm;
  sigaction(SIGTERM, &sa, nullptr);

  PrintWhoami();
  if (mode == "read") {
    for (int i = 2; i < argc; ++i) ReadFile(argv[i]);
  } else if (mode == "write-exe") {
    WriteExe();
  } else if (mode == "signal") {
    SignalAndTrace(static_cast<pid_t>(number));
  } else if (mode == "forkbomb") {
    ForkBomb();
    Line("got SIGTERM, exiting");
    return EXIT_SUCCESS;
  } else if (mode == "balloon") {
    Balloon(number);
    Line("got SIGTERM, exiting");
    return EXIT_SUCCESS;
  } else if (mode == "escape") {
    Escape();
  } else if (mode == "procs") {
    Procs(number);
  } else if (mode == "crash-after") {
    Line("started pid " + std::to_string(getpid()));
    Line("ready");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(number);
    while (std::chrono::steady_clock::now() < deadline) {
      if (g_term) {
        Line("got SIGTERM, exiting");
        return EXIT_SUCCESS;
      }
      SleepMs(std::min<long>(5, number));
    }
    Line("exiting with code 3");
    return 3;
  }
  return WaitForTerm();
}
