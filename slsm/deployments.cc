#include "slsm/deployments.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "common/hex.h"
#include "pki/hash.h"

namespace sitechain::slsm {
namespace {

// The longest prefix of `text` of at most `max` bytes that does not end inside a UTF-8 sequence.
// Nodes report in UTF-8 (protobuf refuses other strings), and what is kept must stay UTF-8: the
// site admin's listing carries it in protobuf strings again, which a cut sequence would break.
std::string CutUtf8(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // continuation
  return text.substr(0, n);
}

}  // namespace

Deployments::Deployments(SiteDatabase& db, Enrollment& enrollment,
                         const storage::BlobStore& packages, NodeNotifier& nodes,
                         const Clock& clock, const SiteOptions& options)
    : clock_(clock),
      options_(options),
      packages_(packages),
      nodes_(nodes),
      enrollment_(enrollment),
      db_(db),
      catalog_(db) {}

Result<std::vector<InstanceRecord>> Deployments::Deploy(const std::string& service,
                                                        const std::vector<std::string>& nodes) {
  if (nodes.empty()) return InvalidArgument("name at least one node to deploy to");
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(CurrentRelease current, catalog_.FindCurrent(service));
  const ReleaseRecord& release = current.release;
  if (release.revoked) {
    return FailedPrecondition(service + " runs " + release.version + ", which the store revoked (" +
                              release.revocation_reason + "); install a newer release first");
  }
  for (const auto& n : nodes) {  // all or nothing: check every node first
    SITECHAIN_ASSIGN_OR_RETURN(auto node, enrollment_.FindNode(n));
    if (node.evicted_at) {
      return FailedPrecondition("node '" + n + "' is evicted; enroll it again with a new token");
    }
  }
  const TimePoint now = clock_.Now();
  std::vector<InstanceRecord> added;
  for (const auto& n : nodes) {
    Status s = db_.InsertInstance(service, n, now);
    if (s.code() == StatusCode::kAlreadyExists) continue;
    SITECHAIN_RETURN_IF_ERROR(s);
    SITECHAIN_ASSIGN_OR_RETURN(auto instance, db_.FindInstance(service, n));
    added.push_back(std::move(instance));
    nodes_.Deploy(n, service, release.digest);
  }
  return added;
}

Result<std::vector<InstanceRecord>> Deployments::Undeploy(const std::string& service,
                                                          const std::vector<std::string>& nodes) {
  if (nodes.empty()) return InvalidArgument("name at least one node to undeploy from");
  std::lock_guard lock(mu_);
  std::vector<InstanceRecord> removed;
  for (const auto& n : nodes) {  // all or nothing, as Deploy: check every node first
    SITECHAIN_ASSIGN_OR_RETURN(auto instance, db_.FindInstance(service, n));
    removed.push_back(std::move(instance));
  }
  for (const auto& i : removed) {
    SITECHAIN_RETURN_IF_ERROR(db_.DeleteInstance(service, i.node, clock_.Now()));
    nodes_.Stop(i.node, service, "undeployed by the site admin");
  }
  return removed;
}

Result<std::vector<InstanceRecord>> Deployments::ListInstances(const std::string& service,
                                                               const std::string& node) {
  return db_.ListInstances(service, node);
}

Result<NodeRecord> Deployments::EvictNode(const std::string& node) {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances("", node));
  SITECHAIN_RETURN_IF_ERROR(enrollment_.Evict(node));
  for (const auto& i : instances) nodes_.Stop(node, i.service, "the node was evicted");
  nodes_.Disconnect(node, PermissionDenied("node '" + node +
                                           "' was evicted; it needs a new join "
                                           "token"));
  return enrollment_.FindNode(node);
}

Result<Package> Deployments::PackageFor(const NodeRecord& node, const std::string& service) {
  auto instance = db_.FindInstance(service, node.name);
  if (instance.status().code() == StatusCode::kNotFound) {
    return PermissionDenied("service '" + service + "' is not deployed to node '" + node.name +
                            "'");
  }
  SITECHAIN_RETURN_IF_ERROR(instance.status());
  SITECHAIN_ASSIGN_OR_RETURN(CurrentRelease current, catalog_.FindCurrent(service));
  ReleaseRecord& release = current.release;
  if (release.revoked) {
    return FailedPrecondition(service + " " + release.version +
                              " was revoked at the store: " + release.revocation_reason);
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(release.digest_algorithm));
  SITECHAIN_ASSIGN_OR_RETURN(auto bytes, HexDecode(release.digest));
  SITECHAIN_ASSIGN_OR_RETURN(auto fd, packages_.Open(pki::Digest{alg, std::move(bytes)}));
  return Package{std::move(release), std::move(fd)};
}

void Deployments::ReportInstance(const std::string& node, const std::string& service,
                                 const std::string& state, const std::string& detail) {
  (void)db_.SetInstanceState(service, node, CutUtf8(state, kMaxReportedStateBytes),
                             CutUtf8(detail, kMaxReportedDetailBytes));
}

