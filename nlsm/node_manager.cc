#include "nlsm/node_manager.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/time_format.h"
#include "nlsm/instance_check.h"
#include "nlsm/launch_policy.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/oids.h"
#include "pki/profile.h"

namespace sitechain::nlsm {
namespace {

constexpr const char* kRunning = "running";
constexpr const char* kRefused = "refused";
constexpr const char* kExpired = "expired";
constexpr const char* kStopped = "stopped";
constexpr const char* kPending = "pending";

// The sitePolicy a Cert_site carries ("{}" if none).
std::string PolicyOf(const pki::Certificate& cert_site) {
  auto ext = cert_site.FindExtension(pki::SitePolicyOid());
  if (!ext) return "{}";
  auto policy = pki::DecodeSitePolicy(ext->value);
  return policy.ok() ? *policy : "{}";
}

CertificateTimes TimesOf(const pki::Certificate& cert, std::optional<RenewalWindow> suggested) {
  return {cert.NotBefore(), cert.NotAfter(), suggested};
}

std::chrono::milliseconds Until(TimePoint from, TimePoint to) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(to - from));
}

}  // namespace

struct NodeManager::Instance {
  std::string service;
  std::string dir;  // <dir>/instances/<service>: the runtime directory
  std::string digest_algorithm, digest;
  std::string name, version;
  uint64_t release_counter = 0;
  std::optional<pki::Certificate> cert_dev, cert_store, developer, cert_site;
  std::optional<pki::PrivateKey> key;
  std::string policy_json = "{}";
  std::string state = kPending;
  std::string last_error;     // why it is in its state (refused, expired, stopped, ...)
  std::string renewal_error;  // the last renewal attempt's failure, until one succeeds
  std::optional<TimePoint> next_attempt;
  std::optional<RenewalWindow> suggested;
  int failures = 0;
  bool stale = false;  // must renew regardless of its plan (renew-now)
  // Refused for a reason a fresh deploy may cure (the package could not be fetched or kept, the
  // kept copy no longer matches its digest): deployed again at next_attempt.
  bool redeploy = false;
  std::string cause;  // why it was refused before being deployed again (kept for the status)

  std::string Release() const {
    return name + " " + version + " (release " + std::to_string(release_counter) + ")";
  }
};

NodeManager::NodeManager(std::string dir, NodeFiles node, SiteClient& site, ProcessRunner& runner,
                         const Clock& clock, Random& rng, NodeOptions options)
    : dir_(std::filesystem::absolute(dir).lexically_normal().string()),
      node_(std::move(node)),
      site_(site),
      runner_(runner),
      clock_(clock),
      rng_(rng),
      options_(std::move(options)),
      policy_(options_.renewal),
      verifier_(clock, options_.verify),
      packages_(storage::BlobStore::Open(dir_ + "/packages", 0555).value()) {}

NodeManager::~NodeManager() { Shutdown(false); }

// --- start and stop --------------------------------------------------------------------------

Status NodeManager::Start() {
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(dir_ + "/instances", 0700));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/instances", ec)) {
    if (!entry.is_directory()) continue;
    const std::string service = entry.path().filename().string();
    if (Status s = Recover(service); !s.ok()) {
      spdlog::warn("instance {} not recovered: {}", service, s.ToString());
    }
  }
  if (ec) return ErrnoStatus("cannot list", dir_ + "/instances", ec.value());
  node_renewal_ = policy_.FirstAttempt(TimesOf(node_.identity.certificate, std::nullopt), rng_);
  {
    std::lock_guard lock(mu_);
    node_not_before_ = node_.identity.certificate.NotBefore();
  }
  if (const std::string hint = ClockHint(clock_.Now()); !hint.empty()) spdlog::error("{}", hint);
  Publish();
  loop_ = std::thread([this] { Loop(); });
  link_ = std::thread([this] { Link(); });
  return Status::Ok();
}

void NodeManager::Shutdown(bool stop_services) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !loop_.joinable()) return;
    stopping_ = true;
    if (stream_) stream_->Cancel();
    cv_.notify_all();
  }
  if (link_.joinable()) link_.join();
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
  view.connected = connected_;
  return view;
}

