#pragma once
// A node's own files in its state directory:
//   <dir>/node.key        the node key (made here, mode 0600, never leaves the node)
//   <dir>/node.pem        the node certificate issued by the site
//   <dir>/site-root.pem   the site root, authenticated at enrollment by the token's fingerprint
//   <dir>/store-root.pem  the store root: the node's OWN trust anchor, configured on the node and
//                         never taken from the slsm (a site manager that chose it could forge
//                         store certificates and make the cross-check void)
//   <dir>/nlsm.json       {"node": ..., "slsm": host:port}
// Every file is written with write-then-rename. EnrollNode (grpc_site_client.h) makes them; the
// node's core reads them here and replaces the node certificate when it renews. No gRPC here.
// Free functions, thread-safe for different directories; errors are statuses.

#include <string>

#include "common/result.h"
#include "nlsm/site_client.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace sitechain::nlsm {

struct NodeFiles {
  std::string node;
  std::string slsm;
  NodeIdentity identity;
  pki::Certificate store_root;
};

// Loads a node's files. FAILED_PRECONDITION if dir holds no node ("run nlsm enroll").
Result<NodeFiles> LoadNode(const std::string& dir);
// Replaces the node certificate (after a renewal).
Status SaveNodeCertificate(const std::string& dir, const pki::Certificate& certificate);

}  // namespace sitechain::nlsm
