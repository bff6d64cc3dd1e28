#pragma once
// One service instance as the node manager keeps it: the package it runs, its certificates and
// key, its state for `nlsm status`, and its renewal or redeploy plan. A plain record shared by the
// node manager's parts (instance_store.h keeps it on disk, deployer.h fills and checks it,
// renewer.h plans its renewals); the state names are what `nlsm status` and the slsm show.
//
// Ownership and threads: the node manager owns every Instance (Instances) and only its loop
// thread reads or changes them; nothing here locks. No errors: plain data.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "nlsm/renewal_policy.h"
#include "nlsm/service_users.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::nlsm {

// The states of an instance, as `nlsm status` shows them. (A namespace of their own: the
// supervisor's ProcessState has enumerators of the same names.)
namespace instance_state {
inline constexpr const char* kRunning = "running";
inline constexpr const char* kRefused = "refused";
inline constexpr const char* kExpired = "expired";
inline constexpr const char* kStopped = "stopped";
inline constexpr const char* kPending = "pending";
}  // namespace instance_state

struct Instance {
  std::string service;
  std::string dir;  // <dir>/instances/<service>: the runtime directory
  // The user it runs as, on a node that isolates services (service_users.h); none: the nlsm's.
  std::optional<ServiceUser> user;
  std::string digest_algorithm, digest;
  std::string name, version;
  uint64_t release_counter = 0;
  std::optional<pki::Certificate> cert_dev, cert_store, developer, cert_site;
  std::optional<pki::PrivateKey> key;
  std::string policy_json = "{}";
  std::string federation_pem;  // federated site roots for the service (federation.pem)
  std::string state = instance_state::kPending;
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

// Every instance of the node, by service name.
using Instances = std::map<std::string, std::unique_ptr<Instance>>;

// The sitePolicy a Cert_site carries ("{}" if none).
std::string PolicyOf(const pki::Certificate& cert_site);

// What the renewal policy knows of a certificate.
CertificateTimes TimesOf(const pki::Certificate& cert, std::optional<RenewalWindow> suggested);

}  // namespace sitechain::nlsm
