#include "nlsm/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
// glibc 2.36's <sys/pidfd.h> lacks __BEGIN_DECLS: without this, C++ looks for mangled names.
extern "C" {
#include <sys/pidfd.h>
}

#include <algorithm>
#include <cerrno>
#include <future>
#include <utility>

#include "common/files.h"
#include "nlsm/child_exec.h"

namespace sitechain::nlsm {

using std::chrono::milliseconds;

namespace {

SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }

}  // namespace

// ---- Internal types ----

struct Supervisor::Request {
  enum class Kind { kStart, kStop, kForget, kSignal } kind = Kind::kStart;
  std::string name;
  std::unique_ptr<Service> service;  // kStart
  milliseconds grace{0};             // kStop
  int signal = 0;                    // kSignal
  std::promise<Status> done;
};

// ---- Free functions ----

milliseconds RestartBackoff(const SupervisorOptions& options, int n, Random& rng) {
  return RestartBackoff(options.initial_backoff, options.max_backoff, n, rng);
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
  SITECHAIN_ASSIGN_OR_RETURN(ChildSpec child, PrepareChild(spec));
  if (options_.cgroups) {
    SITECHAIN_RETURN_IF_ERROR(options_.cgroups->CanEnforce(spec.limits));
  } else if (spec.limits.any()) {
    return FailedPrecondition(
        "site policy: \"limits\": this node runs services without cgroups "
        "(isolation off) and cannot enforce them; a policy the node cannot "
        "honour");
  }
  auto svc = std::make_unique<Service>();
  svc->name = child.name;
  svc->child = std::move(child);
  svc->restart = spec.restart;
  svc->limits = spec.limits;
  const std::string name = svc->name;
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

Status Supervisor::Signal(std::string_view service, int signal) {
  auto request = std::make_unique<Request>();
  request->kind = Request::Kind::kSignal;
  request->name = std::string(service);
  request->signal = signal;
  return Enqueue(std::move(request)).get();
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
  return it->second->Info();
}

std::vector<ProcessInfo> Supervisor::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ProcessInfo> out;
  for (const auto& [name, svc] : services_) out.push_back(svc->Info());
  return out;
}

// ---- The watcher ----

void Supervisor::NotifyLocked(const Service& svc) {
  if (options_.on_state_change) pending_notifications_.push_back(svc.Info());
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
          KillAllLocked(*svc);
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
      // left of the group and of the cgroup (whatever left the group), then reap.
      ::kill(-svc.pid, SIGKILL);
      const Status emptied =
          svc.cgroup ? svc.cgroup->KillAndWait(options_.kill_timeout) : Status::Ok();
      int status = 0;
      const pid_t got = ::waitpid(svc.pid, &status, WNOHANG);
      if (got == 0) continue;    // spurious
      if (got < 0) status = -1;  // reaped by someone else (ECHILD): the status is lost
      OnExitLocked(svc, status);
      if (!emptied.ok()) {
        svc.detail += (svc.detail.empty() ? "" : "; ") + emptied.message();
        NotifyLocked(svc);
      }
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
      slot = std::move(request->service);  // a replaced one's cgroup is removed here
      Service& svc = *slot;
      Status s = Status::Ok();
      if (options_.cgroups) {
        auto cgroup = InstanceCgroup::Create(*options_.cgroups, svc.name, svc.limits);
        if (cgroup.ok()) {
          svc.cgroup = std::move(*cgroup);
        } else {
          s = cgroup.status();
        }
      }
      if (s.ok()) s = SpawnLocked(svc, lock, /*restart=*/false);
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
    case Request::Kind::kSignal: {
      if (it == services_.end()) {
        request->done.set_value(NotFound("no service " + request->name));
      } else if (it->second->pid <= 0 || it->second->stopping) {
        request->done.set_value(FailedPrecondition("service " + request->name + " is not running"));
      } else if (::pidfd_send_signal(it->second->pidfd.get(), request->signal, nullptr, 0) != 0) {
        request->done.set_value(ErrnoStatus("cannot signal service", request->name, errno));
      } else {
        request->done.set_value(Status::Ok());
      }
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
  Status checked =
      svc.child.check_before_exec ? svc.child.check_before_exec(svc.child.exe.get()) : Status::Ok();
  Result<SpawnedChild> spawned =
      checked.ok() ? SpawnChild(svc.child, options_.pid_dir,
                                svc.cgroup ? svc.cgroup->join_fds() : std::vector<int>{})
                   : Result<SpawnedChild>(checked);
  lock.lock();
  if (!checked.ok()) svc.refused = true;
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
    KillAllLocked(svc);
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
      KillAllLocked(svc);
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
  if (!RestartsAfter(svc.restart, failed)) {
    svc.state = ProcessState::kExited;
    svc.detail = svc.last_exit + "; not restarted (restart policy " +
                 std::string(RestartPolicyName(svc.restart)) + ")";
    NotifyLocked(svc);
    return;
  }
  if (SteadyNow() - svc.started_steady >= options_.backoff_reset_after) {
    svc.restart_record.ResetBackoff();
  }
  ScheduleRestartOrGiveUpLocked(svc, svc.last_exit);
}

void Supervisor::OnSpawnFailedLocked(Service& svc, const Status& why) {
  if (svc.refused) {  // check_before_exec: final
    svc.state = ProcessState::kExited;
    svc.detail = "not restarted: " + why.message();
    NotifyLocked(svc);
    return;
  }
  svc.last_exit = "restart failed: " + why.message();
  ScheduleRestartOrGiveUpLocked(svc, svc.last_exit);
}

void Supervisor::ScheduleRestartOrGiveUpLocked(Service& svc, const std::string& what) {
  const TimePoint now = clock_.Now();
  if (svc.restart_record.CountExit(now, options_.crash_loop_limit, options_.crash_loop_window)) {
    svc.state = ProcessState::kCrashLoop;
    svc.detail = std::to_string(svc.restart_record.exits_in_window()) + " exits within " +
                 Seconds1(options_.crash_loop_window) + " (last: " + what +
                 "); not restarted any more";
    NotifyLocked(svc);
    return;
  }
  const milliseconds delay = RestartBackoff(options_, svc.restart_record.NextStep(), rng_);
  svc.restart_at = SteadyNow() + delay;
  svc.restart_at_wall = now + delay;
  svc.state = ProcessState::kBackoff;
  NotifyLocked(svc);
}

void Supervisor::KillAllLocked(Service& svc) {
  KillGroup(svc.pid, SIGKILL);
  if (svc.cgroup) (void)svc.cgroup->Kill();
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
  return nlsm::KillOrphans(pid_dir, grace);
}

}  // namespace sitechain::nlsm
