#include "server/admin_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sitechain::server {

Status ClaimUnixSocketPath(const std::string& socket_path) {
  struct stat st {};
  if (::lstat(socket_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Unavailable("cannot stat " + socket_path + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return FailedPrecondition(socket_path +
                              " exists and is not a socket; remove it or choose another path");
  }
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("socket path " + socket_path + " is too long for a UNIX socket");
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  if (live) {
    return FailedPrecondition("a server is already listening on " + socket_path +
                              "; stop it first (only one process may own a state directory)");
  }
  if (::unlink(socket_path.c_str()) != 0 && errno != ENOENT) {
    return Unavailable("cannot remove the stale socket " + socket_path + ": " +
                       std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::unique_ptr<grpc::Server>> StartPrivateUnixServer(grpc::ServerBuilder& builder,
                                                             const std::string& socket_path) {
  const mode_t old_mask = ::umask(077);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_mask);
  if (server == nullptr) {
    return Unavailable("cannot listen on the UNIX socket " + socket_path);
  }
  struct stat st {};
  if (::chmod(socket_path.c_str(), 0600) != 0 || ::stat(socket_path.c_str(), &st) != 0 ||
      (st.st_mode & 0777) != 0600) {
    server->Shutdown();
    return Internal("cannot make the admin socket " + socket_path + " mode 0600");
  }
  return server;
}

}  // namespace sitechain::server
