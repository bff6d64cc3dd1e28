#pragma once
// The ready file of a server: a small JSON object written once every listener listens, so that a
// script or test that started the server (often with port 0) learns where it is and that it is
// up. Written with write-then-rename (mode 0644): a reader sees the whole file or none.
// The fields are the role's (e.g. "address", "port", "admin_socket", "store_root").
//
// Stateless; thread-safe.

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace sitechain::server {

// Writes fields.dump() and a newline to `path`, replacing an older file. An empty path writes
// nothing and returns OK. Errors are WriteFileAtomic's (common/files.h).
Status WriteReadyFile(const std::string& path, const nlohmann::json& fields);

}  // namespace sitechain::server
