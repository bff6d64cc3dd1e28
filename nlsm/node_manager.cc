#include "nlsm/node_manager.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "common/log.h"
#include "common/time_format.h"
#include "pki/profile.h"

namespace sitechain::nlsm {
namespace {

using instance_state::kExpired;
using instance_state::kRefused;
using instance_state::kRunning;
using instance_state::kStopped;

std::chrono::milliseconds Until(TimePoint from, TimePoint to) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(to - from));
}

}  // namespace

NodeManager::NodeManager(std::string dir, NodeFiles node, SiteClient& site, ProcessRunner& runner,
                         const Clock& clock, Random& rng, NodeOptions options)
    : dir_(std::filesystem::absolute(dir).lexically_normal().string()),
      node_(std::move(node)),
      runner_(runner),
      clock_(clock),
      options_(std::move(options)),
      store_(dir_, node_, rng),
      counters_(dir_),
      deployer_(dir_, node_, site, counters_, clock, rng, options_.verify,
                options_.renewal.retry_initial, options_.renewal.retry_max),
      renewer_(dir_, site, clock, rng,
               {options_.renewal, options_.batch_interval, options_.reconnect_spacing}),
      link_(node_.slsm, site, clock, rng,
            {options_.heartbeat_interval, options_.reconnect_initial, options_.reconnect_max},
            {.hello =
                 [this] {
                   std::vector<InstanceReport> hello;
                   std::lock_guard lock(mu_);
                   for (const auto& i : snapshot_.instances) {
                     if (i.state == kStopped) continue;
                     hello.push_back({i.service, i.state, i.last_error, i.not_after});
                   }
                   return hello;
                 },
             .on_command =
                 [this](const Command& c) {
                   Post({Event::Kind::kCommand, c});
                 },
             .on_event =
                 [this](SiteLink::Event e) {
                   Post({e == SiteLink::Event::kConnected ? Event::Kind::kConnected
                                                          : Event::Kind::kDisconnected,
                         {}});
                 },
             .clock_hint = [this](TimePoint now) { return ClockHint(now); }}) {}

NodeManager::~NodeManager() { Shutdown(false); }

// --- start and stop --------------------------------------------------------------------------

Status NodeManager::Start() {
  SITECHAIN_RETURN_IF_ERROR(counters_.Load());
  if (options_.service_uids) {
    SITECHAIN_RETURN_IF_ERROR(store_.OpenToServiceUsers());
    SITECHAIN_ASSIGN_OR_RETURN(auto users, ServiceUsers::Open(dir_, *options_.service_uids));
    users_ = std::move(users);
  }
  SITECHAIN_ASSIGN_OR_RETURN(std::vector<std::string> kept, store_.Kept());
  for (const std::string& service : kept) {
    if (Status s = Recover(service); !s.ok()) {
      spdlog::warn("instance {} not recovered: {}", service, s.ToString());
    }
  }
  renewer_.StartNodeCertificate(node_.identity.certificate);
  {
    std::lock_guard lock(mu_);
    node_not_before_ = node_.identity.certificate.NotBefore();
  }
  if (const std::string hint = ClockHint(clock_.Now()); !hint.empty()) spdlog::error("{}", hint);
  Publish();
  loop_ = std::thread([this] { Loop(); });
  link_.Start();
  return Status::Ok();
}

void NodeManager::Shutdown(bool stop_services) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !loop_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  link_.Stop();
  if (loop_.joinable()) loop_.join();
  if (stop_services) {
    for (auto& [service, instance] : instances_) (void)runner_.Stop(service);
  }
}

std::string NodeManager::ClockHint(TimePoint now) const {
  TimePoint not_before;
  {
    std::lock_guard lock(mu_);
    not_before = node_not_before_;
  }
  if (now + options_.verify.clock_skew >= not_before) return "";
  return "this node's clock says " + FormatTime(now) +
         ", before its node certificate's notBefore " + FormatTime(not_before) + " by " +
         std::to_string(std::chrono::duration_cast<Seconds>(not_before - now).count()) +
         " s, more than the clock-skew allowance of " +
         std::to_string(options_.verify.clock_skew.count()) +
         " s: is this node's clock behind? (NOT_YET_VALID: the site manager's certificates "
         "cannot verify here either)";
}

