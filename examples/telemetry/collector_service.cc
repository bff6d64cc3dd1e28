#include "examples/telemetry/collector_service.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "service_identity/service_identity.h"

namespace sitechain::examples {

CollectorService::CollectorService(std::function<void(const std::string&)> log, uint64_t log_every)
    : log_(std::move(log)), log_every_(std::max<uint64_t>(1, log_every)) {}

grpc::Status CollectorService::Report(grpc::ServerContext* context, const Reading* reading,
                                      Ack* ack) {
  const auto peer_id = service_identity::ServiceIdentity::PeerId(*context);
  if (!peer_id) {
    // The handshake check let no one through without a SPIFFE ID: this is not a mutual-TLS call.
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no SPIFFE ID in the call");
  }
  const auto peer_of = service_identity::ServiceIdentity::PeerOf(*context->auth_context());
  const std::string serial = peer_of ? peer_of->serial : "?";
  std::vector<std::string> lines;
  {
    std::lock_guard lock(mu_);
    Peer& peer = peers_[*peer_id];
    ++peer.reports;
    ++total_;
    const bool known =
        std::find(peer.serials.begin(), peer.serials.end(), serial) != peer.serials.end();
    if (!known) {
      ++peer.certificates;
      if (peer.serials.size() < kMaxSerialsPerPeer) peer.serials.push_back(serial);
      lines.push_back("collector: " + *peer_id + " presents certificate " + serial + " (its #" +
                      std::to_string(peer.certificates) + ")");
    }
    if (total_ % log_every_ == 0) {
      std::ostringstream line;
      line << "collector: " << total_ << " reports accepted; the last from " << *peer_id
           << " (sensor " << reading->sensor() << ", #" << reading->sequence() << ", value "
           << reading->value() << ")";
      lines.push_back(line.str());
    }
    ack->set_accepted(peer.reports);
  }
  for (const auto& line : lines) log_(line);
  ack->set_peer_id(*peer_id);
  ack->set_peer_certificate_serial(serial);
  return grpc::Status::OK;
}

std::vector<std::string> CollectorService::Summary() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> lines{"collector: " + std::to_string(total_) +
                                 " reports accepted from " + std::to_string(peers_.size()) +
                                 " peer(s)"};
  for (const auto& [id, peer] : peers_) {
    std::string line = "collector: " + id + ": " + std::to_string(peer.reports) + " reports, " +
                       std::to_string(peer.certificates) + " certificate(s):";
    for (const auto& serial : peer.serials) line += " " + serial;
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace sitechain::examples
