#pragma once
// `slsm serve`: opens a site manager's state directory and serves it.
//   - the node-facing Site service over TLS on `listen` (client certificates asked for; every
//     call but GetSiteRoot and Enroll requires a node certificate of this site),
//   - the SiteAdmin service on a UNIX socket (mode 0600),
//   - a follower of the store's revocation feed.
// At start it takes an exclusive lock on <dir>/serve.lock (one server per directory), removes
// package blobs no release refers to, and issues itself a fresh TLS server certificate from the
// site root for the configured names, which it renews (new key) two thirds into its
// `tls_lifetime` while it serves, without dropping node streams (server/tls_identity_renewer.h).
// The key and chain are in <dir>/tls/identity.pem (mode 0600, directory 0700).
//
// The listeners, the lock, the ready file and the shutdown are the server scaffold's (server/).
//
// State directory: root.pem, root.key (slca), store-root.pem, slsm.json, slsm.db, packages/,
// tls/identity.pem (rewritten at every start and renewal).
// Thread-safety: Start, Wait and Shutdown may be called from different threads.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "server/listeners.h"
#include "server/tls_identity_renewer.h"
#include "slca/site_ca.h"
#include "slsm/config.h"
#include "slsm/node_hub.h"
#include "slsm/revocation_follower.h"
#include "slsm/site_service.h"
#include "slsm/store_client.h"

namespace sitechain::slsm {

struct InitOptions {
  std::string dir;
  std::string site;
  std::string store;            // host:port
  std::string store_root_path;  // the store's root certificate, checked and copied
  std::string key_type = "ed25519";
  Seconds lifetime{10 * 365 * 86400};
  std::optional<std::string> passphrase;
};

// `slsm init`: the site CA (slca), a copy of the store root, slsm.json and the database.
// ALREADY_EXISTS if dir holds a site; INVALID_ARGUMENT for a store root that is not a valid
// self-signed CA certificate.
Result<pki::Certificate> InitSite(const InitOptions& options, const Clock& clock, Random& rng);

class SlsmServer final {
 public:
  static Result<std::unique_ptr<SlsmServer>> Start(const std::string& dir, const SlsmConfig& config,
                                                   const std::optional<std::string>& passphrase,
                                                   const Clock& clock, Random& rng);
  ~SlsmServer();
  SlsmServer(const SlsmServer&) = delete;
  SlsmServer& operator=(const SlsmServer&) = delete;

  int port() const { return listeners_->port(); }
  // Blocks until Shutdown has finished.
  void Wait();
  // Stops the feed, closes node streams and gives running calls `grace` to finish.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  SlsmServer() = default;

  UniqueFd lock_;                                    // <dir>/serve.lock, held while serving
  std::unique_ptr<slca::SiteCa> tls_ca_;             // issues the TLS identity (renewer thread)
  std::unique_ptr<server::TlsIdentityRenewer> tls_;  // renews <dir>/tls/identity.pem
  std::unique_ptr<NodeHub> hub_;
  std::unique_ptr<StoreClient> store_;
  std::unique_ptr<SiteService> service_;
  std::unique_ptr<RevocationFollower> follower_;
  std::unique_ptr<grpc::Service> public_service_, admin_service_;
  std::unique_ptr<server::Listeners> listeners_;  // stopped before the services go
};

}  // namespace sitechain::slsm
