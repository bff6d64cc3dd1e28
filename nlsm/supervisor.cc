#include "nlsm/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
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
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <utility>

#include "common/files.h"

namespace sitechain::nlsm {

using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr std::string_view kDefaultPath = "PATH=/usr/bin:/bin";
constexpr milliseconds kOrphanKillWait{5000};

SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }

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

// "exit code 3", "killed by SIGSEGV".
std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by " + SignalName(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

std::string Seconds1(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
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

// The fields of /proc/<pid>/stat that matter here.
struct ProcStat {
  char state = '?';
  uint64_t start_time = 0;
};

Result<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  auto text = ReadSmallFile(path, 4096);
  if (!text.ok()) return NotFound("no process " + std::to_string(pid));
  // "pid (comm) state ppid ..." where comm may hold spaces and parentheses: parse after the
  // last ')'. starttime is field 22, the 20th after comm.
  const size_t close = text->rfind(')');
  if (close == std::string::npos) return DataLoss("malformed " + path);
  std::string_view rest = std::string_view(*text).substr(close + 1);
  std::vector<std::string_view> fields;
  while (!rest.empty() && fields.size() < 20) {
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    const size_t end = std::min(rest.find(' '), rest.size());
    if (end > 0) fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  if (fields.size() < 20 || fields[0].size() != 1) return DataLoss("malformed " + path);
  ProcStat st;
  st.state = fields[0][0];
  const auto f = fields[19];
  if (std::from_chars(f.data(), f.data() + f.size(), st.start_time).ec != std::errc()) {
    return DataLoss("malformed " + path);
  }
  return st;
}

bool IsDeadState(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

std::string PidRecordPath(const std::string& dir, std::string_view service) {
  return dir + "/" + std::string(service) + ".pid";
}

void RemovePidRecord(const std::string& dir, std::string_view service) {
  if (!dir.empty()) ::unlink(PidRecordPath(dir, service).c_str());
}

// Signals a process group, or the process alone if it leads no group.
void KillGroup(pid_t pid, int sig) {
  if (::kill(-pid, sig) != 0 && errno == ESRCH) ::kill(pid, sig);
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

// ---- Internal types ----

struct Supervisor::Service {
  // Fixed at Start.
  std::string name;
  UniqueFd exe;                   // dup of the verified descriptor, close-on-exec
  std::vector<std::string> argv;  // argv[0] = name
  std::vector<std::string> envp;  // "K=V"
  std::string working_dir, stdout_path, stderr_path;
  RestartPolicy restart = RestartPolicy::kOnFailure;

  // Changed by the watcher only, under mu_.
  ProcessState state = ProcessState::kStarting;
  pid_t pid = 0;
  UniqueFd pidfd;
  int restarts = 0;
  int backoff_step = 0;               // consecutive restarts in the current backoff series
  std::deque<TimePoint> crash_times;  // exits answered with a restart, within the window
  std::optional<int> last_exit_code;
  std::optional<int> last_exit_signal;
  std::string last_exit;  // "exit code 3", "restart failed: ...", "" before any exit
  TimePoint started_at{};
  SteadyTime started_steady{};
  SteadyTime restart_at{};      // kBackoff
  TimePoint restart_at_wall{};  // kBackoff, by the injected clock
  bool stopping = false;        // Stop sent SIGTERM; not restarted
  bool killed = false;          // ... and then SIGKILL
  SteadyTime kill_at{};         // stopping && !killed: when SIGKILL is due
  SteadyTime give_up_at{};      // killed: when Stop's waiters stop waiting
  std::vector<std::promise<Status>> stop_waiters;
  std::string detail;  // for terminal states

  bool Active() const {
    return state == ProcessState::kStarting || state == ProcessState::kRunning ||
           state == ProcessState::kBackoff;
  }
};

struct Supervisor::Request {
  enum class Kind { kStart, kStop, kForget } kind = Kind::kStart;
  std::string name;
  std::unique_ptr<Service> service;  // kStart
  milliseconds grace{0};             // kStop
  std::promise<Status> done;
};

// ---- Free functions ----

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

milliseconds RestartBackoff(const SupervisorOptions& options, int n, Random& rng) {
  milliseconds d = options.initial_backoff;
  for (int i = 1; i < n && d < options.max_backoff; ++i) d *= 2;
  d = std::min(d, options.max_backoff);
  const milliseconds low = d / 2;
  return low + milliseconds(
                   static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>((d - low).count()) + 1)));
}

Result<uint64_t> ProcessStartTime(pid_t pid) {
  if (pid <= 0) return NotFound("no process " + std::to_string(pid));
  SITECHAIN_ASSIGN_OR_RETURN(ProcStat st, ReadProcStat(pid));
  if (IsDeadState(st.state)) return NotFound("process " + std::to_string(pid) + " has exited");
  return st.start_time;
}

// ---- Construction ----

Result<std::unique_ptr<Supervisor>> Supervisor::Create(SupervisorOptions options,
                                                       const Clock& clock, Random& rng) {
  if (!(options.initial_backoff > milliseconds(0) &&
        options.initial_backoff <= options.max_backoff)) {
    return InvalidArgument("supervisor backoff must satisfy 0 < initial <= max");
  }
  if (options.crash_loop_limit < 1 || options.crash_loop_window <= milliseconds(0)) {
    return InvalidArgument("supervisor crash-loop limit must be >= 1 and its window > 0");
  }
  if (options.stop_grace < milliseconds(0) || options.kill_timeout <= milliseconds(0) ||
      options.backoff_reset_after < milliseconds(0)) {
    return InvalidArgument("supervisor stop grace, kill timeout and backoff reset must be >= 0");
  }
  if (!options.pid_dir.empty()) SITECHAIN_RETURN_IF_ERROR(MakeDirectories(options.pid_dir, 0700));
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return ErrnoStatus("cannot create", "eventfd", errno);
  return std::unique_ptr<Supervisor>(
      new Supervisor(std::move(options), clock, rng, UniqueFd(wake)));
}

Supervisor::Supervisor(SupervisorOptions options, const Clock& clock, Random& rng, UniqueFd wake)
    : options_(std::move(options)), clock_(clock), rng_(rng), wake_(std::move(wake)) {
  watcher_ = std::thread([this] { Run(); });
}

Supervisor::~Supervisor() {
  StopAll(options_.stop_grace);
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
  }
  Wake();
  watcher_.join();
}

