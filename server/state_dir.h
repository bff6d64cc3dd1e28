#pragma once
// A server's state directory as the scaffold sees it: the lock that lets only one server process
// serve it (<dir>/serve.lock), and where its admin socket is by default (<dir>/admin.sock).
// What else is in the directory is the role's business (store/, slsm/, nlsm/).
//
// Stateless functions; thread-safe.

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace sitechain::server {

// Takes an exclusive advisory lock on <dir>/serve.lock for as long as the returned descriptor is
// open (flock; the kernel drops it when the process dies, however it dies). FAILED_PRECONDITION,
// naming `server` ("store serve"), if another process holds it; the open's errno status
// (e.g. NOT_FOUND for a missing directory) if the file cannot be opened.
Result<UniqueFd> LockStateDirectory(const std::string& dir, const std::string& server);

// The admin socket's path: `configured` if set, else <dir>/admin.sock.
std::string AdminSocketPath(const std::string& dir, const std::string& configured = "");

}  // namespace sitechain::server