void NodeManager::Post(Event event) {
  std::lock_guard lock(mu_);
  events_.push_back(std::move(event));
  cv_.notify_all();
}

NodeStatusView NodeManager::Snapshot() const {
  std::lock_guard lock(mu_);
  NodeStatusView view = snapshot_;
  view.connected = link_.connected();
  return view;
}

void NodeManager::Publish() {
  NodeStatusView view;
  view.node = node_.node;
  view.site = node_.identity.site_root.Subject().common_name;
  view.slsm = node_.slsm;
  view.node_certificate_not_after = node_.identity.certificate.NotAfter();
  view.isolation = options_.isolation;
  for (const auto& [service, i] : instances_) {
    InstanceStatusView v;
    v.service = service;
    v.state = i->state;
    v.release = i->name.empty() ? "" : i->Release();
    v.digest = i->digest;
    v.last_error = i->last_error;
    if (!i->renewal_error.empty()) {
      v.last_error += (v.last_error.empty() ? "" : "; ") + i->renewal_error;
    }
    v.policy_json = i->policy_json;
    if (i->cert_site) v.not_after = i->cert_site->NotAfter();
    if (!i->redeploy) v.next_renewal = i->next_attempt;  // (else: the next deploy attempt)
    if (i->user) v.uid = i->user->uid;
    if (auto info = runner_.Info(service)) {
      v.pid = info->pid;
      v.cgroup = info->cgroup;
      v.restarts = static_cast<uint32_t>(info->restarts);
      if (i->state == kRunning && info->state != ProcessState::kRunning) {
        // backoff, exited, crash-loop: the supervisor knows better
        v.state = std::string(ProcessStateName(info->state));
        if (!info->detail.empty()) v.last_error = info->detail;
      }
    }
    view.instances.push_back(std::move(v));
  }
  std::lock_guard lock(mu_);
  // Tell the slsm what changed since the last pass (`slsm instances` shows it).
  std::vector<InstanceReport> changed;
  for (const auto& now : view.instances) {
    auto before = std::find_if(snapshot_.instances.begin(), snapshot_.instances.end(),
                               [&](const auto& b) { return b.service == now.service; });
    if (before == snapshot_.instances.end() || before->state != now.state ||
        before->last_error != now.last_error) {
      changed.push_back({now.service, now.state, now.last_error, now.not_after});
    }
  }
  if (!changed.empty()) link_.Report(changed);
  snapshot_ = std::move(view);
}

// --- the loop --------------------------------------------------------------------------------

std::optional<TimePoint> NodeManager::NextWake() const {
  std::optional<TimePoint> wake = renewer_.node_renewal();
  auto consider = [&](std::optional<TimePoint> t) {
    if (t && (!wake || *t < *wake)) wake = t;
  };
  for (const auto& [service, i] : instances_) {
    consider(i->next_attempt);
    if (i->cert_site && i->state == kRunning) consider(i->cert_site->NotAfter());
  }
  return wake;
}

void NodeManager::Loop() {
  while (true) {
    std::deque<Event> events;
    {
      std::unique_lock lock(mu_);
      // Wake at the next deadline, and at least every second so that the status stays fresh.
      auto wait = std::chrono::milliseconds(1000);
      if (auto wake = NextWake()) wait = std::min(wait, Until(clock_.Now(), *wake));
      cv_.wait_for(lock, wait, [this] { return stopping_ || !events_.empty(); });
      if (stopping_) return;
      events.swap(events_);
    }
    for (const Event& e : events) {
      switch (e.kind) {
        case Event::Kind::kCommand:
          Handle(e.command);
          break;
        case Event::Kind::kConnected:
          renewer_.PlanReconnect(instances_, clock_.Now());
          break;
        default:
          break;
      }
    }
    const TimePoint now = clock_.Now();
    ExpireDue(now);
    RenewDue(now);
    RenewNodeCertificateIfDue(now);
    Publish();
  }
}

