#include "store/stream_slots.h"

#include <arpa/inet.h>

#include <cstring>

namespace sitechain::store {

Result<StreamSlots::Slot> StreamSlots::Acquire(const std::string& peer) {
  std::lock_guard lock(mu_);
  size_t& from_peer = per_peer_[peer];
  if (from_peer >= max_per_peer_) {
    return ResourceExhausted("too many " + what_ + " from " + peer + ": at most " +
                             std::to_string(max_per_peer_) + " at once per address (" + peer_flag_ +
                             "); close one, or retry later");
  }
  if (open_ >= max_total_) {
    if (from_peer == 0) per_peer_.erase(peer);
    return ResourceExhausted("this store serves at most " + std::to_string(max_total_) + " " +
                             what_ + " at once (" + total_flag_ + "); retry later");
  }
  ++from_peer;
  ++open_;
  return Slot(this, peer);
}

void StreamSlots::Release(const std::string& peer) {
  std::lock_guard lock(mu_);
  --open_;
  if (auto it = per_peer_.find(peer); it != per_peer_.end() && --it->second == 0) {
    per_peer_.erase(it);
  }
}

size_t StreamSlots::open() {
  std::lock_guard lock(mu_);
  return open_;
}

size_t StreamSlots::open_from(const std::string& peer) {
  std::lock_guard lock(mu_);
  auto it = per_peer_.find(peer);
  return it == per_peer_.end() ? 0 : it->second;
}

std::string PeerAddress(std::string_view peer) {
  if (peer.starts_with("ipv4:")) {
    std::string_view rest = peer.substr(5);
    return std::string(rest.substr(0, rest.rfind(':')));
  }
  if (peer.starts_with("ipv6:")) {
    std::string_view rest = peer.substr(5);
    if (rest.starts_with('[')) {
      const size_t close = rest.find(']');
      if (close != std::string_view::npos) rest = rest.substr(1, close - 1);
    }
    std::string text(rest.substr(0, rest.find('%')));  // without a zone ("%eth0")
    unsigned char bytes[16];
    if (::inet_pton(AF_INET6, text.c_str(), bytes) != 1) return text;
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char out[INET6_ADDRSTRLEN];
    if (std::memcmp(bytes, kMapped, sizeof kMapped) == 0) {
      return ::inet_ntop(AF_INET, bytes + 12, out, sizeof out) != nullptr ? out : text;
    }
    std::memset(bytes + 8, 0, 8);
    return ::inet_ntop(AF_INET6, bytes, out, sizeof out) != nullptr ? std::string(out) + "/64"
                                                                    : text;
  }
  return std::string(peer);
}

}  // namespace sitechain::store
