#include "nlsm/renewer.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/log.h"
#include "common/time_format.h"
#include "pki/csr.h"

namespace sitechain::nlsm {
namespace {

using instance_state::kExpired;
using instance_state::kRunning;

std::chrono::milliseconds Until(TimePoint from, TimePoint to) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(to - from));
}

// Only what runs, or ran until its certificate expired, renews; a refused instance waits for
// the slsm to deploy it again.
bool Renewable(const Instance& i) {
  return i.next_attempt && i.key && (i.state == kRunning || i.state == kExpired);
}

}  // namespace

Renewer::Renewer(std::string dir, SiteClient& site, const Clock& clock, Random& rng,
                 RenewerOptions options)
    : dir_(std::move(dir)),
      site_(site),
      clock_(clock),
      rng_(rng),
      options_(std::move(options)),
      policy_(options_.renewal) {}

void Renewer::Schedule(Instance& i) {
  i.failures = 0;
  i.stale = false;
  i.next_attempt = policy_.FirstAttempt(TimesOf(*i.cert_site, i.suggested), rng_);
}

void Renewer::Retry(Instance& i, const Status& why, TimePoint now) {
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
}

bool Renewer::RenewSoon(Instance& i, Seconds window, TimePoint now) {
  // A refused or stopped instance does not renew (it waits for a deploy).
  if (!i.key || (i.state != kRunning && i.state != kExpired)) return false;
  i.stale = true;
  i.next_attempt = JitteredWithin(now, window, rng_);
  spdlog::info("renew-now {}: at {}", i.service, FormatTime(*i.next_attempt));
  return true;
}

std::vector<std::string> Renewer::Due(const Instances& instances, TimePoint now) const {
  // When one is due, those due soon after share its call.
  const bool any_due = std::any_of(instances.begin(), instances.end(), [&](const auto& e) {
    return Renewable(*e.second) && *e.second->next_attempt <= now;
  });
  std::vector<std::string> due;
  for (const auto& [service, i] : instances) {
    if (any_due && Renewable(*i) && *i->next_attempt <= now + options_.batch_interval) {
      due.push_back(service);
    }
  }
  return due;
}

bool Renewer::MustExpire(const Instance& i, TimePoint now) {
  return i.state == kRunning && i.cert_site && now >= i.cert_site->NotAfter();
}

void Renewer::MarkExpired(Instance& i, TimePoint now) {
  i.state = kExpired;
  i.last_error = "Cert_site expired at " + FormatTime(i.cert_site->NotAfter()) +
                 " without renewal; stopped (fail closed) until a fresh one verifies";
  spdlog::warn("{} {}", i.service, i.last_error);
  if (!i.next_attempt || *i.next_attempt > now) i.next_attempt = now;
}

void Renewer::Renew(Instances& instances, const std::vector<std::string>& services,
                    const Install& install) {
  std::vector<RenewalEntry> entries;
  std::map<std::string, pki::PrivateKey> keys;
  for (const auto& service : services) {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng_);
    auto csr = pki::CertificateRequest::Create(key, service, rng_);
    if (!csr.ok()) continue;
    entries.push_back({service, csr->ToDer()});
    keys.emplace(service, std::move(key));
  }
  if (entries.empty()) return;
  // The call may not hold the loop past the first notAfter of what runs: the expiry check must
  // stop that on time however dead the link is (fail closed).
  std::chrono::milliseconds budget = std::chrono::hours(1);
  const TimePoint started = clock_.Now();
  for (const auto& [service, i] : instances) {
    if (i->state == kRunning && i->cert_site) {
      budget = std::min(budget, Until(started, i->cert_site->NotAfter()));
    }
  }
  budget = std::max(budget, std::chrono::milliseconds(200));
  auto outcomes = site_.RenewWithin(entries, budget);
  const TimePoint now = clock_.Now();
  if (!outcomes.ok()) {
    for (const auto& e : entries) Retry(*instances.at(e.service), outcomes.status(), now);
    return;
  }
  // An entry the answer leaves out failed too (else it would be asked again at once, forever).
  for (const auto& e : entries) {
    if (std::none_of(outcomes->begin(), outcomes->end(),
                     [&](const RenewalOutcome& o) { return o.service == e.service; })) {
      Retry(*instances.at(e.service), DataLoss("the site manager did not answer for it"), now);
    }
  }
  for (const RenewalOutcome& o : *outcomes) {
    auto it = instances.find(o.service);
    const auto key = keys.find(o.service);
    if (it == instances.end() || key == keys.end()) continue;
    Instance& i = *it->second;
    if (!o.status.ok()) {
      Retry(i, o.status, now);
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
      Retry(i, cert.status(), now);
      continue;
    }
    install(i, std::move(*cert), std::move(key->second), o, now);
  }
}

void Renewer::PlanReconnect(Instances& instances, TimePoint now) {
  std::vector<ReconnectCandidate> candidates;
  std::vector<std::string> ids;
  for (auto& [service, i] : instances) {
    if (!i->cert_site || !i->next_attempt || !i->key) continue;
    candidates.push_back({ids.size(), i->cert_site->NotAfter(), *i->next_attempt, i->stale});
    ids.push_back(service);
  }
  for (const auto& plan : nlsm::PlanReconnect(candidates, now, ReconnectRule::kDue,
                                              options_.reconnect_spacing, rng_)) {
    instances.at(ids[plan.id])->next_attempt = plan.at;
  }
}

void Renewer::StartNodeCertificate(const pki::Certificate& certificate) {
  node_renewal_ = policy_.FirstAttempt(TimesOf(certificate, std::nullopt), rng_);
}

bool Renewer::RenewNodeCertificateIfDue(NodeFiles& node, TimePoint now) {
  if (!node_renewal_ || *node_renewal_ > now) return false;
  const CertificateTimes times = TimesOf(node.identity.certificate, std::nullopt);
  auto csr = pki::CertificateRequest::Create(node.identity.key, node.node, rng_);
  Result<pki::Certificate> cert = csr.ok() ? site_.RenewNode(csr->ToDer()) : csr.status();
  if (cert.ok() && cert->PublicKeyDer() == node.identity.key.PublicKeyDer() &&
      cert->SignatureVerifiesWith(node.identity.site_root) &&
      SaveNodeCertificate(dir_, *cert).ok()) {
    node.identity.certificate = std::move(*cert);
    site_.SetNodeCertificate(node.identity.certificate);
    node_failures_ = 0;
    StartNodeCertificate(node.identity.certificate);
    spdlog::info("renewed the node certificate until {}",
                 FormatTime(node.identity.certificate.NotAfter()));
    return true;
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
  return false;
}

}  // namespace sitechain::nlsm
