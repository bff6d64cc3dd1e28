#pragma once
// An open file descriptor that closes itself. Move-only.

#include <unistd.h>

namespace sitechain {

class UniqueFd final {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = o.release();
    }
    return *this;
  }
  ~UniqueFd() { Close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the descriptor.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  void Close() {
    if (fd_ >= 0) ::close(fd_);  // close(2) must not be retried on EINTR on Linux
  }
  int fd_ = -1;
};

}  // namespace sitechain
