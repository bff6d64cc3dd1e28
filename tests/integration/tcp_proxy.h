#pragma once
// Test helper for the fault scenarios (header-only: only *_test.cc files in tests/integration/
// are compiled): a TCP proxy in the test process between a node and its site manager, which the
// test switches to cut the link in the ways a real network fails.
//
//   TcpProxy proxy(site_port);             // listens on 127.0.0.1:<proxy.port()>
//   ... enroll the node with proxy.address() ...
//   proxy.SetMode(TcpProxy::Mode::kBlackhole);  // a dead link: connections stay open, no byte
//                                               // passes, new ones are accepted and held
//   proxy.SetMode(TcpProxy::Mode::kRefuse);     // every connection reset, new ones too
//   proxy.SetMode(TcpProxy::Mode::kForward);    // healed: held connections resume
//   proxy.HealForNewConnectionsOnly();          // healed, but what was open stays dead
//
// Modes:
//   kForward    bytes flow both ways (a held connection first dials the target).
//   kBlackhole  nothing is read or written on any connection (the kernel's buffers fill, as
//               over a link that drops every packet); accepted connections are held, not
//               dialled through. The peers see silence, never an error: only a deadline or a
//               keepalive can tell them.
//   kRefuse     every open connection is reset (SO_LINGER 0), new ones are accepted and reset at
//               once: the peers see errors at once.
//
// Thread-safety: one thread (started by the constructor, joined by the destructor) owns every
// socket; SetMode and the counters may be called from any thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sitechain::testutil {

class TcpProxy final {
 public:
  enum class Mode { kForward, kBlackhole, kRefuse };

  // Forwards 127.0.0.1:<port()> to 127.0.0.1:target_port; listens on listen_port (0: any free
  // one). port() is 0 if the listening socket could not be made.
  explicit TcpProxy(int target_port, int listen_port = 0) : target_port_(target_port) {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = Loopback(listen_port);
    socklen_t len = sizeof addr;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_, 64) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listen_);
      listen_ = -1;
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~TcpProxy() {
    stopping_ = true;
    Wake();
    if (thread_.joinable()) thread_.join();
    for (auto& c : connections_) Close(c, false);
    for (auto& c : abandoned_) Close(c, false);
    if (listen_ >= 0) ::close(listen_);
    if (wake_ >= 0) ::close(wake_);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // What a node dials: the same host name the site manager's certificate carries.
  std::string address(const std::string& host = "127.0.0.1") const {
    return host + ":" + std::to_string(port_);
  }

  void SetMode(Mode mode) {
    mode_ = mode;
    Wake();
  }
  // Forward again, but only new connections: the ones open now stay silent forever (kept open
  // until the proxy goes), as when the far end lost them while the link was down (a restarted
  // server, a NAT that forgot them). A client must notice by itself and dial again.
  void HealForNewConnectionsOnly() {
    abandon_ = true;
    SetMode(Mode::kForward);
  }
  Mode mode() const { return mode_; }

  // Connections accepted so far; bytes passed through (both directions).
  uint64_t accepted() const { return accepted_; }
  uint64_t forwarded_bytes() const { return forwarded_; }

 private:
  struct Connection {
    int client = -1;
    int upstream = -1;  // -1 while held (accepted in blackhole mode)
  };

  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }

  void Wake() {
    const uint64_t one = 1;
    if (wake_ >= 0) (void)!::write(wake_, &one, sizeof one);
  }

  static void Reset(int fd) {
    if (fd < 0) return;
    const linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }
  static void Close(Connection& c, bool reset) {
    if (reset) {
      Reset(c.client);
      Reset(c.upstream);
    } else {
      if (c.client >= 0) ::close(c.client);
      if (c.upstream >= 0) ::close(c.upstream);
    }
    c.client = c.upstream = -1;
  }

  // Dials the target (blocking, on loopback: immediate). False if it refuses.
  bool Dial(Connection& c) {
    c.upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(target_port_);
    if (::connect(c.upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(c.upstream);
      c.upstream = -1;
      return false;
    }
    return true;
  }

  // Moves what is readable from `from` to `to`; false when the connection is over.
  bool Pump(int from, int to) {
    char buf[16384];
    const ssize_t got = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
    if (got == 0) return false;
    if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    ssize_t sent = 0;
    while (sent < got) {
      const ssize_t n = ::send(to, buf + sent, static_cast<size_t>(got - sent), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          pollfd p{to, POLLOUT, 0};
          ::poll(&p, 1, 100);
          continue;
        }
        return false;
      }
      sent += n;
    }
    forwarded_ += static_cast<uint64_t>(got);
    return true;
  }

  void Run() {
    while (!stopping_) {
      if (abandon_.exchange(false)) abandoned_.splice(abandoned_.end(), connections_);
      const Mode mode = mode_;
      if (mode == Mode::kRefuse) {
        for (auto& c : connections_) Close(c, true);
        connections_.clear();
      }
      if (mode == Mode::kForward) {
        for (auto it = connections_.begin(); it != connections_.end();) {
          if (it->upstream < 0 && !Dial(*it)) {
            Close(*it, true);
            it = connections_.erase(it);
          } else {
            ++it;
          }
        }
      }
      std::vector<pollfd> fds = {{wake_, POLLIN, 0}, {listen_, POLLIN, 0}};
      std::vector<Connection*> owners = {nullptr, nullptr};
      if (mode == Mode::kForward) {
        for (auto& c : connections_) {
          fds.push_back({c.client, POLLIN, 0});
          owners.push_back(&c);
          fds.push_back({c.upstream, POLLIN, 0});
          owners.push_back(&c);
        }
      }
      if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
      if (fds[0].revents != 0) {
        uint64_t ignored;
        (void)!::read(wake_, &ignored, sizeof ignored);
      }
      if (fds[1].revents != 0) {
        while (true) {
          const int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
          if (fd < 0) break;
          ++accepted_;
          if (mode_ == Mode::kRefuse) {
            Reset(fd);
            continue;
          }
          const int one = 1;
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          Connection c;
          c.client = fd;
          if (mode_ == Mode::kForward && !Dial(c)) {
            Reset(fd);
            continue;
          }
          connections_.push_back(c);
        }
      }
      if (mode_ != Mode::kForward) continue;  // changed meanwhile: nothing more passes
      std::vector<Connection*> over;
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Connection& c = *owners[i];
        if (c.client < 0) continue;
        const bool from_client = fds[i].fd == c.client;
        if (!Pump(fds[i].fd, from_client ? c.upstream : c.client)) {
          Close(c, false);
        }
      }
      connections_.remove_if([](const Connection& c) { return c.client < 0; });
    }
  }

  const int target_port_;
  int port_ = 0;
  int listen_ = -1;
  int wake_ = -1;
  std::atomic<Mode> mode_{Mode::kForward};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> abandon_{false};
  std::atomic<uint64_t> accepted_{0}, forwarded_{0};
  std::list<Connection> connections_;  // owned by thread_
  std::list<Connection> abandoned_;    // owned by thread_: open, never served again
  std::thread thread_;
};

}  // namespace sitechain::testutil
