#pragma once
// The schema of store.db, as the list of its migrations: migrations[i] takes the schema from
// version i to i+1 (storage/sqlite.h, Database::Migrate). Never edit a shipped entry: append.
// Tables: developers, tokens, names, releases, revocations, audit_log (store_db.h reads and
// writes them). Kept apart from the queries so that the schema is read in one place, and a
// store.db written by any earlier release opens (tests/compat/upgrade_test.sh).

#include <string>
#include <vector>

namespace sitechain::store {

const std::vector<std::string>& StoreMigrations();

}  // namespace sitechain::store
