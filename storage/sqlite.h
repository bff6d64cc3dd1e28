#pragma once
// A small SQLite wrapper: one connection (Database) and its prepared statements (Statement).
// SQLite types stop here: callers see Status/Result and plain C++ values.
//
//   SITECHAIN_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path));
//   SITECHAIN_RETURN_IF_ERROR(db.Migrate({"CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"}));
//   SITECHAIN_ASSIGN_OR_RETURN(auto insert, db.Prepare("INSERT INTO t (name) VALUES (?1)"));
//   SITECHAIN_RETURN_IF_ERROR(insert.Bind(1, "alice").Run());
//
// Error mapping (one place, sqlite.cc): SQLITE_CONSTRAINT → ALREADY_EXISTS (a UNIQUE or PRIMARY
// KEY clash is the only constraint the callers rely on), SQLITE_BUSY/LOCKED → UNAVAILABLE,
// SQLITE_CORRUPT/NOTADB → DATA_LOSS, SQLITE_FULL → RESOURCE_EXHAUSTED, SQLITE_CANTOPEN →
// FAILED_PRECONDITION, SQLITE_READONLY → PERMISSION_DENIED, everything else INTERNAL. Messages
// carry sqlite3_errmsg and the SQL.
//
// Thread-safety: a Database and its Statements are not thread-safe; the owner serialises access
// (the store keeps one Database behind a mutex). Statements must not outlive their Database.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sitechain::sql {

class Statement final {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  // Binds the 1-based parameter `index`. The first bind error is remembered and returned by the
  // next Step/Run, so binds chain: stmt.Bind(1, a).Bind(2, b).Run().
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);  // TEXT (copied)
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, std::string_view(text));
  }
  Statement& BindBlob(int index, std::span<const uint8_t> bytes);  // BLOB (copied)
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::optional<std::string>& text);  // NULL when nullopt

  // Steps once: true when a row is ready to read, false when the statement is done.
  Result<bool> Step();
  // Steps to completion (for INSERT/UPDATE/DELETE); refuses a statement that returns rows.
  Status Run();
  // Resets for re-execution and clears the bindings.
  void Reset();

  // Column readers for the current row (0-based). NULL reads as 0 / "" / {}.
  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  std::vector<uint8_t> ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  Status bind_error_;
};

class Database final {
 public:
  struct Options {
    // How long a statement waits for another connection's lock before UNAVAILABLE.
    int busy_timeout_ms = 5000;
    // Create the file if missing (mode 0600). When false, a missing file is FAILED_PRECONDITION.
    bool create = true;
    // Run PRAGMA quick_check at open: a damaged file (flipped bytes, a torn copy) is refused
    // with DATA_LOSS naming it instead of being half-read later. Reads the whole file once.
    bool quick_check = true;
  };

  // Opens (or creates) the database at `path` and sets journal_mode=WAL, synchronous=FULL (a
  // commit that returned is on disk), foreign_keys=ON and the busy timeout. DATA_LOSS, naming
  // the file, for a file that is not a database or fails quick_check.
  static Result<Database> Open(const std::string& path, const Options& options);
  static Result<Database> Open(const std::string& path) { return Open(path, Options{}); }

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  // Runs one or more ;-separated statements without parameters.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);

  // Runs fn inside BEGIN IMMEDIATE … COMMIT. If fn returns an error (or COMMIT fails) the
  // transaction is rolled back and that error is returned. Not re-entrant.
  Status Transaction(const std::function<Status()>& fn);

  // Schema migrations. migrations[i] takes the schema from version i to i+1; each runs in its
  // own transaction together with the update of the one-row `schema_version` table, so a crash
  // leaves the schema at a whole version. A database whose version is higher than
  // migrations.size() (written by a newer program) is FAILED_PRECONDITION and left untouched.
  Status Migrate(const std::vector<std::string>& migrations);
  // The current schema version (0 for a new database).
  Result<int> SchemaVersion();

  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int Changes() const;
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace sitechain::sql
