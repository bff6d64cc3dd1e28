#pragma once
// The collector's side of the telemetry example: the Collector gRPC service. It accepts a report
// from any caller that got past the handshake (the service-identity helper has checked its
// Cert_site and the sitePolicy's "peers"), answers with the caller's SPIFFE ID as it saw it, and
// keeps, per SPIFFE ID, the number of reports and the serials of the certificates it presented, so
// that the logs show each renewed certificate of a sensor being used in a new handshake.
//
// Thread-safe: gRPC calls Report on many threads; mu_ guards the counts.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "examples/telemetry/telemetry.grpc.pb.h"

namespace sitechain::examples {

class CollectorService final : public Collector::Service {
 public:
  // The serials kept per peer (the count goes on past it): a peer renews every few seconds for
  // as long as it runs.
  static constexpr size_t kMaxSerialsPerPeer = 256;

  // log: one line per event (a peer's new certificate, every `log_every` accepted reports).
  CollectorService(std::function<void(const std::string&)> log, uint64_t log_every);

  grpc::Status Report(grpc::ServerContext* context, const Reading* reading, Ack* ack) override;

  // Lines for the end of the run: the total, then one per peer with its reports and the serials
  // of the certificates it presented, in the order they were first seen.
  std::vector<std::string> Summary() const;

 private:
  struct Peer {
    uint64_t reports = 0;
    uint64_t certificates = 0;         // distinct serials seen
    std::vector<std::string> serials;  // the first kMaxSerialsPerPeer of them
  };

  const std::function<void(const std::string&)> log_;
  const uint64_t log_every_;
  mutable std::mutex mu_;
  uint64_t total_ = 0;                 // guarded by mu_
  std::map<std::string, Peer> peers_;  // by SPIFFE ID; guarded by mu_
};

}  // namespace sitechain::examples
