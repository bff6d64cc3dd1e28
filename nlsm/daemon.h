#pragma once
// `nlsm serve`: wires a node's parts together and runs them until Shutdown:
//   - kills what a previous run left running (recorded pids) so no service runs twice,
//   - the supervisor (process runner), the site client (mutual TLS with the node certificate),
//   - the NodeManager (re-verifies and relaunches the kept instances, renews, obeys commands),
//   - the NodeAdmin service on <dir>/admin.sock (mode 0600).
// One process per state directory (<dir>/serve.lock). The admin listener, the lock and the ready
// file are the server scaffold's (server/).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "nlsm/config.h"
#include "nlsm/node_manager.h"

namespace sitechain::nlsm {

class NodeDaemon final {
 public:
  static Result<std::unique_ptr<NodeDaemon>> Start(const std::string& dir, const NlsmConfig& config,
                                                   const Clock& clock, Random& rng);
  ~NodeDaemon();
  NodeDaemon(const NodeDaemon&) = delete;
  NodeDaemon& operator=(const NodeDaemon&) = delete;

  // Stops the manager and the admin server; services keep running unless stop_services (a
  // restarted nlsm adopts them by killing and relaunching after re-verification).
  void Shutdown(bool stop_services);

 private:
  NodeDaemon() = default;
  struct Parts;
  UniqueFd lock_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace sitechain::nlsm