void NodeManager::Publish() {
  NodeStatusView view;
  view.node = node_.node;
  view.site = node_.identity.site_root.Subject().common_name;
  view.slsm = node_.slsm;
  view.node_certificate_not_after = node_.identity.certificate.NotAfter();
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
    if (auto info = runner_.Info(service)) {
      v.pid = info->pid;
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
  if (stream_ != nullptr && connected_) {
    for (const auto& now : view.instances) {
      auto before = std::find_if(snapshot_.instances.begin(), snapshot_.instances.end(),
                                 [&](const auto& b) { return b.service == now.service; });
      if (before == snapshot_.instances.end() || before->state != now.state ||
          before->last_error != now.last_error) {
        stream_->SendInstance({now.service, now.state, now.last_error, now.not_after});
      }
    }
  }
  snapshot_ = std::move(view);
}

// --- the loop --------------------------------------------------------------------------------

std::optional<TimePoint> NodeManager::NextWake() const {
  std::optional<TimePoint> wake = node_renewal_;
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
          OnReconnect(clock_.Now());
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
        // A refused or stopped instance does not renew (it waits for a deploy).
        if (it == instances_.end() || !it->second->key ||
            (it->second->state != kRunning && it->second->state != kExpired)) {
          continue;
        }
        it->second->stale = true;
        it->second->next_attempt = JitteredWithin(now, c.window, rng_);
        spdlog::info("renew-now {}: at {}", service, FormatTime(*it->second->next_attempt));
      }
      break;
    }
    case Command::Kind::kHeartbeatAck:
      break;
  }
}

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
  std::optional<uint64_t> highest;
  if (it != instances_.end() && it->second->release_counter > 0) {
    highest = it->second->release_counter;
  }
  auto instance = std::make_unique<Instance>();
  instance->service = service;
  instance->dir = dir_ + "/instances/" + service;
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

  auto checked = FetchAndVerify(site_, packages_, node_, service, highest, verifier_, rng_);
  if (!checked.ok()) {
    instance->state = kRefused;
    instance->cause = earlier;
    instance->last_error = (earlier.empty() ? "" : earlier + "; then ") + "cannot get " + service +
                           ": " + checked.status().ToString();
    instance->failures = attempts;
    instance->next_attempt = RedeployAt(attempts);
    instance->redeploy = true;
    spdlog::warn("deploy {}: {}; next attempt {}", service, instance->last_error,
                 FormatTime(*instance->next_attempt));
    instances_[service] = std::move(instance);
    return;
  }
  instance->digest_algorithm = checked->package.digest_algorithm;
  instance->digest = checked->package.digest;
  instance->name = checked->package.name;
  instance->version = checked->package.version;
  instance->release_counter = checked->package.release_counter;
  instance->cert_dev = std::move(checked->cert_dev);
  instance->cert_store = std::move(checked->cert_store);
  instance->developer = std::move(checked->developer_identity);
  instance->cert_site = std::move(checked->cert_site);
  instance->key = std::move(checked->instance_key);
  instance->policy_json = PolicyOf(*instance->cert_site);
  instance->suggested = RenewalWindow{checked->renew_after, checked->renew_before};
  Instance& ref = *instance;
  instances_[service] = std::move(instance);
  if (!checked->verification.ok()) {
    ref.state = kRefused;
    ref.last_error = "verification failed: " + checked->verification.failure->ToString();
    spdlog::error("deploy {} refused: {}", service, ref.last_error);
    return;
  }
  if (Status s = SaveInstance(ref); !s.ok()) {
    // (A full or read-only disk, say: tried again until it can be kept.)
    ref.state = kRefused;
    ref.last_error = "cannot keep the instance: " + s.ToString();
    ref.failures = attempts;
    ref.next_attempt = RedeployAt(attempts);
    ref.redeploy = true;
    spdlog::error("deploy {}: {}", service, ref.last_error);
    return;
  }
  Schedule(ref);
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
    std::error_code ec;
    std::filesystem::remove_all(i.dir, ec);
    i.cert_site.reset();
    i.key.reset();
  }
}

TimePoint NodeManager::RedeployAt(int attempts) {
  // Capped, jittered exponential backoff: a site-wide restart whose deploys the slsm's rate limit
  // refused comes back within seconds, spread out, not all together after retry_max.
  const Seconds d = std::min(options_.renewal.retry_max,
                             options_.renewal.retry_initial * (1 << std::min(attempts - 1, 10)));
  const TimePoint now = clock_.Now();
  return UniformBetween(now + d / 2, now + d, rng_);
}

