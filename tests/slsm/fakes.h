#pragma once
// Test support for the slsm unit tests: fakes that wrap real things.
//
// FakeStore is a ReleaseSource serving real releases: Cert_dev, Cert_store and the developer
// identity made by the real builders under a real store root, and real executable bytes. It can
// be told to tamper with what it sends (a byte of the executable, the header, the Cert_store, a
// short stream), as a compromised store or a broken network would.
//
// RecordingNotifier is a NodeNotifier that records every command the site manager sends.
//
// Both are thread-safe.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/extensions.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "slsm/site_service.h"

namespace sitechain::slsm::fakes {

// A release as the store keeps it: what it sends as the header, and the executable.
struct ServedRelease {
  ReleaseHeader header;
  std::string executable;
};

// Makes a release the way devkit and the store do: Cert_dev signed by the developer key under
// the developer identity, Cert_store issued by the store root for it.
inline Result<ServedRelease> MakeRelease(const pki::ServiceRelease& release, std::string executable,
                                         const pki::Certificate& developer_identity,
                                         const pki::PrivateKey& developer_key,
                                         const pki::Certificate& store_root,
                                         const pki::PrivateKey& store_key,
                                         const pki::BuildContext& ctx) {
  const pki::ReleaseSpec spec{release, pki::HashBytes(pki::HashAlgorithm::kSha256, executable),
                              std::nullopt};
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert_dev,
      pki::BuildCertDev(spec, developer_identity, developer_key, Seconds(365 * 86400), ctx));
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert_store,
      pki::BuildCertStore(cert_dev, store_root, store_key, Seconds(365 * 86400), ctx));
  ServedRelease out;
  out.header.name = release.name;
  out.header.version = release.version;
  out.header.release_counter = release.release_counter;
  out.header.developer = developer_identity.Subject().common_name;
  out.header.digest_algorithm = "sha256";
  out.header.digest = spec.executable.Hex();
  out.header.size = executable.size();
  out.header.cert_dev_pem = cert_dev.ToPem();
  out.header.cert_store_pem = cert_store.ToPem();
  out.header.developer_certificate_pem = developer_identity.ToPem();
  out.executable = std::move(executable);
  return out;
}

class FakeStore final : public ReleaseSource {
 public:
  // Changes what is sent for one download; the stored release stays as it was.
  using Tamper = std::function<void(ReleaseHeader& header, std::string& executable)>;

  void Add(ServedRelease release) {
    std::lock_guard lock(mu_);
    releases_[{release.header.name, release.header.version}] = std::move(release);
  }
  // Applies to every later download until cleared with nullptr.
  void SetTamper(Tamper tamper) {
    std::lock_guard lock(mu_);
    tamper_ = std::move(tamper);
  }
  void SetChunkSize(size_t n) {
    std::lock_guard lock(mu_);
    chunk_ = n;
  }
  int downloads() const {
    std::lock_guard lock(mu_);
    return downloads_;
  }

  Status Download(const std::string& name, const std::string& version,
                  const std::function<Status(const ReleaseHeader&)>& on_header,
                  const std::function<Status(std::span<const uint8_t>)>& on_chunk) override {
    std::optional<ServedRelease> r;
    Tamper tamper;
    size_t chunk = 0;
    {
      std::lock_guard lock(mu_);
      ++downloads_;
      for (const auto& [key, release] : releases_) {
        if (key.first != name || (!version.empty() && key.second != version)) continue;
        if (!r || release.header.release_counter > r->header.release_counter) r = release;
      }
      tamper = tamper_;
      chunk = chunk_;
    }
    if (!r) return NotFound("the store has no release " + name + " " + version);
    if (tamper) tamper(r->header, r->executable);
    SITECHAIN_RETURN_IF_ERROR(on_header(r->header));
    const auto* data = reinterpret_cast<const uint8_t*>(r->executable.data());
    for (size_t off = 0; off < r->executable.size(); off += chunk) {
      const size_t n = std::min(chunk, r->executable.size() - off);
      SITECHAIN_RETURN_IF_ERROR(on_chunk(std::span<const uint8_t>(data + off, n)));
    }
    return Status::Ok();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, ServedRelease> releases_;  // guarded by mu_
  Tamper tamper_;                                                          // guarded by mu_
  size_t chunk_ = 64 * 1024;                                               // guarded by mu_
  int downloads_ = 0;                                                      // guarded by mu_
};

// One command the site manager sent to a node.
struct SentCommand {
  enum class Kind { kDeploy, kStop, kRenewNow, kDisconnect };
  Kind kind;
  std::string node;
  std::vector<std::string> services;
  std::string detail;      // digest (deploy), reason (stop, disconnect)
  Seconds window{0};       // renew-now
  TimePoint not_before{};  // renew-now: held back until then (TimePoint{}: sent at once)
};

class RecordingNotifier final : public NodeNotifier {
 public:
  void Deploy(const std::string& node, const std::string& service,
              const std::string& digest) override {
    Record({SentCommand::Kind::kDeploy, node, {service}, digest, Seconds(0)});
  }
  void Stop(const std::string& node, const std::string& service,
            const std::string& reason) override {
    Record({SentCommand::Kind::kStop, node, {service}, reason, Seconds(0)});
  }
  void RenewNow(const std::string& node, const std::vector<std::string>& services, Seconds window,
                TimePoint not_before) override {
    Record({SentCommand::Kind::kRenewNow, node, services, "", window, not_before});
  }
  void Disconnect(const std::string& node, const Status& reason) override {
    Record({SentCommand::Kind::kDisconnect, node, {}, reason.message(), Seconds(0)});
  }

  // Everything recorded so far, and forgets it.
  std::vector<SentCommand> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(sent_, {});
  }
  // The recorded commands of one kind (without forgetting anything).
  std::vector<SentCommand> OfKind(SentCommand::Kind kind) const {
    std::lock_guard lock(mu_);
    std::vector<SentCommand> out;
    for (const auto& c : sent_) {
      if (c.kind == kind) out.push_back(c);
    }
    return out;
  }

 private:
  void Record(SentCommand c) {
    std::lock_guard lock(mu_);
    sent_.push_back(std::move(c));
  }
  mutable std::mutex mu_;
  std::vector<SentCommand> sent_;  // guarded by mu_
};

}  // namespace sitechain::slsm::fakes
