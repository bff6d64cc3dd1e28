#pragma once
// Bench support: the World of tests/support/world.h made in this process, by the library code
// the programs run (the benches time the servers in-process), and the site managers that follow
// its store.
//
//   ScratchDir       a fresh directory under $TMPDIR (else /tmp), removed by its destructor.
//   InProcessWorld   a store (store::StoreCa::Init + store::StoreServer on 127.0.0.1 port 0), a
//                    developer registered with a token from the store's admin socket
//                    (devkit::Register), releases signed (pki::BuildCertDev) and published
//                    (devkit::Publish): as `store init`, `store serve`, `store tokens create`,
//                    `devkit register`, `devkit sign` and `devkit publish` do it.
//   InProcessSite    an slsm::SlsmServer following that store, as `slsm init` and `slsm serve`
//                    make it, with the admin calls the benches use (install, join tokens,
//                    deploy, undeploy) over its admin socket.
//
//   SITECHAIN_ASSIGN_OR_RETURN(auto world, InProcessWorld::Create("slsm_bench", clock, rng));
//   SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(world->dir() + "/svc", bytes, 0755));
//   SITECHAIN_RETURN_IF_ERROR(world->Build("bench-developer", {{"svc", "svc"}}));
//   SITECHAIN_ASSIGN_OR_RETURN(auto site, world->StartSite("site", "bench-site"));
//   SITECHAIN_RETURN_IF_ERROR(site->Install("svc"));
//
// Ownership: the caller owns the world and its sites; a site must be destroyed before the world
// (it follows the store's feed). Destroying either stops its server at once (no grace). The
// clock and the random source given to Create must outlive the world and its sites; the random
// source must be thread-safe (the servers share it). Thread-safety: Build and StartSite are for
// one thread; once made, the accessors and the InProcessSite calls may be used from any thread.
// Errors are Statuses naming the step (UNAVAILABLE for a refused admin call, with its message).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/status.h"
#include "devkit/store_commands.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "sitechain/v1/site.grpc.pb.h"
#include "slsm/server.h"
#include "store/server.h"
#include "tests/support/world.h"

namespace sitechain::testutil {

// A fresh directory under $TMPDIR (else /tmp), removed with its contents by the destructor.
class ScratchDir final {
 public:
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  // <$TMPDIR or /tmp>/<prefix>.XXXXXX; UNAVAILABLE if it cannot be made.
  static Result<std::unique_ptr<ScratchDir>> Create(std::string_view prefix);

  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

class InProcessSite;

class InProcessWorld final : public World {
 public:
  InProcessWorld(const InProcessWorld&) = delete;
  InProcessWorld& operator=(const InProcessWorld&) = delete;
  ~InProcessWorld() override;

  // An empty world in a fresh ScratchDir named after `prefix` (the bench's name).
  static Result<std::unique_ptr<InProcessWorld>> Create(std::string_view prefix, const Clock& clock,
                                                        Random& rng);

  // The store in <dir>/store, served on 127.0.0.1 port 0 with `options` (dir and listen are
  // set here); the default options unless set_store_options was called before.
  Status StartStore() override;
  void set_store_options(store::ServeOptions options) { store_options_ = std::move(options); }
  // Its key and certificate in <dir>/developer/<name>.key and .pem (and its CSR).
  Status RegisterDeveloper(const std::string& name) override;
  // release.file (relative to dir()) must exist; Cert_dev and Cert_store are written beside it.
  Status Publish(const WorldRelease& release) override;

  // The world's directory.
  const std::string& dir() const { return dir_->path(); }
  // How to reach the store, as devkit does: address, root file, the developer's files.
  const devkit::StoreConnection& store() const { return connection_; }
  const pki::Certificate& developer_identity() const { return *identity_; }
  const pki::PrivateKey& developer_key() const { return *developer_key_; }

  // `slsm init` in <dir>/<subdir> for `site` with the site key type `key_type` (pki key type
  // name), then an SlsmServer on 127.0.0.1 port 0 with the site's default config, its
  // SiteOptions replaced by `options` if given.
  Result<std::unique_ptr<InProcessSite>> StartSite(
      const std::string& subdir, std::string_view site, std::string_view key_type = "ed25519",
      const std::optional<slsm::SiteOptions>& options = std::nullopt);

 private:
  InProcessWorld(std::unique_ptr<ScratchDir> dir, const Clock& clock, Random& rng)
      : dir_(std::move(dir)), clock_(clock), rng_(rng) {}

  std::unique_ptr<ScratchDir> dir_;
  const Clock& clock_;
  Random& rng_;
  store::ServeOptions store_options_;
  std::unique_ptr<store::StoreServer> server_;
  devkit::StoreConnection connection_;
  std::optional<pki::Certificate> identity_;  // optional: neither has an empty state
  std::optional<pki::PrivateKey> developer_key_;
};

// A site manager in this process (InProcessWorld::StartSite). The admin calls go over its admin
// socket, as the `slsm` commands make them.
class InProcessSite final {
 public:
  InProcessSite(const InProcessSite&) = delete;
  InProcessSite& operator=(const InProcessSite&) = delete;
  ~InProcessSite();

  // The site's state directory, and what nodes dial (127.0.0.1:<port>).
  const std::string& dir() const { return dir_; }
  const std::string& address() const { return address_; }
  v1::SiteAdmin::Stub& admin() const { return *admin_; }

  // `slsm install <service>` (its newest release).
  Status Install(const std::string& service) const;
  // `slsm tokens create <node>`: the join token.
  Result<std::string> CreateJoinToken(const std::string& node) const;
  // `slsm deploy` (or undeploy) of `service` to `nodes`; the response's instance count goes to
  // *instances if given.
  Status Deploy(const std::string& service, const std::vector<std::string>& nodes,
                int* instances = nullptr) const;
  Status Undeploy(const std::string& service, const std::vector<std::string>& nodes) const;

 private:
  friend class InProcessWorld;
  InProcessSite(std::string dir, std::unique_ptr<slsm::SlsmServer> server);

  std::string dir_, address_;
  std::unique_ptr<slsm::SlsmServer> server_;
  std::unique_ptr<v1::SiteAdmin::Stub> admin_;
};

}  // namespace sitechain::testutil
