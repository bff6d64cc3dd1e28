#include "sim/message_sizes.h"

#include <algorithm>

#include "pki/builders.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "sim/sim_clock.h"
#include "sitechain/v1/site.pb.h"

namespace sitechain::sim {

std::string SitePolicyWithPayload(uint32_t payload) {
  if (payload == 0) return "{}";
  if (payload < 6) return "{" + std::string(payload, ' ') + "}";
  return "{\"p\":\"" + std::string(payload - 6, 'x') + "\"}";
}

Result<MessageSizes> MessageSizes::Measure(const MessageSizeOptions& options) {
  ManualClock clock(kDefaultEpoch);
  SeededRandom rng(options.seed);
  const pki::BuildContext ctx{clock, rng};

  // The store side only provides Cert_store's protected extensions, which Cert_site copies byte
  // for byte; its key type does not change Cert_site's size, so it uses the fast Ed25519.
  pki::PrivateKey store_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate store_root,
      pki::BuildStoreRoot(store_key, "sim-store", pki::kDefaultRootLifetime, ctx));
  pki::PrivateKey developer_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  SITECHAIN_ASSIGN_OR_RETURN(pki::CertificateRequest developer_csr,
                             pki::CertificateRequest::Create(developer_key, "sim-developer", rng));
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate identity,
      pki::BuildDeveloperIdentity(developer_csr, store_root, store_key,
                                  pki::kDefaultDeveloperIdentityLifetime, ctx));
  const pki::ReleaseSpec spec{{options.service, "1.0.0", 1},
                              pki::HashBytes(pki::HashAlgorithm::kSha256, "sim executable"),
                              std::nullopt};
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert_dev,
      pki::BuildCertDev(spec, identity, developer_key, pki::kDefaultCertDevLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert_store,
      pki::BuildCertStore(cert_dev, store_root, store_key, pki::kDefaultCertDevLifetime, ctx));

  pki::PrivateKey site_key = pki::PrivateKey::Generate(options.site_key, rng);
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate site_root,
      pki::BuildSiteRoot(site_key, options.site, pki::kDefaultRootLifetime, ctx));
  pki::PrivateKey instance_key = pki::PrivateKey::Generate(options.instance_key, rng);
  SITECHAIN_ASSIGN_OR_RETURN(pki::CertificateRequest csr,
                             pki::CertificateRequest::Create(instance_key, options.service, rng));

  MessageSizes out;
  out.options_ = options;
  out.csr_der_ = csr.ToDer();
  out.renew_after_ = ToUnixSeconds(clock.Now() + options.lifetime / 2);
  out.renew_before_ = ToUnixSeconds(clock.Now() + options.lifetime * 3 / 4);

  v1::RenewRequest request;
  v1::InstanceRenewal* entry = request.add_instances();
  entry->set_service(options.service);
  entry->set_csr_der(out.csr_der_.data(), out.csr_der_.size());
  out.request_entry_ = static_cast<uint32_t>(request.ByteSizeLong());

  v1::RenewResponse refused;
  v1::IssuedCertificate* error = refused.add_certificates();
  error->set_service(options.service);
  error->set_code(14);  // UNAVAILABLE
  error->set_message("site CA unavailable, retry later");
  out.error_entry_ = static_cast<uint32_t>(refused.ByteSizeLong());

  const pki::SiteBinding base{options.node, options.service, instance_key.PublicKeyDer(), "{}"};
  for (uint32_t payload = 0; payload <= options.max_payload; ++payload) {
    pki::SiteBinding binding = base;
    binding.site_policy_json = SitePolicyWithPayload(payload);
    SITECHAIN_ASSIGN_OR_RETURN(
        pki::Certificate cert_site,
        pki::BuildCertSite(cert_store, binding, site_root, site_key, options.lifetime, ctx));
    v1::RenewResponse response;
    v1::IssuedCertificate* issued = response.add_certificates();
    issued->set_service(options.service);
    std::vector<uint8_t> der = cert_site.ToDer();
    issued->set_cert_site_der(der.data(), der.size());
    if (options.with_window) {
      issued->set_renew_after(out.renew_after_);
      issued->set_renew_before(out.renew_before_);
    }
    const auto size = static_cast<uint32_t>(response.ByteSizeLong());
    out.response_entry_.push_back(size);
    out.single_call_.push_back(out.request_entry_ + size + options.overhead_per_call);
    out.cert_site_der_.push_back(std::move(der));
  }
  return out;
}

uint32_t MessageSizes::response_entry(uint32_t payload) const {
  return response_entry_[std::min(payload, options_.max_payload)];
}

uint32_t MessageSizes::SingleCall(uint32_t payload) const {
  return single_call_[std::min(payload, options_.max_payload)];
}

uint64_t MessageSizes::BatchCall(std::span<const uint16_t> payloads) const {
  uint64_t total = options_.overhead_per_call;
  for (uint16_t p : payloads) total += request_entry_ + response_entry(p);
  return total;
}

uint64_t MessageSizes::FailedCall(size_t instances) const {
  return options_.overhead_per_call +
         static_cast<uint64_t>(instances) * (request_entry_ + error_entry_);
}

const std::vector<uint8_t>& MessageSizes::cert_site_der(uint32_t payload) const {
  return cert_site_der_[std::min(payload, options_.max_payload)];
}

}  // namespace sitechain::sim
