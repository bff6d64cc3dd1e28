#pragma once
// `store serve`: opens a store's state directory and serves it.
//   - the public Store service over TLS on `listen` (client certificates optional; the calls
//     that act for a developer require one),
//   - the StoreAdmin service on a UNIX socket (mode 0600).
// At start it takes an exclusive lock on <dir>/serve.lock (one server per directory), removes
// blobs no release refers to, and issues itself a fresh TLS server certificate from the store
// root for the configured names, which it renews (new key) two thirds into its tls_lifetime while
// it serves, without dropping calls or streams (server/tls_identity_renewer.h). The key and chain
// are in <dir>/tls/identity.pem (mode 0600, directory 0700).
//
// The listeners, the lock, the ready file and the shutdown are the server scaffold's (server/).
//
// Start's errors: INVALID_ARGUMENT for a max_message_bytes or tls_lifetime out of range, and
// those of opening the state directory and the listeners.
// Thread-safety: Start, Wait and Shutdown may be called from different threads.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "server/listeners.h"
#include "server/state_dir.h"
#include "server/tls_identity_renewer.h"
#include "store/store_service.h"

namespace sitechain::store {

// Uploads and downloads move 1 MiB of data per message, plus framing.
inline constexpr size_t kMinMessageBytes = 2 << 20;

struct ServeOptions {
  std::string dir;                        // the state directory (store init)
  std::optional<std::string> passphrase;  // of root.key
  std::string listen = "127.0.0.1:7443";  // host:port; port 0 picks a free one
  std::string admin_socket;               // default <dir>/admin.sock
  // Names the TLS server certificate carries; clients dial one of them.
  std::vector<std::string> tls_dns_names = {"localhost"};
  std::vector<std::string> tls_ip_addresses = {"127.0.0.1"};
  // Validity of the TLS server certificate, renewed two thirds into it; at least
  // server::kMinTlsLifetime (6 s).
  Seconds tls_lifetime{90 * 86400};
  size_t max_message_bytes = 4 << 20;  // largest gRPC message in either direction
  StoreLimits limits;
  // Written (write-then-rename) once both servers listen: JSON with "address", "port",
  // "admin_socket", "store_root". Lets scripts and tests that ask for port 0 find the port.
  std::string ready_file;

  std::string AdminSocket() const { return server::AdminSocketPath(dir, admin_socket); }
};

class StoreServer final {
 public:
  static Result<std::unique_ptr<StoreServer>> Start(const ServeOptions& options, const Clock& clock,
                                                    Random& rng);
  ~StoreServer();
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;

  int port() const { return listeners_->port(); }
  // Blocks until Shutdown has finished.
  void Wait();
  // Stops accepting calls, ends revocation watches and gives running calls `grace` to finish.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  StoreServer() = default;

  UniqueFd lock_;  // <dir>/serve.lock, held while serving
  // The renewer's own handle on the CA (StoreService owns the first): used by the renewer's
  // thread only, so StoreCa needs no lock.
  std::unique_ptr<StoreCa> tls_ca_;
  std::unique_ptr<server::TlsIdentityRenewer> tls_;  // renews <dir>/tls/identity.pem
  std::unique_ptr<StoreService> service_;
  std::unique_ptr<grpc::Service> public_service_, admin_service_;
  std::unique_ptr<server::Listeners> listeners_;  // last: stopped before the services go
};

}  // namespace sitechain::store
