#include "slsm/site_service.h"

#include <algorithm>

namespace sitechain::slsm {

SiteService::SiteService(slca::SiteCa ca, pki::Certificate store_root, SiteDatabase db,
                         storage::BlobStore packages, ReleaseSource& source, NodeNotifier& nodes,
                         const Clock& clock, Random& rng, SiteOptions options)
    : options_(std::move(options)),
      db_(std::move(db)),
      ca_(std::move(ca)),
      packages_(std::move(packages)),
      issued_(db_),
      enrollment_(ca_, db_, clock, rng, options_),
      deployments_(db_, enrollment_, packages_, nodes, clock, options_),
      catalog_(db_, packages_, std::move(store_root), source, deployments_, clock, options_),
      issuer_(ca_, db_, clock, rng, options_) {}

Result<std::unique_ptr<SiteService>> SiteService::Create(
    slca::SiteCa ca, pki::Certificate store_root, SiteDatabase db, storage::BlobStore packages,
    ReleaseSource& source, NodeNotifier& nodes, const Clock& clock, Random& rng,
    SiteOptions options) {
  SITECHAIN_RETURN_IF_ERROR(options.Validate());
  SITECHAIN_RETURN_IF_ERROR(Catalog::RemoveUnreferencedBlobs(db, packages));
  return std::unique_ptr<SiteService>(new SiteService(std::move(ca), std::move(store_root),
                                                      std::move(db), std::move(packages), source,
                                                      nodes, clock, rng, std::move(options)));
}

// --- admin

Result<ReleaseRecord> SiteService::Install(const std::string& name, const std::string& version) {
  return catalog_.Install(name, version);
}
Result<std::vector<ServiceView>> SiteService::ListServices() { return catalog_.ListServices(); }
Result<ServiceView> SiteService::SetPolicy(const std::string& service,
                                           const std::string& policy_json) {
  return catalog_.SetPolicy(service, policy_json);
}
Result<CreatedJoinToken> SiteService::CreateJoinToken(const std::string& node, Seconds ttl) {
  return enrollment_.CreateJoinToken(node, ttl);
}
Result<std::vector<NodeRecord>> SiteService::ListNodes() { return enrollment_.ListNodes(); }
Result<NodeRecord> SiteService::EvictNode(const std::string& node) {
  return deployments_.EvictNode(node);
}
Result<std::vector<InstanceRecord>> SiteService::Deploy(const std::string& service,
                                                        const std::vector<std::string>& nodes) {
  return deployments_.Deploy(service, nodes);
}
Result<std::vector<InstanceRecord>> SiteService::Undeploy(const std::string& service,
                                                          const std::vector<std::string>& nodes) {
  return deployments_.Undeploy(service, nodes);
}
Result<std::vector<InstanceRecord>> SiteService::ListInstances(const std::string& service,
                                                               const std::string& node) {
  return deployments_.ListInstances(service, node);
}
Result<std::vector<IssuedRecord>> SiteService::ListIssued(uint32_t limit) {
  return issued_.ListIssued(limit == 0 ? 100 : std::min<uint32_t>(limit, 10000));
}
Result<SiteCounts> SiteService::Counts() { return db_.Counts(); }

// --- nodes

Result<Enrolled> SiteService::Enroll(const std::string& token, const std::string& node,
                                     std::span<const uint8_t> csr_der) {
  return enrollment_.Enroll(token, node, csr_der);
}
Result<NodeRecord> SiteService::AuthenticateNode(const std::optional<std::string>& peer_pem) {
  return enrollment_.AuthenticateNode(peer_pem);
}
Result<NodeRecord> SiteService::AuthenticateNodeForRenewal(
    const std::optional<std::string>& peer_pem) {
  return enrollment_.AuthenticateNodeForRenewal(peer_pem);
}
Result<pki::Certificate> SiteService::RenewNode(const NodeRecord& node,
                                                std::span<const uint8_t> csr_der) {
  return enrollment_.RenewNode(node, csr_der);
}
Result<Package> SiteService::PackageFor(const NodeRecord& node, const std::string& service) {
  return deployments_.PackageFor(node, service);
}
Result<std::vector<RenewalResult>> SiteService::Renew(const NodeRecord& node,
                                                      const std::vector<RenewalRequest>& requests) {
  return issuer_.Renew(node, requests);
}
void SiteService::ReportInstance(const std::string& node, const std::string& service,
                                 const std::string& state, const std::string& detail) {
  deployments_.ReportInstance(node, service, state, detail);
}
void SiteService::ReportInstances(const std::string& node, std::vector<InstanceState> states) {
  deployments_.ReportInstances(node, std::move(states));
}
void SiteService::NodeSeen(const std::string& node) { enrollment_.NodeSeen(node); }
Status SiteService::Reconcile(const std::string& node,
                              const std::vector<std::string>& reported_services) {
  return deployments_.Reconcile(node, reported_services);
}

// --- store feed

Status SiteService::ApplyRevocation(const StoreRevocation& revocation) {
  return catalog_.ApplyRevocation(revocation);
}
Result<uint64_t> SiteService::LastFeedSequence() { return catalog_.LastFeedSequence(); }
Status SiteService::ConfirmRevocationFeed(TimePoint as_of) { return catalog_.ConfirmFeed(as_of); }
Result<TimePoint> SiteService::RevocationFeedConfirmedAt() { return catalog_.FeedConfirmedAt(); }

}  // namespace sitechain::slsm
