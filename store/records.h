#pragma once
// The store's records, as the service and its storage exchange them. Plain values; the gRPC
// adapters translate them to protobuf and the database to rows.

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"

namespace sitechain::store {

struct DeveloperRecord {
  int64_t id = 0;
  std::string name;             // the identity certificate's CN
  std::string serial;           // hex
  std::string fingerprint;      // SHA-256 of the identity certificate (DER), hex
  std::string key_fingerprint;  // SHA-256 of the subject public key (DER), hex
  std::string key_type;
  std::string certificate_pem;
  TimePoint registered_at;
  TimePoint not_after;
  std::optional<TimePoint> revoked_at;
  std::string revocation_reason;
};

struct TokenRecord {
  std::string id;    // short public handle (the first 16 hex digits of the token's hash)
  std::string hash;  // SHA-256 of the token, hex; the token itself is never stored
  std::string note;
  TimePoint created_at;
  TimePoint expires_at;
  std::optional<TimePoint> used_at;
  std::string used_by;  // the developer it registered
};

struct ReleaseRecord {
  int64_t id = 0;
  std::string name;
  std::string version;
  uint64_t release_counter = 0;
  int64_t developer_id = 0;
  std::string developer;         // name, filled in by queries
  std::string digest_algorithm;  // "sha256" | "sha512"
  std::string digest;            // hex
  uint64_t size = 0;
  std::string blob;  // BlobStore name
  std::string cert_dev_pem;
  std::string cert_store_pem;
  std::string developer_certificate_pem;  // filled in by queries
  TimePoint published_at;
  bool revoked = false;
  std::string revocation_reason;
};

struct RevocationRecord {
  enum class Kind { kRelease, kDeveloper };
  uint64_t sequence = 0;
  Kind kind = Kind::kRelease;
  std::string developer;
  std::string developer_serial;
  std::string name, version, digest;  // kRelease only
  std::string reason;
  TimePoint revoked_at;
  std::string revoked_by;  // "admin" or "developer:<name>"
};

struct ReleaseFilter {
  std::string name;       // exact; empty: any
  std::string query;      // substring of the name; empty: any
  std::string developer;  // exact; empty: any
  bool include_revoked = false;
  int64_t before_id = 0;  // paging: only ids below this (0: from the newest)
  uint32_t limit = 100;
};

struct StoreStats {
  uint64_t developers = 0, revoked_developers = 0, releases = 0, revoked_releases = 0,
           active_tokens = 0, blob_bytes = 0, last_revocation_sequence = 0, audit_entries = 0;
};

}  // namespace sitechain::store