void NodeManager::Handle(const Command& c) {
  switch (c.kind) {
    case Command::Kind::kDeploy:
      if (!c.services.empty()) Deploy(c.services[0], c.digest);
      break;
    case Command::Kind::kStop:
      if (!c.services.empty()) StopInstance(c.services[0], c.reason, /*forget=*/true);
      break;
    case Command::Kind::kRenewNow: {
      const TimePoint now = clock_.Now();
      for (const auto& service : c.services) {
        auto it = instances_.find(service);
        if (it != instances_.end()) (void)renewer_.RenewSoon(*it->second, c.window, now);
      }
      break;
    }
    case Command::Kind::kHeartbeatAck:
      break;
  }
}

// --- deploy, launch, stop, recover -----------------------------------------------------------

void NodeManager::Deploy(const std::string& service, const std::string& digest) {
  if (Status s = pki::ValidateIdentifier("service name", service); !s.ok()) {
    spdlog::warn("deploy refused: {}", s.ToString());
    return;
  }
  auto it = instances_.find(service);
  if (it != instances_.end() && it->second->digest == digest &&
      (it->second->state == kRunning || it->second->state == kExpired)) {
    return;  // already running this package (a reconnect repeats deploys); expiry renews itself
  }
  auto instance = std::make_unique<Instance>();
  instance->service = service;
  instance->dir = store_.DirOf(service);
  // What went wrong before (a corrupt package on disk, say), kept for the status once a fresh,
  // verified copy runs.
  std::string earlier;
  int attempts = 1;  // deploys of this service that failed in a row, this one included
  if (it != instances_.end()) {
    const Instance& before = *it->second;
    if (before.redeploy) attempts = before.failures + 1;
    if (!before.cause.empty()) {
      earlier = before.cause;
    } else if (before.state == kRefused && !before.redeploy) {
      earlier = before.last_error;
    }
    StopInstance(service,
                 it->second->digest == digest ? "fetched again" : "replaced by a new release",
                 false);
  }

  // Rule 7 is checked against the counters kept apart from the instances (never the header's).
  auto checked = deployer_.Fetch(service);
  if (!checked.ok()) {
    instance->state = kRefused;
    instance->cause = earlier;
    instance->last_error = (earlier.empty() ? "" : earlier + "; then ") + "cannot get " + service +
                           ": " + checked.status().ToString();
    instance->failures = attempts;
    instance->next_attempt = deployer_.RedeployAt(attempts, clock_.Now());
    instance->redeploy = true;
    spdlog::warn("deploy {}: {}; next attempt {}", service, instance->last_error,
                 FormatTime(*instance->next_attempt));
    instances_[service] = std::move(instance);
    return;
  }
  const pki::Verification verification = std::move(checked->verification);
  Deployer::Adopt(std::move(*checked), *instance);
  Instance& ref = *instance;
  instances_[service] = std::move(instance);
  if (!verification.ok()) {
    ref.state = kRefused;
    ref.last_error = "verification failed: " + verification.failure->ToString();
    spdlog::error("deploy {} refused: {}", service, ref.last_error);
    return;
  }
  // Verified: from now on nothing older of the name runs here, whatever becomes of this deploy.
  if (Status s = verification.release ? RecordRelease(ref, *verification.release) : Status::Ok();
      !s.ok()) {
    ref.state = kRefused;
    ref.last_error = "cannot keep its release counter (rule 7): " + s.ToString();
    ref.failures = attempts;
    ref.next_attempt = deployer_.RedeployAt(attempts, clock_.Now());
    ref.redeploy = true;
    return;
  }
  if (Status s = AssignUser(ref); !s.ok()) {
    ref.state = kRefused;
    ref.last_error = "no user to run it as: " + s.ToString();
    spdlog::error("deploy {} refused: {}", service, ref.last_error);
    return;
  }
  if (Status s = store_.Save(ref); !s.ok()) {
    // (A full or read-only disk, say: tried again until it can be kept.)
    ref.state = kRefused;
    ref.last_error = "cannot keep the instance: " + s.ToString();
    ref.failures = attempts;
    ref.next_attempt = deployer_.RedeployAt(attempts, clock_.Now());
    ref.redeploy = true;
    spdlog::error("deploy {}: {}", service, ref.last_error);
    return;
  }
  renewer_.Schedule(ref);
  if (Status s = Launch(ref); !s.ok()) {
    spdlog::error("deploy {}: {}", service, s.ToString());
  } else if (!earlier.empty()) {
    ref.last_error = "runs a freshly fetched, verified copy; before: " + earlier;
    spdlog::warn("{} {}", service, ref.last_error);
  }
}