void Supervisor::Wake() const {
  const uint64_t one = 1;
  ssize_t ignored = ::write(wake_.get(), &one, sizeof one);
  (void)ignored;  // the counter cannot overflow in practice; a full one still wakes poll
}

std::future<Status> Supervisor::Enqueue(std::unique_ptr<Request> request) {
  std::future<Status> result = request->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) {
      request->done.set_value(Unavailable("the supervisor is shutting down"));
      return result;
    }
    requests_.push_back(std::move(request));
  }
  Wake();
  return result;
}

// ---- Public methods ----

Status Supervisor::Start(const LaunchSpec& spec) {
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
  auto svc = std::make_unique<Service>();
  svc->name = name;
  svc->argv.push_back(name);
  for (const auto& a : spec.args) {
    if (HasNul(a)) return InvalidArgument("service " + name + ": an argument contains NUL");
    svc->argv.push_back(a);
  }
  bool has_path = false;
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos || HasNul(k) || HasNul(v)) {
      return InvalidArgument("service " + name + ": environment variable \"" + k +
                             "\" has an empty name, '=' in its name, or a NUL");
    }
    has_path = has_path || k == "PATH";
    svc->envp.push_back(k + "=" + v);
  }
  if (!has_path) svc->envp.emplace_back(kDefaultPath);
  std::sort(svc->envp.begin(), svc->envp.end());
  for (const auto* p : {&spec.working_dir, &spec.stdout_path, &spec.stderr_path}) {
    if (p->empty() || HasNul(*p)) {
      return InvalidArgument("service " + name +
                             ": working directory and log paths must be non-empty, without NUL");
    }
  }
  svc->working_dir = spec.working_dir;
  svc->stdout_path = spec.stdout_path;
  svc->stderr_path = spec.stderr_path;
  svc->restart = spec.restart;
  const int exe = ::fcntl(spec.executable_fd, F_DUPFD_CLOEXEC, 3);
  if (exe < 0) return ErrnoStatus("cannot duplicate the executable descriptor of", name, errno);
  svc->exe = UniqueFd(exe);

  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kStart;
  request->name = name;
  request->service = std::move(svc);
  return Enqueue(std::move(request)).get();
}

