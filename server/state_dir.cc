#include "server/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "common/files.h"

namespace sitechain::server {

Result<UniqueFd> LockStateDirectory(const std::string& dir, const std::string& server) {
  const std::string path = dir + "/serve.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("cannot open", path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return FailedPrecondition("another '" + server + "' is running on " + dir +
                              "; only one process may serve a state directory");
  }
  return fd;
}

std::string AdminSocketPath(const std::string& dir, const std::string& configured) {
  return configured.empty() ? dir + "/admin.sock" : configured;
}

}  // namespace sitechain::server