void NodeManager::RefetchLater(Instance& i) {
  i.redeploy = true;
  i.cause = i.last_error;
  i.next_attempt = clock_.Now() + options_.renewal.retry_initial;
  spdlog::warn("{}: its package will be fetched again at {}", i.service,
               FormatTime(*i.next_attempt));
}

void NodeManager::Schedule(Instance& i) {
  i.failures = 0;
  i.stale = false;
  i.next_attempt = policy_.FirstAttempt(TimesOf(*i.cert_site, i.suggested), rng_);
}

// --- verification and launch -----------------------------------------------------------------

Result<UniqueFd> NodeManager::OpenPackage(const Instance& i) const {
  SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(i.digest_algorithm));
  SITECHAIN_ASSIGN_OR_RETURN(auto bytes, HexDecode(i.digest));
  return packages_.Open(pki::Digest{alg, bytes});
}

pki::ChainInput NodeManager::ChainFor(const Instance& i, int executable_fd) const {
  pki::ChainInput input;
  input.store_root = node_.store_root;
  input.site_root = node_.identity.site_root;
  input.developer_identity = i.developer;
  input.cert_dev = i.cert_dev;
  input.cert_store = i.cert_store;
  input.cert_site = i.cert_site;
  input.executable_fd = executable_fd;
  input.expected_node_id =
      pki::NodeSpiffeId(node_.identity.site_root.Subject().common_name, node_.node);
  return input;
}

Status NodeManager::VerifyInstance(const Instance& i) {
  SITECHAIN_ASSIGN_OR_RETURN(UniqueFd fd, OpenPackage(i));
  const pki::Verification v = verifier_.Verify(ChainFor(i, fd.get()));
  if (!v.ok()) return FailedPrecondition(v.failure->ToString());
  if (i.key && i.cert_site->PublicKeyDer() != i.key->PublicKeyDer()) {
    return FailedPrecondition("the Cert_site is not for this instance's key");
  }
  return Status::Ok();
}

Status NodeManager::Launch(Instance& i) {
  // Verify from the descriptor that will be exec'd: no window between check and use.
  auto fd = OpenPackage(i);
  if (!fd.ok()) {
    (void)runner_.Stop(i.service);  // whatever ran before must not go on unchecked
    i.state = kRefused;
    i.last_error = fd.status().ToString();
    i.next_attempt.reset();  // a refused instance is not renewed
    return fd.status();
  }
  const pki::Verification v = verifier_.Verify(ChainFor(i, fd->get()));
  if (!v.ok()) {
    const bool expired = v.failure->reason == pki::Reason::kExpired &&
                         v.failure->certificate == pki::CertRole::kCertSite;
    (void)runner_.Stop(i.service);
    i.state = expired ? kExpired : kRefused;
    i.last_error = "not started: " + v.failure->ToString();
    if (expired && !i.next_attempt) i.next_attempt = clock_.Now();
    if (!expired) i.next_attempt.reset();
    if (v.failure->reason == pki::Reason::kDigestMismatch) RefetchLater(i);
    spdlog::error("{} {}", i.service, i.last_error);
    return FailedPrecondition(i.last_error);
  }
  if (!i.key || i.cert_site->PublicKeyDer() != i.key->PublicKeyDer()) {
    // (A damaged instance.key that still parses as a key: never hand the service a key that
    // its certificate does not name.)
    (void)runner_.Stop(i.service);
    i.state = kRefused;
    i.last_error = "not started: " + i.dir +
                   "/instance.key is not the key of its Cert_site (damaged?); waiting for the "
                   "site manager to deploy it again";
    i.next_attempt.reset();
    spdlog::error("{} {}", i.service, i.last_error);
    return FailedPrecondition(i.last_error);
  }
  auto launch_policy = ParseLaunchPolicy(i.policy_json);
  if (!launch_policy.ok()) {
    (void)runner_.Stop(i.service);
    i.state = kRefused;
    i.last_error =
        "the sitePolicy cannot be honoured on this node: " + launch_policy.status().message();
    i.next_attempt.reset();
    spdlog::error("{} {}", i.service, i.last_error);
    return launch_policy.status();
  }
  LaunchSpec launch;
  launch.service = i.service;
  launch.executable_fd = fd->get();
  launch.args = launch_policy->args;
  launch.env = launch_policy->env;
  const std::string site = node_.identity.site_root.Subject().common_name;
  launch.env["SITECHAIN_SERVICE"] = i.service;
  launch.env["SITECHAIN_SPIFFE_ID"] = pki::ServiceSpiffeId(site, node_.node, i.service);
  launch.env["SITECHAIN_CERT_FILE"] = i.dir + "/cert-site.pem";
  launch.env["SITECHAIN_KEY_FILE"] = i.dir + "/instance.key";
  launch.env["SITECHAIN_TRUST_BUNDLE_FILE"] = i.dir + "/bundle.pem";
  launch.env["SITECHAIN_POLICY_FILE"] = i.dir + "/policy.json";
  launch.working_dir = i.dir;
  launch.stdout_path = i.dir + "/stdout.log";
  launch.stderr_path = i.dir + "/stderr.log";
  launch.restart = launch_policy->restart;
  (void)runner_.Stop(i.service);
  if (Status s = runner_.Start(launch); !s.ok()) {
    i.state = kRefused;
    i.last_error = "cannot start: " + s.ToString();
    i.next_attempt.reset();
    return s;
  }
  i.state = kRunning;
  i.last_error.clear();
  std::string rules;
  for (int r : v.rules_checked) rules += (rules.empty() ? "" : " ") + std::to_string(r);
  spdlog::info("started {} {} (verified rules {}; Cert_site until {})", i.service, i.Release(),
               rules, FormatTime(i.cert_site->NotAfter()));
  return Status::Ok();
}

