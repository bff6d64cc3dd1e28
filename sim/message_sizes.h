#pragma once
// The bytes one renewal puts on the network, measured on the real system rather than guessed:
// a real Cert_site built by pki/ (site key and instance key of the configured types, the
// configured sitePolicy payload) inside a real sitechain.v1.RenewResponse, and a real CSR for
// an instance key inside a real sitechain.v1.RenewRequest, sized by protobuf's ByteSizeLong().
// Measured once per payload size (0..max_payload), then looked up per event: nothing is signed
// while a simulation runs.
//
// A Renew call for k instances carries k InstanceRenewal entries up and k IssuedCertificate
// entries down; a repeated message field costs exactly the sum of its entries' sizes (tag +
// length + body), so a batched call's size is the sum of the per-entry sizes measured here,
// plus the per-call overhead. Immutable after Measure(); thread-safe to read.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "pki/key.h"

namespace sitechain::sim {

struct MessageSizeOptions {
  pki::KeyType site_key = pki::KeyType::kRsa2048;      // signs Cert_site (the paper: 2048 bit)
  pki::KeyType instance_key = pki::KeyType::kRsa2048;  // the Cert_site subject key, in the CSR
  uint32_t max_payload = 200;  // sitePolicy payload sizes measured: 0..max_payload bytes
  // Names as they appear in the certificate (CN, OU, O, the SPIFFE URI) and the messages. The
  // simulator gives every service names of these lengths.
  std::string site = "site-a";
  std::string node = "node-0001";
  std::string service = "svc-0001";
  Seconds lifetime{5000};
  // The reply carries the slsm's suggested window (renew_after, renew_before).
  bool with_window = true;
  // Bytes added once per Renew call, both directions together: TLS records, HTTP/2 frames and
  // the gRPC message prefixes (see docs/simulator.md for a figure). 0: message bytes only.
  uint32_t overhead_per_call = 0;
  uint64_t seed = 1;  // for the keys and the signatures
};

// The sitePolicy JSON whose text is `payload` bytes longer than the empty policy "{}":
// {} for 0, {<spaces>} below 6, {"p":"xxx…"} from 6 on. Always a valid JSON object.
std::string SitePolicyWithPayload(uint32_t payload);

class MessageSizes final {
 public:
  // Builds the chain and measures every payload size. Takes about a second with RSA keys.
  // Fails with the builder's status if a certificate cannot be built.
  static Result<MessageSizes> Measure(const MessageSizeOptions& options);

  const MessageSizeOptions& options() const { return options_; }
  uint32_t max_payload() const { return options_.max_payload; }

  // One InstanceRenewal entry as it sits inside RenewRequest (tag + length + body). The CSR
  // does not depend on the payload.
  uint32_t request_entry() const { return request_entry_; }
  // One IssuedCertificate entry inside RenewResponse, for a Cert_site with this payload
  // (clamped to max_payload).
  uint32_t response_entry(uint32_t payload) const;
  // A refused entry (code UNAVAILABLE and a message, no certificate): what a failed attempt
  // gets back.
  uint32_t error_entry() const { return error_entry_; }

  // Bytes of one Renew call for one instance: request + response + overhead.
  uint32_t SingleCall(uint32_t payload) const;
  // Bytes of one Renew call for several instances (one payload per instance).
  uint64_t BatchCall(std::span<const uint16_t> payloads) const;
  // Bytes of a call whose every entry was refused.
  uint64_t FailedCall(size_t instances) const;

  // What was measured, for tests and the report.
  const std::vector<uint8_t>& csr_der() const { return csr_der_; }
  const std::vector<uint8_t>& cert_site_der(uint32_t payload) const;
  int64_t renew_after() const { return renew_after_; }
  int64_t renew_before() const { return renew_before_; }

 private:
  MessageSizes() = default;
  MessageSizeOptions options_;
  uint32_t request_entry_ = 0;
  uint32_t error_entry_ = 0;
  std::vector<uint32_t> response_entry_;  // index = payload
  std::vector<uint32_t> single_call_;     // index = payload
  std::vector<uint8_t> csr_der_;
  std::vector<std::vector<uint8_t>> cert_site_der_;  // index = payload
  int64_t renew_after_ = 0;
  int64_t renew_before_ = 0;
};

}  // namespace sitechain::sim
