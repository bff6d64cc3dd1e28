#include "slsm/catalog.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/policy_env.h"
#include "pki/hash.h"
#include "pki/profile.h"

namespace sitechain::slsm {
namespace {

// A policy as the certificate carries it: a JSON object in compact form.
Result<std::string> CompactPolicy(const std::string& text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return InvalidArgument("the policy is " + std::to_string(text.size()) + " bytes; at most " +
                           std::to_string(max_bytes) + " are allowed");
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("the policy is not valid JSON: ") + e.what());
  }
  if (!json.is_object()) return InvalidArgument("the policy must be a JSON object ({...})");
  // The nodes refuse a policy whose "env" they cannot honour (nlsm/launch_policy.cc): say so now,
  // with the same rule, rather than after every node refused it.
  if (auto env = json.find("env"); env != json.end()) {
    if (!env->is_object()) {
      return InvalidArgument("the policy's \"env\" must be an object of string values");
    }
    for (const auto& [name, value] : env->items()) {
      if (Status s = CheckPolicyEnvName(name); !s.ok()) {
        return InvalidArgument("the policy's \"env\": " + s.message());
      }
      if (!value.is_string() ||
          value.get_ref<const std::string&>().find('\0') != std::string::npos) {
        return InvalidArgument("the policy's \"env\": the value of " + name +
                               " must be a string without NUL characters");
      }
    }
  }
  std::string compact = json.dump();
  if (compact.size() > max_bytes) return InvalidArgument("the compact policy is too large");
  return compact;
}

}  // namespace

Catalog::Catalog(SiteDatabase& db, const storage::BlobStore& packages, pki::Certificate store_root,
                 ReleaseSource& source, ServiceInstances& instances, const Clock& clock,
                 const SiteOptions& options)
    : clock_(clock),
      options_(options),
      packages_(packages),
      verifier_(clock, options.verify),
      store_root_(std::move(store_root)),
      source_(source),
      instances_(instances),
      db_(db) {}

Status Catalog::RemoveUnreferencedBlobs(SiteDatabase& db, const storage::BlobStore& packages) {
  SITECHAIN_ASSIGN_OR_RETURN(auto referenced, CatalogDb(db).ReferencedBlobs());
  SITECHAIN_ASSIGN_OR_RETURN(auto present, packages.List());
  const std::set<std::string> keep(referenced.begin(), referenced.end());
  for (const auto& name : present) {
    if (!keep.contains(name)) SITECHAIN_RETURN_IF_ERROR(packages.Remove(name));
  }
  return Status::Ok();
}

Result<ReleaseRecord> Catalog::Install(const std::string& name, const std::string& version) {
  SITECHAIN_RETURN_IF_ERROR(pki::ValidateIdentifier("release name", name));
  std::optional<ReleaseHeader> header;
  std::optional<storage::BlobStore::Writer> writer;
  Status s = source_.Download(
      name, version,
      [&](const ReleaseHeader& h) -> Status {
        if (h.name != name || (!version.empty() && h.version != version)) {
          return DataLoss("the store sent " + h.name + " " + h.version + " for " + name + " " +
                          version);
        }
        auto known = db_.FindRelease(h.name, h.version);
        if (known.ok()) return AlreadyExists(h.name + " " + h.version + " is already installed");
        if (known.status().code() != StatusCode::kNotFound) return known.status();
        if (h.size > options_.max_executable_bytes) {
          return ResourceExhausted("the executable is " + std::to_string(h.size) +
                                   " bytes; this site accepts at most " +
                                   std::to_string(options_.max_executable_bytes));
        }
        SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(h.digest_algorithm));
        SITECHAIN_ASSIGN_OR_RETURN(auto w, packages_.StartUpload(alg, h.size));
        writer.emplace(std::move(w));
        header = h;
        return Status::Ok();
      },
      [&](std::span<const uint8_t> chunk) -> Status {
        if (!writer) return DataLoss("the store sent data before the release header");
        return writer->Append(chunk);
      });
  SITECHAIN_RETURN_IF_ERROR(s);
  if (!header || !writer) return DataLoss("the store's reply carried no release");
  if (writer->size() != header->size) {
    return DataLoss("the store sent " + std::to_string(writer->size()) + " of " +
                    std::to_string(header->size) + " bytes of " + name +
                    "; nothing was installed, try again");
  }
  return CommitInstall(*header, *writer);
}

