#include "nlsm/instance_check.h"

#include "common/hex.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/oids.h"
#include "pki/profile.h"

namespace sitechain::nlsm {

std::optional<std::string> ReleaseNameOf(const pki::Certificate& cert_dev) {
  const auto extension = cert_dev.FindExtension(pki::ServiceReleaseOid());
  if (!extension) return std::nullopt;
  auto release = pki::DecodeServiceRelease(extension->value);
  if (!release.ok()) return std::nullopt;
  return release->name;
}

Result<CheckedInstance> FetchAndVerify(SiteClient& site, const storage::BlobStore& packages,
                                       const NodeFiles& node, const std::string& service,
                                       std::optional<uint64_t> highest_release_counter,
                                       const pki::Verifier& verifier, Random& rng) {
  return FetchAndVerify(
      site, packages, node, service,
      [highest_release_counter](const std::string&) { return highest_release_counter; }, verifier,
      rng);
}

Result<CheckedInstance> FetchAndVerify(SiteClient& site, const storage::BlobStore& packages,
                                       const NodeFiles& node, const std::string& service,
                                       const HighestReleaseCounter& highest_release_counter,
                                       const pki::Verifier& verifier, Random& rng) {
  std::optional<PackageHeader> header;
  std::optional<storage::BlobStore::Writer> writer;
  SITECHAIN_RETURN_IF_ERROR(site.FetchPackage(
      service,
      [&](const PackageHeader& h) -> Status {
        SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(h.digest_algorithm));
        SITECHAIN_ASSIGN_OR_RETURN(auto w, packages.StartUpload(alg, h.size));
        writer.emplace(std::move(w));
        header = h;
        return Status::Ok();
      },
      [&](std::span<const uint8_t> chunk) { return writer->Append(chunk); }));
  if (!header || !writer) return DataLoss("the site manager sent no package for " + service);
  if (writer->size() != header->size) {
    return DataLoss("the package of " + service + " arrived truncated (" +
                    std::to_string(writer->size()) + " of " + std::to_string(header->size) +
                    " bytes)");
  }
  SITECHAIN_RETURN_IF_ERROR(writer->Finish().status());
  SITECHAIN_ASSIGN_OR_RETURN(std::string blob, writer->Commit());

  SITECHAIN_ASSIGN_OR_RETURN(auto cert_dev, pki::Certificate::FromDer(header->cert_dev_der));
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_store, pki::Certificate::FromDer(header->cert_store_der));
  SITECHAIN_ASSIGN_OR_RETURN(auto identity,
                             pki::Certificate::FromDer(header->developer_certificate_der));

  // A fresh key for the instance: the Cert_site is the service's own identity.
  pki::PrivateKey instance_key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, rng);
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::Create(instance_key, service, rng));
  SITECHAIN_ASSIGN_OR_RETURN(auto outcomes, site.Renew({{service, csr.ToDer()}}));
  if (outcomes.size() != 1 || outcomes[0].service != service) {
    return DataLoss("the site manager answered a renewal of " + service + " with something else");
  }
  SITECHAIN_RETURN_IF_ERROR(outcomes[0].status);
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_site, pki::Certificate::FromDer(outcomes[0].cert_site_der));

  // Verify from the very bytes kept, by descriptor (what a launcher would exec).
  SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(header->digest_algorithm));
  SITECHAIN_ASSIGN_OR_RETURN(auto digest_bytes, HexDecode(header->digest));
  SITECHAIN_ASSIGN_OR_RETURN(UniqueFd fd, packages.Open(pki::Digest{alg, digest_bytes}));
  pki::ChainInput input;
  input.store_root = node.store_root;
  input.site_root = node.identity.site_root;
  input.developer_identity = identity;
  input.cert_dev = cert_dev;
  input.cert_store = cert_store;
  input.cert_site = cert_site;
  input.executable_fd = fd.get();
  input.expected_node_id =
      pki::NodeSpiffeId(node.identity.site_root.Subject().common_name, node.node);
  // Rule 7 against the name the Cert_dev carries (the header's name and counter are the slsm's
  // word); without a name the verifier refuses the Cert_dev anyway.
  if (auto name = ReleaseNameOf(cert_dev)) {
    input.highest_release_counter = highest_release_counter(*name);
  }
  pki::Verification verification = verifier.Verify(input);
  if (cert_site.PublicKeyDer() != instance_key.PublicKeyDer() && verification.ok()) {
    verification.failure = pki::Failure{5, pki::CertRole::kCertSite, pki::Reason::kKeyMismatch,
                                        "the Cert_site is not for this instance's key"};
  }
  return CheckedInstance{
      std::move(*header),      std::move(blob),           std::move(cert_dev),
      std::move(cert_store),   std::move(identity),       std::move(cert_site),
      std::move(instance_key), outcomes[0].renew_after,   outcomes[0].renew_before,
      std::move(verification), outcomes[0].federation_pem};
}

}  // namespace sitechain::nlsm