// --- persistence -----------------------------------------------------------------------------

Status NodeManager::SaveInstance(const Instance& i) {
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(i.dir, 0700));
  SITECHAIN_RETURN_IF_ERROR(i.key->Save(i.dir + "/instance.key", std::nullopt, rng_, true));
  SITECHAIN_RETURN_IF_ERROR(i.cert_dev->Save(i.dir + "/cert-dev.pem"));
  SITECHAIN_RETURN_IF_ERROR(i.cert_store->Save(i.dir + "/cert-store.pem"));
  SITECHAIN_RETURN_IF_ERROR(i.developer->Save(i.dir + "/developer.pem"));
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(
      i.dir + "/bundle.pem", node_.identity.site_root.ToPem() + node_.store_root.ToPem(), 0644));
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(i.dir + "/policy.json", i.policy_json + "\n", 0644));
  const nlohmann::json meta = {
      {"service", i.service},
      {"name", i.name},
      {"version", i.version},
      {"release_counter", i.release_counter},
      {"digest_algorithm", i.digest_algorithm},
      {"digest", i.digest},
      {"renew_after", i.suggested ? ToUnixSeconds(i.suggested->renew_after) : 0},
      {"renew_before", i.suggested ? ToUnixSeconds(i.suggested->renew_before) : 0}};
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(i.dir + "/instance.json", meta.dump(2) + "\n", 0644));
  // Last: the certificate that makes the instance runnable.
  return i.cert_site->Save(i.dir + "/cert-site.pem");
}

Status NodeManager::Recover(const std::string& service) {
  auto instance = std::make_unique<Instance>();
  Instance& i = *instance;
  i.service = service;
  i.dir = dir_ + "/instances/" + service;
  instances_[service] = std::move(instance);
  auto fail = [&](Status s) {
    i.state = kRefused;
    i.last_error = "not recovered: " + s.ToString();
    return s;
  };
  auto meta_text = ReadSmallFile(i.dir + "/instance.json", 64 << 10);
  if (!meta_text.ok()) return fail(meta_text.status());
  try {
    const auto meta = nlohmann::json::parse(*meta_text);
    i.name = meta.at("name").get<std::string>();
    i.version = meta.at("version").get<std::string>();
    i.release_counter = meta.at("release_counter").get<uint64_t>();
    i.digest_algorithm = meta.at("digest_algorithm").get<std::string>();
    i.digest = meta.at("digest").get<std::string>();
    const int64_t after = meta.value("renew_after", int64_t{0});
    const int64_t before = meta.value("renew_before", int64_t{0});
    if (after > 0 && before >= after) {
      i.suggested = RenewalWindow{FromUnixSeconds(after), FromUnixSeconds(before)};
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(DataLoss(i.dir + "/instance.json is corrupt: " + e.what()));
  }
  auto load = [&](const char* file, std::optional<pki::Certificate>& out) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::Load(i.dir + "/" + file));
    out = std::move(cert);
    return Status::Ok();
  };
  for (auto [file, out] : {std::pair{"cert-dev.pem", &i.cert_dev},
                           {"cert-store.pem", &i.cert_store},
                           {"developer.pem", &i.developer},
                           {"cert-site.pem", &i.cert_site}}) {
    if (Status s = load(file, *out); !s.ok()) return fail(s);
  }
  auto key = pki::PrivateKey::Load(i.dir + "/instance.key", std::nullopt);
  if (!key.ok()) return fail(key.status());
  i.key = std::move(*key);
  i.policy_json = PolicyOf(*i.cert_site);
  Schedule(i);
  // Launch re-verifies everything (rules 1-8, the executable hashed again) before it starts.
  return Launch(i);
}