Status Supervisor::Stop(std::string_view service, milliseconds grace) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kStop;
  request->name = std::string(service);
  request->grace = std::max(grace, milliseconds(0));
  return Enqueue(std::move(request)).get();
}

void Supervisor::StopAll(milliseconds grace) {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, svc] : services_) names.push_back(name);
  }
  std::vector<std::future<Status>> pending;
  for (const auto& name : names) {
    auto request = std::make_unique<Request>();
    request->kind = Request::Kind::kStop;
    request->name = name;
    request->grace = std::max(grace, milliseconds(0));
    pending.push_back(Enqueue(std::move(request)));
  }
  for (auto& f : pending) (void)f.get();
}

Status Supervisor::Forget(std::string_view service) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kForget;
  request->name = std::string(service);
  return Enqueue(std::move(request)).get();
}

std::optional<ProcessInfo> Supervisor::Info(std::string_view service) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(service);
  if (it == services_.end()) return std::nullopt;
  return InfoLocked(*it->second);
}

std::vector<ProcessInfo> Supervisor::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ProcessInfo> out;
  for (const auto& [name, svc] : services_) out.push_back(InfoLocked(*svc));
  return out;
}

ProcessInfo Supervisor::InfoLocked(const Service& svc) const {
  ProcessInfo info;
  info.service = svc.name;
  info.state = svc.state;
  info.pid = svc.pid;
  info.restarts = svc.restarts;
  info.last_exit_code = svc.last_exit_code;
  info.last_exit_signal = svc.last_exit_signal;
  info.started_at = svc.started_at;
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

// ---- The watcher ----

void Supervisor::NotifyLocked(const Service& svc) {
  if (options_.on_state_change) pending_notifications_.push_back(InfoLocked(svc));
}

void Supervisor::Run() {
  // No signal handler of the daemon may run on this thread, nor in a child between fork and
  // exec (ExecChild resets dispositions and the mask).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);

  std::unique_lock<std::mutex> lock(mu_);
  std::optional<SteadyTime> shutdown_deadline;
  while (true) {
    while (!requests_.empty()) {
      std::unique_ptr<Request> request = std::move(requests_.front());
      requests_.pop_front();
      HandleRequestLocked(std::move(request), lock);
    }
    RunTimersLocked(lock);

    std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
    std::vector<Service*> watched;
    std::optional<SteadyTime> next;
    const auto earliest = [&next](SteadyTime t) { next = next ? std::min(*next, t) : t; };
    for (auto& [name, svc] : services_) {
      if (svc->pid > 0) {
        fds.push_back({svc->pidfd.get(), POLLIN, 0});
        watched.push_back(svc.get());
      }
      if (svc->state == ProcessState::kBackoff) earliest(svc->restart_at);
      if (svc->stopping && !svc->killed) earliest(svc->kill_at);
      if (svc->stopping && svc->killed && !svc->stop_waiters.empty()) earliest(svc->give_up_at);
    }
    if (shutting_down_) {
      // The destructor has stopped everything; anything left (started meanwhile, or stuck) gets
      // SIGKILL and at most kill_timeout to go.
      if (watched.empty()) break;
      if (!shutdown_deadline) {
        shutdown_deadline = SteadyNow() + options_.kill_timeout;
        for (Service* svc : watched) {
          KillGroup(svc->pid, SIGKILL);
          svc->stopping = svc->killed = true;
        }
      }
      if (SteadyNow() >= *shutdown_deadline) break;
      earliest(*shutdown_deadline);
    }

    int timeout = -1;
    if (next) {
      const auto wait = std::chrono::ceil<milliseconds>(*next - SteadyNow());
      timeout = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 24 * 3600 * 1000));
    }
    std::vector<ProcessInfo> notifications;
    notifications.swap(pending_notifications_);
    lock.unlock();
    for (const auto& info : notifications) options_.on_state_change(info);
    ::poll(fds.data(), fds.size(), timeout);  // EINTR cannot happen: every signal is blocked
    lock.lock();

    uint64_t drained;
    while (::read(wake_.get(), &drained, sizeof drained) > 0) {
    }
    for (size_t i = 0; i < watched.size(); ++i) {
      if ((fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      Service& svc = *watched[i];
      // The leader is a zombie: its pid (and so its group id) cannot be reused yet. Kill what is
      // left of the group, then reap.
      ::kill(-svc.pid, SIGKILL);
      int status = 0;
      const pid_t got = ::waitpid(svc.pid, &status, WNOHANG);
      if (got == 0) continue;    // spurious
      if (got < 0) status = -1;  // reaped by someone else (ECHILD): the status is lost
      OnExitLocked(svc, status);
    }
  }
  // Whatever is left: Stop waiters and requests queued meanwhile get an answer.
  for (auto& [name, svc] : services_) {
    for (auto& w : svc->stop_waiters) w.set_value(Unavailable("the supervisor is shutting down"));
    svc->stop_waiters.clear();
    if (svc->pid > 0) RemovePidRecord(options_.pid_dir, svc->name);
  }
  for (auto& r : requests_) r->done.set_value(Unavailable("the supervisor is shutting down"));
  requests_.clear();
  std::vector<ProcessInfo> notifications;
  notifications.swap(pending_notifications_);
  lock.unlock();
  for (const auto& info : notifications) options_.on_state_change(info);
}

void Supervisor::HandleRequestLocked(std::unique_ptr<Request> request,
                                     std::unique_lock<std::mutex>& lock) {
  auto it = services_.find(request->name);
  switch (request->kind) {
    case Request::Kind::kStart: {
      if (it != services_.end() && it->second->Active()) {
        request->done.set_value(AlreadyExists("service " + request->name + " is already " +
                                              std::string(ProcessStateName(it->second->state))));
        return;
      }
      std::unique_ptr<Service>& slot = services_[request->name];
      slot = std::move(request->service);
      Service& svc = *slot;
      Status s = SpawnLocked(svc, lock, /*restart=*/false);
      if (!s.ok()) services_.erase(svc.name);
      request->done.set_value(std::move(s));
      return;
    }
    case Request::Kind::kStop: {
      if (it == services_.end()) {
        request->done.set_value(NotFound("no service " + request->name));
        return;
      }
      Service& svc = *it->second;
      if (svc.pid > 0) {
        BeginStopLocked(svc, request->grace);
        svc.stop_waiters.push_back(std::move(request->done));
        return;
      }
      if (svc.state != ProcessState::kStopped) {
        svc.detail = "stopped" + (svc.last_exit.empty() ? "" : " (last: " + svc.last_exit + ")");
        svc.state = ProcessState::kStopped;
        NotifyLocked(svc);
      }
      request->done.set_value(Status::Ok());
      return;
    }
    case Request::Kind::kForget: {
      if (it == services_.end()) {
        request->done.set_value(NotFound("no service " + request->name));
      } else if (it->second->Active()) {
        request->done.set_value(FailedPrecondition(
            "service " + request->name + " is " + std::string(ProcessStateName(it->second->state)) +
            "; stop it first"));
      } else {
        services_.erase(it);
        request->done.set_value(Status::Ok());
      }
      return;
    }
  }
}

Status Supervisor::SpawnLocked(Service& svc, std::unique_lock<std::mutex>& lock, bool restart) {
  svc.state = ProcessState::kStarting;
  NotifyLocked(svc);
  // Only this thread changes Services, so svc's fixed fields can be read without the lock
  // while fork and exec run (they may take milliseconds in a large daemon).
  lock.unlock();
  struct Spawned {
    pid_t pid = 0;
    UniqueFd pidfd;
  };
  auto spawn = [&svc, this]() -> Result<Spawned> {
    SITECHAIN_ASSIGN_OR_RETURN(UniqueFd devnull,
                               OpenFd("/dev/null", O_RDONLY, 0, "stdin of " + svc.name));
    const int log_flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW;
    SITECHAIN_ASSIGN_OR_RETURN(
        UniqueFd out, OpenFd(svc.stdout_path, log_flags, 0600, "stdout log of " + svc.name));
    SITECHAIN_ASSIGN_OR_RETURN(
        UniqueFd err, OpenFd(svc.stderr_path, log_flags, 0600, "stderr log of " + svc.name));
    SITECHAIN_ASSIGN_OR_RETURN(UniqueFd cwd, OpenFd(svc.working_dir, O_PATH | O_DIRECTORY, 0,
                                                    "working directory of " + svc.name));
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus("cannot create", "pipe", errno);
    UniqueFd report_read(pipe_fds[0]);
    SITECHAIN_ASSIGN_OR_RETURN(UniqueFd report, AboveStdio(UniqueFd(pipe_fds[1]), "pipe"));

    std::vector<char*> argv, envp;
    for (auto& a : svc.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : svc.envp) envp.push_back(e.data());
    envp.push_back(nullptr);
    rlimit nofile{};
    const int max_fd = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536
                           ? static_cast<int>(nofile.rlim_cur)
                           : 65536;
    const ChildPlan plan{devnull.get(), out.get(),   err.get(),   cwd.get(), svc.exe.get(),
                         report.get(),  argv.data(), envp.data(), max_fd,    ::getpid()};
    const pid_t pid = ::fork();
    if (pid < 0) return ErrnoStatus("cannot fork for service", svc.name, errno);
    if (pid == 0) ExecChild(plan);
    report = UniqueFd();  // the child holds the write end until it execs
    ::setpgid(pid,
              pid);  // also here, so that a Stop right away finds the group (EACCES after exec)

    const auto abandon = [pid](Status why) -> Result<Spawned> {
      ::kill(pid, SIGKILL);
      int ignored;
      ::waitpid(pid, &ignored, 0);
      return why;
    };
    const int pidfd = ::pidfd_open(pid, 0);
    if (pidfd < 0) return abandon(ErrnoStatus("cannot watch service", svc.name, errno));
    Spawned spawned{pid, UniqueFd(pidfd)};
    if (!options_.pid_dir.empty()) {
      // Recorded before exec, so that a daemon killed from here on leaves a record behind.
      // The child is ours and not reaped, so its stat is there even if it already exited.
      auto stat = ReadProcStat(pid);
      if (!stat.ok()) return abandon(stat.status());
      Status s = WriteFileAtomic(
          PidRecordPath(options_.pid_dir, svc.name),
          std::to_string(pid) + " " + std::to_string(stat->start_time) + "\n", 0600);
      if (!s.ok()) return abandon(s.WithContext("cannot record the pid of " + svc.name));
    }
    ChildFailure failure{};
    ssize_t n;
    do {
      n = ::read(report_read.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return spawned;  // exec closed the pipe
    RemovePidRecord(options_.pid_dir, svc.name);
    Status why = n == static_cast<ssize_t>(sizeof failure)
                     ? ChildFailureStatus(svc.name, failure)
                     : Internal("service " + svc.name + ": no report from the child");
    return abandon(why);
  };
  Result<Spawned> spawned = spawn();
  lock.lock();
  if (!spawned.ok()) return spawned.status();
  svc.pid = spawned->pid;
  svc.pidfd = std::move(spawned->pidfd);
  svc.started_at = clock_.Now();
  svc.started_steady = SteadyNow();
  svc.state = ProcessState::kRunning;
  if (restart) ++svc.restarts;
  NotifyLocked(svc);
  return Status::Ok();
}

void Supervisor::BeginStopLocked(Service& svc, milliseconds grace) {
  const SteadyTime now = SteadyNow();
  if (!svc.stopping) {
    svc.stopping = true;
    svc.kill_at = now + grace;
    if (grace > milliseconds(0)) KillGroup(svc.pid, SIGTERM);
  } else {
    svc.kill_at = std::min(svc.kill_at, now + grace);  // a shorter grace wins
  }
  if (!svc.killed && grace == milliseconds(0)) {
    KillGroup(svc.pid, SIGKILL);
    svc.killed = true;
    svc.give_up_at = now + options_.kill_timeout;
  }
  NotifyLocked(svc);
}

void Supervisor::RunTimersLocked(std::unique_lock<std::mutex>& lock) {
  // Spawns release the lock, but only this thread changes services_, so iterating is safe.
  for (auto& [name, ptr] : services_) {
    Service& svc = *ptr;
    const SteadyTime now = SteadyNow();
    if (svc.state == ProcessState::kBackoff && now >= svc.restart_at) {
      Status s = SpawnLocked(svc, lock, /*restart=*/true);
      if (!s.ok()) OnSpawnFailedLocked(svc, s);
      continue;
    }
    if (svc.stopping && !svc.killed && now >= svc.kill_at) {
      KillGroup(svc.pid, SIGKILL);
      svc.killed = true;
      svc.give_up_at = now + options_.kill_timeout;
      NotifyLocked(svc);
    } else if (svc.stopping && svc.killed && !svc.stop_waiters.empty() && now >= svc.give_up_at) {
      for (auto& w : svc.stop_waiters) {
        w.set_value(Unavailable("service " + svc.name + " (pid " + std::to_string(svc.pid) +
                                ") was not reaped " + Seconds1(options_.kill_timeout) +
                                " after SIGKILL"));
      }
      svc.stop_waiters.clear();
    }
  }
}

void Supervisor::OnExitLocked(Service& svc, int wait_status) {
  RemovePidRecord(options_.pid_dir, svc.name);
  svc.pid = 0;
  svc.pidfd = UniqueFd();
  svc.last_exit_code.reset();
  svc.last_exit_signal.reset();
  bool failed = true;
  if (wait_status == -1) {
    svc.last_exit = "exit status lost (reaped elsewhere)";
  } else {
    if (WIFEXITED(wait_status)) svc.last_exit_code = WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) svc.last_exit_signal = WTERMSIG(wait_status);
    svc.last_exit = DescribeWaitStatus(wait_status);
    failed = !(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
  }
  if (svc.stopping) {
    svc.detail = "stopped: " + svc.last_exit +
                 (svc.killed ? " (SIGKILL after the grace period)" : " after SIGTERM");
    FinishStopLocked(svc, Status::Ok());
    return;
  }
  const bool restart =
      svc.restart == RestartPolicy::kAlways || (svc.restart == RestartPolicy::kOnFailure && failed);
  if (!restart) {
    svc.state = ProcessState::kExited;
    svc.detail = svc.last_exit + "; not restarted (restart policy " +
                 std::string(RestartPolicyName(svc.restart)) + ")";
    NotifyLocked(svc);
    return;
  }
  if (SteadyNow() - svc.started_steady >= options_.backoff_reset_after) svc.backoff_step = 0;
  ScheduleRestartOrGiveUpLocked(svc, svc.last_exit);
}

void Supervisor::OnSpawnFailedLocked(Service& svc, const Status& why) {
  svc.last_exit = "restart failed: " + why.message();
  ScheduleRestartOrGiveUpLocked(svc, svc.last_exit);
}

void Supervisor::ScheduleRestartOrGiveUpLocked(Service& svc, const std::string& what) {
  const TimePoint now = clock_.Now();
  svc.crash_times.push_back(now);
  while (!svc.crash_times.empty() && now - svc.crash_times.front() >= options_.crash_loop_window) {
    svc.crash_times.pop_front();
  }
  if (static_cast<int>(svc.crash_times.size()) >= options_.crash_loop_limit) {
    svc.state = ProcessState::kCrashLoop;
    svc.detail = std::to_string(svc.crash_times.size()) + " exits within " +
                 Seconds1(options_.crash_loop_window) + " (last: " + what +
                 "); not restarted any more";
    NotifyLocked(svc);
    return;
  }
  ++svc.backoff_step;
  const milliseconds delay = RestartBackoff(options_, svc.backoff_step, rng_);
  svc.restart_at = SteadyNow() + delay;
  svc.restart_at_wall = now + delay;
  svc.state = ProcessState::kBackoff;
  NotifyLocked(svc);
}

void Supervisor::FinishStopLocked(Service& svc, const Status& result) {
  svc.state = ProcessState::kStopped;
  svc.stopping = svc.killed = false;
  for (auto& w : svc.stop_waiters) w.set_value(result);
  svc.stop_waiters.clear();
  NotifyLocked(svc);
}

// ---- Orphans of a previous run ----

Result<std::vector<OrphanReport>> Supervisor::KillOrphans(const std::string& pid_dir,
                                                          milliseconds grace) {
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
