#pragma once
// A limit on long-lived streams of one kind (the store's revocation watches): how many may be
// open at once in total and from one peer address. A stream holds a Slot while it runs; the
// Slot gives its place back when destroyed. Going past either limit is refused with
// RESOURCE_EXHAUSTED naming the limit, so that one client (or a crowd) cannot hold every server
// thread with streams that never end.
//
// Thread-safe: mu_ guards the counts (a few operations under it, never I/O).

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sitechain::store {

class StreamSlots final {
 public:
  // One open stream's place. Move-only; releases its place when destroyed.
  class Slot final {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_), peer_(std::move(other.peer_)) {
      other.owner_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot() {
      if (owner_ != nullptr) owner_->Release(peer_);
    }

   private:
    friend class StreamSlots;
    Slot(StreamSlots* owner, std::string peer) : owner_(owner), peer_(std::move(peer)) {}
    StreamSlots* owner_;
    std::string peer_;
  };

  // `what` names the streams in messages ("revocation watches"); `total_flag` and `peer_flag`
  // name the settings an operator changes. max_total >= max_per_peer >= 1 (validated by the
  // caller's config).
  StreamSlots(std::string what, size_t max_total, size_t max_per_peer, std::string total_flag,
              std::string peer_flag)
      : what_(std::move(what)),
        total_flag_(std::move(total_flag)),
        peer_flag_(std::move(peer_flag)),
        max_total_(max_total),
        max_per_peer_(max_per_peer) {}
  StreamSlots(const StreamSlots&) = delete;
  StreamSlots& operator=(const StreamSlots&) = delete;

  // A place for a stream from `peer` (a PeerAddress), or RESOURCE_EXHAUSTED when the peer has
  // max_per_peer open or the server max_total.
  Result<Slot> Acquire(const std::string& peer);

  size_t open();                              // streams open now
  size_t open_from(const std::string& peer);  // streams open now from `peer`

 private:
  void Release(const std::string& peer);

  const std::string what_, total_flag_, peer_flag_;
  const size_t max_total_, max_per_peer_;
  std::mutex mu_;
  size_t open_ = 0;                         // guarded by mu_
  std::map<std::string, size_t> per_peer_;  // guarded by mu_; only peers with open streams
};

// The address a gRPC peer string names, as the per-peer limit counts it: "ipv4:10.0.0.7:5123"
// -> "10.0.0.7"; an IPv4-mapped IPv6 address counts as its IPv4 address; other IPv6 addresses
// count by their /64 prefix ("ipv6:[2001:db8::1]:5123" -> "2001:db8::/64"), since one host
// usually holds a whole /64; anything else (a UNIX socket) is returned as it is.
std::string PeerAddress(std::string_view grpc_peer);

}  // namespace sitechain::store