Result<ReleaseRecord> Catalog::CommitInstall(const ReleaseHeader& h,
                                             storage::BlobStore::Writer& writer) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::Digest digest, writer.Finish());
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_dev, pki::Certificate::FromPem(h.cert_dev_pem));
  SITECHAIN_ASSIGN_OR_RETURN(auto cert_store, pki::Certificate::FromPem(h.cert_store_pem));
  SITECHAIN_ASSIGN_OR_RETURN(auto identity, pki::Certificate::FromPem(h.developer_certificate_pem));
  SITECHAIN_ASSIGN_OR_RETURN(const std::string blob, writer.Commit());
  std::lock_guard lock(mu_);
  // Drops the blob again if the release is refused (unless another release uses the same one).
  auto discard = [&](Status why) -> Status {
    auto referenced = db_.ReferencedBlobs();
    if (referenced.ok() &&
        std::find(referenced->begin(), referenced->end(), blob) == referenced->end()) {
      (void)packages_.Remove(blob);
    }
    return why;
  };
  auto highest_or = db_.HighestReleaseCounter(h.name);
  if (!highest_or.ok()) return discard(highest_or.status());
  const uint64_t highest = *highest_or;
  // 0 is a valid counter: whether the name has a release is the service's existence.
  auto existing = db_.FindService(h.name);
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
    return discard(existing.status());
  }
  const bool installed_before = existing.ok();
  auto fd = packages_.Open(digest);
  if (!fd.ok()) return discard(fd.status());
  pki::ChainInput input;
  input.store_root = store_root_;
  input.developer_identity = identity;
  input.cert_dev = cert_dev;
  input.cert_store = cert_store;
  input.executable_fd = fd->get();
  if (installed_before) input.highest_release_counter = highest;
  const pki::Verification v = verifier_.Verify(input);
  if (!v.ok()) {
    return discard(InvalidArgument("release " + h.name + " " + h.version + " does not verify: " +
                                   v.failure->ToString() + "; nothing was installed"));
  }
  if (v.release->name != h.name || v.release->version != h.version ||
      v.release->release_counter != h.release_counter) {
    return discard(InvalidArgument("the store's description of " + h.name + " " + h.version +
                                   " does not match its certificates"));
  }
  if (installed_before && v.release->release_counter == highest) {
    return discard(FailedPrecondition("release counter " + std::to_string(highest) + " of " +
                                      h.name + " is already installed under another version"));
  }
  ReleaseRecord r;
  r.name = h.name;
  r.version = h.version;
  r.release_counter = h.release_counter;
  r.developer = identity.Subject().common_name;
  r.digest_algorithm = std::string(pki::HashAlgorithmName(digest.algorithm));
  r.digest = digest.Hex();
  r.size = h.size;
  r.blob = blob;
  r.cert_dev_pem = cert_dev.ToPem();
  r.cert_store_pem = cert_store.ToPem();
  r.developer_certificate_pem = identity.ToPem();
  auto inserted = db_.InsertRelease(r, clock_.Now());
  if (!inserted.ok()) return discard(inserted.status());
  // Instances of the service move to the new release: tell their nodes to fetch it.
  SITECHAIN_ASSIGN_OR_RETURN(auto service, db_.FindService(r.name));
  if (service.release_id == inserted->id) {
    SITECHAIN_RETURN_IF_ERROR(instances_.RollOut(r.name, *inserted));
  }
  return inserted;
}

Result<std::vector<ServiceView>> Catalog::ListServices() {
  SITECHAIN_ASSIGN_OR_RETURN(auto services, db_.ListServices());
  std::vector<ServiceView> out;
  for (auto& s : services) {
    SITECHAIN_ASSIGN_OR_RETURN(auto release, db_.FindReleaseById(s.release_id));
    SITECHAIN_ASSIGN_OR_RETURN(uint32_t instances, instances_.CountOf(s.name));
    out.push_back({std::move(s), std::move(release), instances});
  }
  return out;
}

Result<ServiceView> Catalog::SetPolicy(const std::string& service, const std::string& policy_json) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string compact,
                             CompactPolicy(policy_json, options_.max_policy_bytes));
  SITECHAIN_RETURN_IF_ERROR(db_.SetPolicy(service, compact, clock_.Now()));
  SITECHAIN_ASSIGN_OR_RETURN(CurrentRelease current, db_.FindCurrent(service));
  SITECHAIN_ASSIGN_OR_RETURN(uint32_t pushed, instances_.PushPolicy(service));
  return ServiceView{std::move(current.service), std::move(current.release), pushed};
}

Status Catalog::ApplyRevocation(const StoreRevocation& r) {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.Now();
  SITECHAIN_ASSIGN_OR_RETURN(auto services, db_.ListServices());
  if (r.developer) {
    SITECHAIN_RETURN_IF_ERROR(db_.MarkDeveloperRevoked(r.developer_name, r.reason, now).status());
  } else {
    SITECHAIN_RETURN_IF_ERROR(db_.MarkReleaseRevoked(r.name, r.version, r.reason, now).status());
  }
  // Stop every service whose current release is now revoked.
  for (const auto& s : services) {
    SITECHAIN_ASSIGN_OR_RETURN(auto release, db_.FindReleaseById(s.release_id));
    const bool hit = r.developer ? release.developer == r.developer_name
                                 : release.name == r.name && release.version == r.version;
    if (hit && release.revoked) {
      SITECHAIN_RETURN_IF_ERROR(instances_.StopEverywhere(
          s.name, "release " + release.version + " was revoked at the store: " + r.reason));
    }
  }
  return db_.SetLastFeedSequence(r.sequence);
}

Result<uint64_t> Catalog::LastFeedSequence() { return db_.LastFeedSequence(); }
Status Catalog::ConfirmFeed(TimePoint as_of) { return db_.SetFeedConfirmedAt(as_of); }
Result<TimePoint> Catalog::FeedConfirmedAt() { return db_.FeedConfirmedAt(); }

}  // namespace sitechain::slsm