void Deployments::ReportInstances(const std::string& node, std::vector<InstanceState> states) {
  for (auto& s : states) {
    s.state = CutUtf8(s.state, kMaxReportedStateBytes);
    s.detail = CutUtf8(s.detail, kMaxReportedDetailBytes);
  }
  (void)db_.SetInstanceStates(node, states);
}

Status Deployments::Reconcile(const std::string& node,
                              const std::vector<std::string>& reported_services) {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances("", node));
  std::set<std::string> should_run;
  std::vector<std::string> stale;
  for (const auto& i : instances) {
    SITECHAIN_ASSIGN_OR_RETURN(CurrentRelease current, catalog_.FindCurrent(i.service));
    if (current.release.revoked) continue;
    should_run.insert(i.service);
    nodes_.Deploy(node, i.service, current.release.digest);
    // Issued (notAfter - lifetime) no later than the policy's last change, to the second: the
    // node missed the push while it was away, or it was queued when the node left.
    if (i.certificate_not_after &&
        *i.certificate_not_after - options_.cert_site_lifetime <= current.service.updated_at) {
      stale.push_back(i.service);
    }
  }
  if (!stale.empty()) {
    SITECHAIN_ASSIGN_OR_RETURN(auto push, CatchUpPush(clock_.Now()));
    nodes_.RenewNow(node, stale, push.second, push.first);
  }
  for (const auto& s : reported_services) {
    if (!should_run.contains(s)) nodes_.Stop(node, s, "not deployed to this node (any more)");
  }
  return Status::Ok();
}

Status Deployments::RollOut(const std::string& service, const ReleaseRecord& release) {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(service, ""));
  for (const auto& i : instances) nodes_.Deploy(i.node, service, release.digest);
  return Status::Ok();
}

Result<uint32_t> Deployments::PushPolicy(const std::string& service) {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(service, ""));
  SITECHAIN_ASSIGN_OR_RETURN(auto push, SchedulePush(instances.size(), clock_.Now()));
  for (const auto& i : instances) nodes_.RenewNow(i.node, {service}, push.second, push.first);
  return static_cast<uint32_t>(instances.size());
}

Status Deployments::StopEverywhere(const std::string& service, const std::string& reason) {
  std::lock_guard lock(mu_);
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(service, ""));
  for (const auto& i : instances) nodes_.Stop(i.node, service, reason);
  return Status::Ok();
}

Result<uint32_t> Deployments::CountOf(const std::string& service) {
  SITECHAIN_ASSIGN_OR_RETURN(auto instances, db_.ListInstances(service, ""));
  return static_cast<uint32_t>(instances.size());
}

Result<double> Deployments::PushRate() {
  // The rate the limit leaves for pushes: what the regular renewals of every instance (one per
  // lifetime, in the suggested window) do not use, at least a tenth of the limit.
  SITECHAIN_ASSIGN_OR_RETURN(uint64_t all_instances, db_.CountInstances());
  const double mean_renewal_age = static_cast<double>(options_.cert_site_lifetime.count()) *
                                  (options_.renew_window_start + options_.renew_window_end) / 2;
  const double regular = static_cast<double>(all_instances) / std::max(1.0, mean_renewal_age);
  const double rate = options_.max_issuance_per_second;
  return std::max(0.1 * rate, 0.9 * rate - regular);
}

Result<std::pair<TimePoint, Seconds>> Deployments::SchedulePush(size_t count, TimePoint now) {
  SITECHAIN_ASSIGN_OR_RETURN(const double push_rate, PushRate());
  // n re-issuances at push_rate need n / push_rate seconds; each push is spread over at least
  // policy_push_window. Pushes queue behind each other: the next one starts when this one's
  // share of the rate is used, so that however many are queued their sum stays at push_rate.
  const double needed_s = static_cast<double>(count) / push_rate;
  const TimePoint start = std::max(now, push_free_at_);
  push_free_at_ = start + std::chrono::duration_cast<TimePoint::duration>(
                              std::chrono::duration<double>(needed_s));
  const Seconds window =
      std::max(options_.policy_push_window, Seconds(static_cast<int64_t>(std::ceil(needed_s))));
  return std::pair{start <= now ? TimePoint{} : start, window};
}

Result<std::pair<TimePoint, Seconds>> Deployments::CatchUpPush(TimePoint now) {
  // A catch-up reads the schedule and never moves it: a node reconnects (and says hello) as
  // often as it likes, and only the site admin's policy changes may delay anyone's push. It is
  // spread over the time the whole site's instances would take at the push rate: however many
  // nodes catch up at once (at most every instance), together they stay within that rate.
  SITECHAIN_ASSIGN_OR_RETURN(const double push_rate, PushRate());
  SITECHAIN_ASSIGN_OR_RETURN(uint64_t all_instances, db_.CountInstances());
  const double needed_s = static_cast<double>(all_instances) / push_rate;
  const TimePoint start = std::max(now, push_free_at_);
  const Seconds window =
      std::max(options_.policy_push_window, Seconds(static_cast<int64_t>(std::ceil(needed_s))));
  return std::pair{start <= now ? TimePoint{} : start, window};
}

}  // namespace sitechain::slsm
