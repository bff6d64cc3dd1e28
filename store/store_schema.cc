#include "store/store_schema.h"

namespace sitechain::store {

const std::vector<std::string>& StoreMigrations() {
  static const auto* migrations = new std::vector<std::string>{
      R"sql(
CREATE TABLE developers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  serial TEXT NOT NULL UNIQUE,
  fingerprint TEXT NOT NULL UNIQUE,
  key_fingerprint TEXT NOT NULL UNIQUE,
  key_type TEXT NOT NULL,
  certificate_pem TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  revoked_at INTEGER,
  revocation_reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  note TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_by INTEGER REFERENCES developers(id)
);
CREATE TABLE names (
  name TEXT PRIMARY KEY,
  developer_id INTEGER NOT NULL REFERENCES developers(id)
);
CREATE TABLE releases (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL REFERENCES names(name),
  version TEXT NOT NULL,
  release_counter INTEGER NOT NULL,
  developer_id INTEGER NOT NULL REFERENCES developers(id),
  digest_algorithm TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  blob TEXT NOT NULL,
  cert_dev_pem TEXT NOT NULL,
  cert_store_pem TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revocation_reason TEXT NOT NULL DEFAULT '',
  UNIQUE (name, version)
);
CREATE INDEX releases_by_name ON releases (name, release_counter);
CREATE TABLE revocations (
  sequence INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('release', 'developer')),
  developer_id INTEGER NOT NULL REFERENCES developers(id),
  release_id INTEGER REFERENCES releases(id),
  reason TEXT NOT NULL,
  revoked_at INTEGER NOT NULL,
  revoked_by TEXT NOT NULL
);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
)sql"};
  return *migrations;
}

}  // namespace sitechain::store
