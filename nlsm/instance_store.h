#pragma once
// The instances a node keeps on disk, so that a restarted nlsm runs again what it ran:
//   <dir>/instances/<service>/        one per deployed service, mode 0700 (0750 and the service's
//                                     group where it runs as its own user); the service's runtime
//       identity.pem (0600; 0440      directory, named by SITECHAIN_* environment variables:
//         and the service's group)
//                                     the instance key, then its Cert_site, in ONE file, so that
//                                     a reader never pairs a renewed certificate with an old key
//                                     (common/identity_file.h)
//       bundle.pem                    the trust bundle: the site root only
//       federation.pem                the roots of federated sites (absent without federation)
//       policy.json                   the sitePolicy of the current Cert_site
//       cert-dev.pem, cert-store.pem, developer.pem, instance.json (digest, counter)
//       stdout.log, stderr.log        (written by the service's process, not here)
//       work/                         the one place the service may write (SITECHAIN_WORK_DIR;
//                                     owned by the service's user, 0700)
// Files are written with write-then-rename, identity.pem last: it makes the instance runnable.
// State of earlier releases (instance.key and cert-site.pem) is read and rewritten as
// identity.pem. Nothing read back is believed: the node manager verifies rules 1–8 again before
// it launches.
//
// Ownership and threads: the node manager owns the store and calls it from its loop thread only;
// it borrows the node's files (for the trust bundle) and the Random (for the key file). Not
// thread-safe. Errors are statuses: the I/O status of a write, DATA_LOSS for a corrupt
// instance.json, the status of a certificate or key that cannot be read.

#include <string>
#include <vector>

#include "common/random.h"
#include "common/result.h"
#include "nlsm/instance.h"
#include "nlsm/node_state.h"

namespace sitechain::nlsm {

class InstanceStore final {
 public:
  // `dir`: the node's state directory (absolute). `node` and `rng` must outlive the store.
  InstanceStore(std::string dir, const NodeFiles& node, Random& rng);
  InstanceStore(const InstanceStore&) = delete;
  InstanceStore& operator=(const InstanceStore&) = delete;

  // <dir>/instances/<service>.
  std::string DirOf(const std::string& service) const;

  // The services kept on disk (the directories under <dir>/instances, created 0700 if missing).
  // The I/O status if it cannot be created or listed.
  Result<std::vector<std::string>> Kept() const;

  // Writes every file of the instance (its directory created 0700), identity.pem last. Requires
  // the key and the certificates. The first failing write's status.
  Status Save(const Instance& instance);

  // Reads the instance's files from instance.dir into it (package, release, suggested window,
  // certificates, key, the policy of its Cert_site), and writes its trust bundle again. The
  // first failing read's (or the write's) status.
  Status Load(Instance& instance) const;

  // Removes the instance's directory: nothing of it may start again after a restart.
  void Forget(const Instance& instance);

  // For a node whose services run as their own users: <dir> and <dir>/instances become 0711
  // (others may pass, not list), <dir>/packages 0700. The I/O status.
  Status OpenToServiceUsers() const;

 private:
  // With a service user: the instance directory root:<gid> 0750, identity.pem 0440 <gid>, work/
  // <uid>:<gid> 0700 (work/ is made in any case).
  Status GrantAccess(const Instance& instance) const;
  static std::optional<gid_t> GroupOf(const Instance& instance);
  // bundle.pem: the roots a service trusts for its peers' identities (the site root).
  Status WriteBundle(const Instance& instance) const;
  // federation.pem: the federated site roots, each for its own trust domain; removed when the
  // site federates with none.
  Status WriteFederation(const Instance& instance) const;
  // Reads identity.pem, or the key and Cert_site files of an earlier release.
  Status LoadIdentity(Instance& instance) const;

  const std::string dir_;
  const NodeFiles& node_;
  Random& rng_;
};

}  // namespace sitechain::nlsm