void NodeManager::StopInstance(const std::string& service, const std::string& reason, bool forget) {
  auto it = instances_.find(service);
  if (it == instances_.end()) return;
  (void)runner_.Stop(service);
  Instance& i = *it->second;
  spdlog::info("stopped {}: {}", service, reason);
  i.state = kStopped;
  i.last_error = reason;
  i.next_attempt.reset();
  if (forget) {
    // Not deployed any more: nothing of it may start again after a restart.
    store_.Forget(i);
    i.cert_site.reset();
    i.key.reset();
  }
}

void NodeManager::RefetchLater(Instance& i) {
  deployer_.RefetchLater(i, clock_.Now());
  spdlog::warn("{}: its package will be fetched again at {}", i.service,
               FormatTime(*i.next_attempt));
}

Status NodeManager::Launch(Instance& i) {
  using Outcome = LaunchCheck::Outcome;
  LaunchCheck check = deployer_.CheckLaunch(i);
  if (check.outcome != Outcome::kReady) {
    (void)runner_.Stop(i.service);  // whatever ran before must not go on unchecked
    i.state = check.outcome == Outcome::kExpired ? kExpired : kRefused;
    i.last_error = check.error;
    if (check.outcome != Outcome::kExpired) {
      i.next_attempt.reset();  // a refused instance is not renewed
    } else if (!i.next_attempt) {
      i.next_attempt = clock_.Now();
    }
    if (check.outcome == Outcome::kDigestMismatch) RefetchLater(i);
    if (check.outcome != Outcome::kNoPackage) spdlog::error("{} {}", i.service, i.last_error);
    return check.status;
  }
  (void)runner_.Stop(i.service);
  if (Status s = runner_.Start(check.spec); !s.ok()) {
    i.state = kRefused;
    i.last_error = "cannot start: " + s.ToString();
    i.next_attempt.reset();
    return s;
  }
  i.state = kRunning;
  i.last_error.clear();
  if (check.release) {
    // What the certificates say (instance.json is not believed); an instance kept by a node
    // from before the counters were kept apart records its counter here.
    i.name = check.release->name;
    i.version = check.release->version;
    i.release_counter = check.release->release_counter;
    (void)RecordRelease(i, *check.release);
  }
  std::string rules;
  for (int r : check.rules_checked) rules += (rules.empty() ? "" : " ") + std::to_string(r);
  spdlog::info("started {} {} (verified rules {}; Cert_site until {})", i.service, i.Release(),
               rules, FormatTime(i.cert_site->NotAfter()));
  return Status::Ok();
}

Status NodeManager::RecordRelease(const Instance& i, const pki::ServiceRelease& release) {
  Status s = counters_.Record(release.name, release.release_counter);
  if (!s.ok()) {
    spdlog::error("{}: cannot keep the release counter {} of {} in {} (rule 7): {}", i.service,
                  release.release_counter, release.name, counters_.path(), s.ToString());
  }
  return s;
}

Status NodeManager::Recover(const std::string& service) {
  auto instance = std::make_unique<Instance>();
  Instance& i = *instance;
  i.service = service;
  i.dir = store_.DirOf(service);
  instances_[service] = std::move(instance);
  Status s = AssignUser(i);
  if (s.ok()) s = store_.Load(i);
  if (!s.ok()) {
    i.state = kRefused;
    i.last_error = "not recovered: " + s.ToString();
    return s;
  }
  renewer_.Schedule(i);
  // Launch re-verifies everything (rules 1-8, the executable hashed again) before it starts.
  return Launch(i);
}

Status NodeManager::AssignUser(Instance& i) {
  if (!users_) return Status::Ok();
  SITECHAIN_ASSIGN_OR_RETURN(i.user, users_->For(i.service));
  return Status::Ok();
}

// --- renewal and expiry ----------------------------------------------------------------------

void NodeManager::ExpireDue(TimePoint now) {
  for (auto& [service, i] : instances_) {
    if (!Renewer::MustExpire(*i, now)) continue;
    (void)runner_.Stop(service);
    Renewer::MarkExpired(*i, now);
  }
}

