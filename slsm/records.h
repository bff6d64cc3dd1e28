#pragma once
// The site manager's records, as its service and its storage exchange them. Plain values; the
// gRPC adapters translate them to protobuf and the database to rows.

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"

namespace sitechain::slsm {

// A release installed from the store, verified (rules 1, 2, 4, 6, 7) before it was recorded.
struct ReleaseRecord {
  int64_t id = 0;
  std::string name;
  std::string version;
  uint64_t release_counter = 0;
  std::string developer;
  std::string digest_algorithm;  // "sha256" | "sha512"
  std::string digest;            // hex
  uint64_t size = 0;
  std::string blob;  // storage::BlobStore name
  std::string cert_dev_pem;
  std::string cert_store_pem;
  std::string developer_certificate_pem;
  TimePoint installed_at;
  bool revoked = false;  // revoked at the store (learnt from its feed)
  std::string revocation_reason;
};

// A service of the site: a release name, the installed release it runs and its sitePolicy.
struct ServiceRecord {
  std::string name;
  int64_t release_id = 0;
  std::string policy_json = "{}";
  TimePoint updated_at;
};

struct JoinTokenRecord {
  std::string id;    // the token's public part
  std::string hash;  // SHA-256 of the whole token, hex; the token itself is never stored
  std::string node;  // the only node that may use it
  TimePoint created_at;
  TimePoint expires_at;
  std::optional<TimePoint> used_at;
};

struct NodeRecord {
  std::string name;
  std::string key_fingerprint;  // SHA-256 of the node's public key (SPKI DER), hex
  std::string certificate_serial;
  TimePoint certificate_not_after;
  TimePoint enrolled_at;
  std::optional<TimePoint> last_seen;
  std::optional<TimePoint> evicted_at;
};

// A service deployed to a node: at most one instance of a service per node.
struct InstanceRecord {
  std::string service;
  std::string node;
  TimePoint deployed_at;
  std::string certificate_serial;  // of the newest Cert_site; empty before the first
  std::optional<TimePoint> certificate_not_after;
  std::string node_state;  // as the node last reported it
  std::string node_detail;
};

// What a node reports of one of its instances (its hello and its changes).
struct InstanceState {
  std::string service, state, detail;
};

// One line of the issuance log.
struct IssuedRecord {
  std::string serial;
  std::string kind;  // "node" | "site"
  std::string subject;
  std::string node;
  std::string service;  // "site" only
  TimePoint not_after;
  TimePoint issued_at;
};

struct SiteCounts {
  uint64_t services = 0, nodes = 0, instances = 0, issued = 0, last_revocation_sequence = 0;
};

}  // namespace sitechain::slsm