// --- renewal ---------------------------------------------------------------------------------

void NodeManager::ExpireDue(TimePoint now) {
  for (auto& [service, i] : instances_) {
    if (i->state != kRunning || !i->cert_site || now < i->cert_site->NotAfter()) continue;
    (void)runner_.Stop(service);
    i->state = kExpired;
    i->last_error = "Cert_site expired at " + FormatTime(i->cert_site->NotAfter()) +
                    " without renewal; stopped (fail closed) until a fresh one verifies";
    spdlog::warn("{} {}", service, i->last_error);
    if (!i->next_attempt || *i->next_attempt > now) i->next_attempt = now;
  }
}

void NodeManager::RenewDue(TimePoint now) {
  // Only what runs, or ran until its certificate expired, renews; a refused instance waits for
  // the slsm to deploy it again. When one is due, those due soon after share its call.
  auto renewable = [](const Instance& i) {
    return i.next_attempt && i.key && (i.state == kRunning || i.state == kExpired);
  };
  const bool any_due = std::any_of(instances_.begin(), instances_.end(), [&](const auto& e) {
    return renewable(*e.second) && *e.second->next_attempt <= now;
  });
  std::vector<std::string> due;
  for (auto& [service, i] : instances_) {
    if (any_due && renewable(*i) && *i->next_attempt <= now + options_.batch_interval) {
      due.push_back(service);
    }
  }
  if (!due.empty()) RenewBatch(due);
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

void NodeManager::RenewBatch(const std::vector<std::string>& services) {
  std::vector<RenewalEntry> entries;
  for (const auto& service : services) {
    Instance& i = *instances_.at(service);
    auto csr = pki::CertificateRequest::Create(*i.key, service, rng_);
    if (!csr.ok()) continue;
    entries.push_back({service, csr->ToDer()});
  }
  if (entries.empty()) return;
  // The call may not hold the loop past the first notAfter of what runs: ExpireDue must stop
  // that on time however dead the link is (fail closed).
  std::chrono::milliseconds budget = std::chrono::hours(1);
  const TimePoint started = clock_.Now();
  for (const auto& [service, i] : instances_) {
    if (i->state == kRunning && i->cert_site) {
      budget = std::min(budget, Until(started, i->cert_site->NotAfter()));
    }
  }
  budget = std::max(budget, std::chrono::milliseconds(200));
  auto outcomes = site_.RenewWithin(entries, budget);
  const TimePoint now = clock_.Now();
  auto retry = [&](Instance& i, const Status& why) {
    ++i.failures;
    i.renewal_error = "renewal failed: " + why.ToString();
    if (i.cert_site) {
      i.next_attempt = policy_.NextRetry(TimesOf(*i.cert_site, i.suggested), now, i.failures, rng_);
    } else {
      i.next_attempt.reset();
    }
    if (!i.next_attempt) {  // expired: keep asking, at the capped retry interval
      const auto d = std::min(options_.renewal.retry_max,
                              options_.renewal.retry_initial * (1 << std::min(i.failures, 10)));
      i.next_attempt = now + d;
    }
    spdlog::warn("{} {}; next attempt {}", i.service, i.renewal_error, FormatTime(*i.next_attempt));
  };
  if (!outcomes.ok()) {
    for (const auto& e : entries) retry(*instances_.at(e.service), outcomes.status());
    return;
  }
  // An entry the answer leaves out failed too (else it would be asked again at once, forever).
  for (const auto& e : entries) {
    if (std::none_of(outcomes->begin(), outcomes->end(),
                     [&](const RenewalOutcome& o) { return o.service == e.service; })) {
      retry(*instances_.at(e.service), DataLoss("the site manager did not answer for it"));
    }
  }
  for (const RenewalOutcome& o : *outcomes) {
    auto it = instances_.find(o.service);
    if (it == instances_.end()) continue;
    Instance& i = *it->second;
    if (!o.status.ok()) {
      retry(i, o.status);
      if (o.status.code() == StatusCode::kResourceExhausted && o.renew_after > now) {
        // The slsm's "come back then", unless that is past notAfter: a certificate that could
        // still be renewed must not expire waiting (the backoff's time stands then).
        const TimePoint at = UniformBetween(o.renew_after, o.renew_before, rng_);
        if (!i.cert_site || at < i.cert_site->NotAfter()) i.next_attempt = at;
      }
      continue;
    }
    auto cert = pki::Certificate::FromDer(o.cert_site_der);
    if (!cert.ok()) {
      retry(i, cert.status());
      continue;
    }
    std::optional<pki::Certificate> previous = i.cert_site;
    const std::string previous_policy = i.policy_json;
    i.cert_site = std::move(*cert);
    if (Status s = VerifyInstance(i); !s.ok()) {
      // Never use what does not verify. If the old certificate no longer verifies either (the
      // package on disk changed, say), the service must not go on running.
      i.cert_site = previous;
      Status old = previous && previous->NotAfter() > now ? VerifyInstance(i) : Status::Ok();
      if (!old.ok()) {
        // What verified at launch does not any more: the package kept on disk changed.
        (void)runner_.Stop(i.service);
        i.state = kRefused;
        i.last_error = "stopped: " + old.message();
        i.next_attempt.reset();
        spdlog::error("{} {}", i.service, i.last_error);
        RefetchLater(i);
        continue;
      }
      retry(i, FailedPrecondition("the renewed Cert_site does not verify: " + s.message()));
      continue;
    }
    i.policy_json = PolicyOf(*i.cert_site);
    const std::optional<RenewalWindow> previous_window = i.suggested;
    i.suggested = RenewalWindow{o.renew_after, o.renew_before};
    if (Status s = SaveInstance(i); !s.ok()) {
      // Not kept (a full or read-only disk): go on with what is on disk, and with its
      // notAfter, which the service's own files show (the renewed one is not used).
      i.cert_site = previous;
      i.policy_json = previous_policy;
      i.suggested = previous_window;
      retry(i, Status(s.code(), "cannot keep the renewed Cert_site: " + s.message()));
      continue;
    }
    Schedule(i);
    i.renewal_error.clear();
    spdlog::info("renewed {}: Cert_site {} until {}, next renewal {}", i.service,
                 i.cert_site->SerialHex(), FormatTime(i.cert_site->NotAfter()),
                 FormatTime(*i.next_attempt));
    // A new policy may change how the service is launched; a stopped (expired, refused)
    // instance starts again now that a fresh certificate verifies.
    if (i.state != kRunning || i.policy_json != previous_policy) (void)Launch(i);
  }
}

void NodeManager::RenewNodeCertificateIfDue(TimePoint now) {
  if (!node_renewal_ || *node_renewal_ > now) return;
  const CertificateTimes times = TimesOf(node_.identity.certificate, std::nullopt);
  auto csr = pki::CertificateRequest::Create(node_.identity.key, node_.node, rng_);
  Result<pki::Certificate> cert = csr.ok() ? site_.RenewNode(csr->ToDer()) : csr.status();
  if (cert.ok() && cert->PublicKeyDer() == node_.identity.key.PublicKeyDer() &&
      cert->SignatureVerifiesWith(node_.identity.site_root) &&
      SaveNodeCertificate(dir_, *cert).ok()) {
    node_.identity.certificate = std::move(*cert);
    site_.SetNodeCertificate(node_.identity.certificate);
    {
      std::lock_guard lock(mu_);
      node_not_before_ = node_.identity.certificate.NotBefore();
    }
    node_failures_ = 0;
    node_renewal_ = policy_.FirstAttempt(TimesOf(node_.identity.certificate, std::nullopt), rng_);
    spdlog::info("renewed the node certificate until {}",
                 FormatTime(node_.identity.certificate.NotAfter()));
    return;
  }
  ++node_failures_;
  node_renewal_ = policy_.NextRetry(times, now, node_failures_, rng_);
  spdlog::warn(
      "node certificate renewal failed: {}",
      cert.ok() ? "the certificate returned is not for this node" : cert.status().ToString());
  if (!node_renewal_) {
    // Expired (the node was offline): the slsm still renews it, on proof of the node key, within
    // its recovery grace; after that the node needs a new join token. Keep asking meanwhile.
    node_renewal_ = now + options_.renewal.retry_max;
    spdlog::error(
        "the node certificate expired at {}; asking the site manager to renew it on proof of the "
        "node key (within its recovery grace; after that the node needs a new join token)",
        FormatTime(times.not_after));
  }
}

void NodeManager::OnReconnect(TimePoint now) {
  // After an outage: what expired or is overdue renews first, most urgent first, spread out.
  std::vector<ReconnectCandidate> candidates;
  std::vector<std::string> ids;
  for (auto& [service, i] : instances_) {
    if (!i->cert_site || !i->next_attempt || !i->key) continue;
    candidates.push_back({ids.size(), i->cert_site->NotAfter(), *i->next_attempt, i->stale});
    ids.push_back(service);
  }
  for (const auto& plan :
       PlanReconnect(candidates, now, ReconnectRule::kDue, options_.reconnect_spacing, rng_)) {
    instances_.at(ids[plan.id])->next_attempt = plan.at;
  }
}

// --- the link to the slsm --------------------------------------------------------------------

void NodeManager::Link() {
  Seconds backoff = options_.reconnect_initial;
  while (true) {
    std::vector<InstanceReport> hello;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      for (const auto& i : snapshot_.instances) {
        if (i.state == kStopped) continue;
        hello.push_back({i.service, i.state, i.last_error, i.not_after});
      }
    }
    auto stream = site_.Connect(hello);
    if (stream.ok()) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stream_ = stream->get();
        connected_ = true;
      }
      spdlog::info("connected to the site manager at {}", node_.slsm);
      Post({Event::Kind::kConnected, {}});
      // Heartbeats beside the reader; a missing acknowledgement ends the stream.
      std::atomic<bool> done{false};
      std::atomic<int64_t> last_ack{ToUnixSeconds(clock_.Now())};
      std::thread beat([&] {
        uint64_t counter = 0;
        std::unique_lock lock(mu_);
        while (!stopping_ && !done) {
          cv_.wait_for(lock, options_.heartbeat_interval, [&] { return stopping_ || done.load(); });
          if (stopping_ || done) break;
          lock.unlock();
          const bool sent = (*stream)->SendHeartbeat(++counter);
          const bool stale =
              ToUnixSeconds(clock_.Now()) - last_ack > 3 * options_.heartbeat_interval.count();
          if (!sent || stale) {
            (*stream)->Cancel();
            lock.lock();
            break;
          }
          lock.lock();
        }
      });
      while (auto command = (*stream)->Next()) {
        // The slsm answered: the stream is really up (a refused one ends before anything comes).
        backoff = options_.reconnect_initial;
        if (command->kind == Command::Kind::kHeartbeatAck) {
          last_ack = ToUnixSeconds(clock_.Now());
          continue;
        }
        Post({Event::Kind::kCommand, *command});
      }
      done = true;
      {
        std::lock_guard lock(mu_);
        cv_.notify_all();
      }
      beat.join();
      const Status ended = (*stream)->Close();
      {
        std::lock_guard lock(mu_);
        stream_ = nullptr;
        connected_ = false;
      }
      Post({Event::Kind::kDisconnected, {}});
      spdlog::warn("the command stream to {} ended: {}", node_.slsm, ended.ToString());
    } else {
      const std::string hint = ClockHint(clock_.Now());
      spdlog::warn("cannot connect to the site manager: {}{}", stream.status().ToString(),
                   hint.empty() ? "" : "; " + hint);
    }
    // Jittered, capped exponential backoff before the next attempt.
    const auto wait = std::chrono::milliseconds(
        500 * backoff.count() +
        static_cast<int64_t>(rng_.Uniform(static_cast<uint64_t>(500 * backoff.count()) + 1)));
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    backoff = std::min(options_.reconnect_max, backoff * 2);
  }
}

}  // namespace sitechain::nlsm