void NodeManager::RenewDue(TimePoint now) {
  if (const auto due = renewer_.Due(instances_, now); !due.empty()) {
    renewer_.Renew(
        instances_, due,
        [this](Instance& i, pki::Certificate cert, pki::PrivateKey key, const RenewalOutcome& o,
               TimePoint at) { Install(i, std::move(cert), std::move(key), o, at); });
  }
  // A deploy that failed earlier for a reason a fresh one may cure is retried when its time
  // comes (Deploy replaces the entry: collect first).
  std::vector<std::pair<std::string, std::string>> again;
  for (auto& [service, i] : instances_) {
    if (i->redeploy && i->next_attempt && *i->next_attempt <= now && i->state == kRefused) {
      i->next_attempt.reset();
      again.emplace_back(service, i->digest);
    }
  }
  for (const auto& [service, digest] : again) Deploy(service, digest);
}

void NodeManager::Install(Instance& i, pki::Certificate cert_site, pki::PrivateKey key,
                          const RenewalOutcome& o, TimePoint now) {
  std::optional<pki::Certificate> previous = i.cert_site;
  std::optional<pki::PrivateKey> previous_key = std::move(i.key);
  const std::string previous_policy = i.policy_json;
  i.cert_site = std::move(cert_site);
  i.key = std::move(key);
  if (Status s = deployer_.Verify(i); !s.ok()) {
    // Never use what does not verify. If the old certificate no longer verifies either (the
    // package on disk changed, say), the service must not go on running.
    i.cert_site = previous;
    i.key = std::move(previous_key);
    Status old = previous && previous->NotAfter() > now ? deployer_.Verify(i) : Status::Ok();
    if (!old.ok()) {
      // What verified at launch does not any more: the package kept on disk changed.
      (void)runner_.Stop(i.service);
      i.state = kRefused;
      i.last_error = "stopped: " + old.message();
      i.next_attempt.reset();
      spdlog::error("{} {}", i.service, i.last_error);
      RefetchLater(i);
      return;
    }
    renewer_.Retry(i, FailedPrecondition("the renewed Cert_site does not verify: " + s.message()),
                   now);
    return;
  }
  i.policy_json = PolicyOf(*i.cert_site);
  const std::string previous_federation = std::exchange(i.federation_pem, o.federation_pem);
  const std::optional<RenewalWindow> previous_window = i.suggested;
  i.suggested = RenewalWindow{o.renew_after, o.renew_before};
  if (Status s = store_.Save(i); !s.ok()) {
    // Not kept (a full or read-only disk): go on with what is on disk, and with its
    // notAfter, which the service's own files show (the renewed one is not used).
    i.cert_site = previous;
    i.key = std::move(previous_key);
    i.policy_json = previous_policy;
    i.federation_pem = previous_federation;
    i.suggested = previous_window;
    renewer_.Retry(i, Status(s.code(), "cannot keep the renewed Cert_site: " + s.message()), now);
    return;
  }
  renewer_.Schedule(i);
  i.renewal_error.clear();
  spdlog::info("renewed {}: Cert_site {} until {}, next renewal {}", i.service,
               i.cert_site->SerialHex(), FormatTime(i.cert_site->NotAfter()),
               FormatTime(*i.next_attempt));
  // A new policy may change how the service is launched; a stopped (expired, refused)
  // instance starts again now that a fresh certificate verifies.
  if (i.state != kRunning || i.policy_json != previous_policy) {
    (void)Launch(i);
    return;
  }
  NotifyRenewed(i);
}

void NodeManager::NotifyRenewed(const Instance& i) {
  auto policy = ParseLaunchPolicy(i.policy_json);
  if (!policy.ok() || policy->renewal_signal == 0) return;
  if (Status s = runner_.Signal(i.service, policy->renewal_signal); !s.ok()) {
    spdlog::warn("{}: cannot send its renewal signal {}: {}", i.service, policy->renewal_signal,
                 s.ToString());
  }
}

void NodeManager::RenewNodeCertificateIfDue(TimePoint now) {
  if (!renewer_.RenewNodeCertificateIfDue(node_, now)) return;
  std::lock_guard lock(mu_);
  node_not_before_ = node_.identity.certificate.NotBefore();
}

}  // namespace sitechain::nlsm
