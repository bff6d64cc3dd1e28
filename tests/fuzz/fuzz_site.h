#pragma once
// A real site manager for the fuzz targets that drive the slsm's own code (node_message,
// enroll_request, renew_request): slsm::SiteService over a site CA, a site database and a
// package store in a temporary directory (under /dev/shm when there is one, so that the fsyncs of
// a commit cost nothing), with two releases installed through the real install from an
// in-memory store (their chains made by pki/builders.h under a store root of its own), two
// nodes enrolled with real join tokens and CSRs, and the releases deployed:
//   node-1 runs hello and world, node-2 runs hello.
// The nodes' command streams are a real slsm::NodeHub.
//
// The clock stands still (kEpoch) and the random source is seeded, so the site is the same at
// the start of every run of a program; what an input changes in it (reported states, enrolled
// nodes, used tokens) stays for the next input, so a target's checks must not depend on it. The
// issuance limit is raised out of the way (a fuzz run issues thousands of certificates in the
// same second of its clock). The directory is removed when the program exits normally, and by
// the next program when a crash ended this one.
//
// Made on first use (Get), which aborts if the site cannot be made. Not thread-safe: libFuzzer
// runs one input at a time.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "pki/certificate.h"
#include "pki/verifier.h"
#include "slsm/node_hub.h"
#include "slsm/site_service.h"

namespace sitechain::fuzz {

class FuzzSite final {
 public:
  // 2026-01-01T00:00:00Z, the time of the site's clock.
  static const TimePoint kEpoch;

  static FuzzSite& Get();
  FuzzSite(const FuzzSite&) = delete;
  FuzzSite& operator=(const FuzzSite&) = delete;

  slsm::SiteService& service() { return *service_; }
  slsm::NodeHub& hub() { return *hub_; }
  Random& rng() { return rng_; }
  const Clock& clock() const { return clock_; }

  // The nodes enrolled at the start, and the services deployed to each.
  static const std::vector<std::string>& Nodes();
  static std::vector<std::string> ServicesOf(const std::string& node);
  // The record AuthenticateNode returned for one of Nodes() at the start.
  const slsm::NodeRecord& record(const std::string& node) const;

  // What a node checks before it runs `service` with `cert_site` (nlsm's FetchAndVerify): every
  // rule of pki::Verifier against the store root, the installed release's chain and package and
  // the node's own SPIFFE ID.
  pki::Verification VerifyAsNode(const std::string& node, const std::string& service,
                                 const pki::Certificate& cert_site);

 private:
  class MemoryStore;
  FuzzSite();

  ManualClock clock_;
  SeededRandom rng_;
  std::string dir_;
  std::unique_ptr<MemoryStore> store_;
  std::optional<pki::Certificate> store_root_;
  std::unique_ptr<slsm::NodeHub> hub_;
  std::unique_ptr<slsm::SiteService> service_;
  std::vector<slsm::NodeRecord> records_;
};

}  // namespace sitechain::fuzz
