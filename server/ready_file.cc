#include "server/ready_file.h"

#include "common/files.h"

namespace sitechain::server {

Status WriteReadyFile(const std::string& path, const nlohmann::json& fields) {
  if (path.empty()) return Status::Ok();
  return WriteFileAtomic(path, fields.dump() + "\n", 0644, true);
}

}  // namespace sitechain::server
