#include "storage/sqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <utility>

namespace sitechain::sql {
namespace {

constexpr size_t kMaxSqlInMessage = 200;

std::string Abbreviate(std::string_view sql) {
  if (sql.size() <= kMaxSqlInMessage) return std::string(sql);
  return std::string(sql.substr(0, kMaxSqlInMessage)) + "...";
}

// The one place that turns an SQLite result code into a Status (see the table in sqlite.h).
// `what` says what was being done, `detail` is sqlite3_errmsg (or the like), `sql` the statement.
Status SqliteError(int rc, std::string_view what, std::string_view detail, std::string_view sql) {
  std::string message(what);
  message += ": ";
  message += detail.empty() ? std::string_view(sqlite3_errstr(rc)) : detail;
  message += " (sqlite code " + std::to_string(rc) + ")";
  if (!sql.empty()) {
    message += "; SQL: ";
    message += Abbreviate(sql);
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return AlreadyExists(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(std::move(message));
    case SQLITE_FULL:
      return ResourceExhausted(std::move(message));
    case SQLITE_CANTOPEN:
      return FailedPrecondition(std::move(message));
    case SQLITE_READONLY:  // a read-only file or file system, as EROFS is in common/files.h
      return PermissionDenied(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

// SqliteError with the connection's current error message.
Status ConnectionError(sqlite3* db, int rc, std::string_view what, std::string_view sql) {
  return SqliteError(rc, what, db != nullptr ? sqlite3_errmsg(db) : "", sql);
}

Status Closed() { return FailedPrecondition("sqlite: use of a closed (moved-from) object"); }

std::string_view StatementSql(sqlite3_stmt* stmt) {
  const char* sql = stmt != nullptr ? sqlite3_sql(stmt) : nullptr;
  return sql != nullptr ? std::string_view(sql) : std::string_view();
}

}  // namespace

// --- Statement ----------------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_error_(std::exchange(other.bind_error_, Status())) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = std::exchange(other.bind_error_, Status());
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

namespace {

// Records the outcome of a sqlite3_bind_* call in `error` unless an earlier one failed already.
void RecordBind(Status& error, int rc, sqlite3* db, sqlite3_stmt* stmt, int index) {
  if (rc == SQLITE_OK || !error.ok()) return;
  error = ConnectionError(db, rc, "sqlite bind of parameter " + std::to_string(index),
                          StatementSql(stmt));
}

}  // namespace

Statement& Statement::Bind(int index, int64_t value) {
  if (stmt_ == nullptr) {
    if (bind_error_.ok()) bind_error_ = Closed();
    return *this;
  }
  RecordBind(bind_error_, sqlite3_bind_int64(stmt_, index, value), db_, stmt_, index);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  if (stmt_ == nullptr) {
    if (bind_error_.ok()) bind_error_ = Closed();
    return *this;
  }
  // A null pointer would bind NULL; an empty view must bind the empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  RecordBind(bind_error_,
             sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
             db_, stmt_, index);
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const uint8_t> bytes) {
  if (stmt_ == nullptr) {
    if (bind_error_.ok()) bind_error_ = Closed();
    return *this;
  }
  // A null pointer would bind NULL; an empty span must bind the empty blob.
  int rc = bytes.empty()
               ? sqlite3_bind_zeroblob(stmt_, index, 0)
               : sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  RecordBind(bind_error_, rc, db_, stmt_, index);
  return *this;
}

Statement& Statement::BindNull(int index) {
  if (stmt_ == nullptr) {
    if (bind_error_.ok()) bind_error_ = Closed();
    return *this;
  }
  RecordBind(bind_error_, sqlite3_bind_null(stmt_, index), db_, stmt_, index);
  return *this;
}

Statement& Statement::Bind(int index, const std::optional<std::string>& text) {
  return text.has_value() ? Bind(index, std::string_view(*text)) : BindNull(index);
}

Result<bool> Statement::Step() {
  if (stmt_ == nullptr) return Closed();
  if (!bind_error_.ok()) return bind_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status error = ConnectionError(db_, rc, "sqlite step", StatementSql(stmt_));
  // Leave the statement ready for a retry rather than halted in the error state.
  sqlite3_reset(stmt_);
  return error;
}

Status Statement::Run() {
  SITECHAIN_ASSIGN_OR_RETURN(bool row, Step());
  if (row) {
    // Do not leave a half-read statement holding a read transaction open.
    sqlite3_reset(stmt_);
    return InvalidArgument("sqlite Run: the statement returned a row (read it with Step); SQL: " +
                           Abbreviate(StatementSql(stmt_)));
  }
  return Status::Ok();
}

void Statement::Reset() {
  bind_error_ = Status::Ok();
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::ColumnInt(int column) const {
  if (stmt_ == nullptr) return 0;
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::ColumnText(int column) const {
  if (stmt_ == nullptr) return {};
  // sqlite3_column_text first, then _bytes (the order SQLite documents); keeps embedded NULs.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr || size <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::vector<uint8_t> Statement::ColumnBlob(int column) const {
  if (stmt_ == nullptr) return {};
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::vector<uint8_t>(data, data + size);
}

bool Statement::ColumnIsNull(int column) const {
  if (stmt_ == nullptr) return true;
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnText(column);
}

// --- Database -----------------------------------------------------------------------------------

namespace {

// PRAGMA quick_check (every b-tree page, record and index order; not the index contents): OK
// when it answers "ok", DATA_LOSS naming the file and its first complaint otherwise.
Status QuickCheck(Database& db, const std::string& path) {
  const std::string hint = "; restore it from a backup or move it away";
  SITECHAIN_ASSIGN_OR_RETURN(Statement check, db.Prepare("PRAGMA quick_check"));
  Result<bool> row = check.Step();
  if (!row.ok()) {
    return DataLoss("sqlite open " + path + ": the database is damaged (" + row.status().message() +
                    ")" + hint);
  }
  const std::string first = *row ? check.ColumnText(0) : std::string("no answer");
  if (first == "ok") return Status::Ok();
  return DataLoss("sqlite open " + path +
                  ": the database is damaged (quick_check: " + first.substr(0, 300) + ")" + hint);
}

}  // namespace

Result<Database> Database::Open(const std::string& path, const Options& options) {
  if (path.empty()) return InvalidArgument("sqlite open: empty database path");
  if (path.find('\0') != std::string::npos) {
    return InvalidArgument("sqlite open: database path contains a NUL byte");
  }

  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int stat_errno = errno;
    if (stat_errno != ENOENT) {
      return FailedPrecondition("sqlite open: cannot stat database file " + path + ": " +
                                std::strerror(stat_errno));
    }
    if (!options.create) {
      return FailedPrecondition("sqlite open: database file " + path + " does not exist");
    }
    // Create the file ourselves so that it is private (0600) whatever the umask lets SQLite do.
    // The -wal and -shm files SQLite creates later copy the database file's mode.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      int open_errno = errno;
      if (open_errno != EEXIST) {  // EEXIST: someone else created it meanwhile; fine
        return FailedPrecondition("sqlite open: cannot create database file " + path + ": " +
                                  std::strerror(open_errno));
      }
    } else {
      ::close(fd);
    }
  }

  // No SQLITE_OPEN_CREATE: the file exists by now (created above with mode 0600 when allowed),
  // and if it vanished meanwhile SQLite must not recreate it with its default mode.
  sqlite3* handle = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status error =
        SqliteError(rc, "sqlite open " + path, handle != nullptr ? sqlite3_errmsg(handle) : "", "");
    sqlite3_close_v2(handle);
    return error;
  }
  Database db(handle, path);  // closes the handle on every return below
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, options.busy_timeout_ms > 0 ? options.busy_timeout_ms : 0);

  // Every failure below names the file (a damaged header fails the first statement already).
  Status configured = [&]() -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(Statement wal, db.Prepare("PRAGMA journal_mode=WAL"));
    SITECHAIN_ASSIGN_OR_RETURN(bool row, wal.Step());
    std::string mode = row ? wal.ColumnText(0) : std::string();
    if (mode != "wal") {
      return FailedPrecondition("could not switch to WAL journal mode (got '" + mode + "')");
    }
    SITECHAIN_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"));
    // Read the schema now so that a damaged file is reported by Open, not by a later query.
    SITECHAIN_ASSIGN_OR_RETURN(Statement check, db.Prepare("SELECT count(*) FROM sqlite_master"));
    return check.Step().status();
  }();
  if (!configured.ok()) return configured.WithContext("sqlite open " + path);
  if (options.quick_check) SITECHAIN_RETURN_IF_ERROR(QuickCheck(db, path));
  return db;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::exchange(other.path_, std::string())) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::exchange(other.path_, std::string());
  }
  return *this;
}

Database::~Database() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Database::Exec(std::string_view sql) {
  if (db_ == nullptr) return Closed();
  if (sql.find('\0') != std::string_view::npos) {
    return InvalidArgument("sqlite exec: SQL contains a NUL byte; SQL: " + Abbreviate(sql));
  }
  std::string text(sql);
  char* errmsg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &errmsg);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string detail = errmsg != nullptr ? errmsg : sqlite3_errmsg(db_);
  sqlite3_free(errmsg);
  return SqliteError(rc, "sqlite exec", detail, sql);
}

Result<Statement> Database::Prepare(std::string_view sql) {
  if (db_ == nullptr) return Closed();
  if (sql.size() >= static_cast<size_t>(INT_MAX)) {
    return InvalidArgument("sqlite prepare: SQL too long; SQL: " + Abbreviate(sql));
  }
  if (sql.find('\0') != std::string_view::npos) {
    return InvalidArgument("sqlite prepare: SQL contains a NUL byte; SQL: " + Abbreviate(sql));
  }
  const char* const end = sql.data() + sql.size();
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return ConnectionError(db_, rc, "sqlite prepare", sql);
  }
  if (raw == nullptr) {
    return InvalidArgument("sqlite prepare: no SQL statement; SQL: " + Abbreviate(sql));
  }
  Statement stmt(db_, raw);

  // Only whitespace, comments and semicolons may follow the statement. Anything else would be
  // silently ignored by sqlite3_prepare_v2, so refuse it (Exec runs multi-statement scripts).
  while (tail != nullptr && tail < end) {
    sqlite3_stmt* extra = nullptr;
    const char* next = nullptr;
    rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &extra, &next);
    if (extra != nullptr || rc != SQLITE_OK) {
      sqlite3_finalize(extra);
      return InvalidArgument(
          "sqlite prepare: more than one SQL statement (use Exec for scripts); SQL: " +
          Abbreviate(sql));
    }
    if (next == nullptr || next <= tail) break;  // nothing but whitespace and comments left
    tail = next;
  }
  return stmt;
}

Status Database::Transaction(const std::function<Status()>& fn) {
  if (db_ == nullptr) return Closed();
  if (sqlite3_get_autocommit(db_) == 0) {
    return FailedPrecondition("sqlite: nested transaction (a transaction is already open on " +
                              path_ + ")");
  }
  SITECHAIN_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status status;
  try {
    status = fn();
  } catch (...) {
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
    throw;
  }
  if (status.ok()) {
    status = Exec("COMMIT");
    if (status.ok()) return status;
  }
  // A failed COMMIT (e.g. a deferred constraint) leaves the transaction open. If ROLLBACK fails
  // too, the original error is still the one worth reporting.
  if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
  return status;
}

namespace {

// Reads the version inside an open connection; 0 when there is no schema_version table.
Result<int> ReadSchemaVersion(Database& db) {
  SITECHAIN_ASSIGN_OR_RETURN(
      Statement exists,
      db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"));
  SITECHAIN_ASSIGN_OR_RETURN(bool has_table, exists.Step());
  if (!has_table) return 0;

  SITECHAIN_ASSIGN_OR_RETURN(Statement select, db.Prepare("SELECT version FROM schema_version"));
  SITECHAIN_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return DataLoss("sqlite: the schema_version table of " + db.path() + " is empty");
  if (select.ColumnIsNull(0)) {
    return DataLoss("sqlite: the schema version of " + db.path() + " is NULL");
  }
  int64_t version = select.ColumnInt(0);
  SITECHAIN_ASSIGN_OR_RETURN(bool second, select.Step());
  if (second) {
    return DataLoss("sqlite: the schema_version table of " + db.path() + " has several rows");
  }
  if (version < 0 || version > INT_MAX) {
    return DataLoss("sqlite: the schema version of " + db.path() + " is out of range (" +
                    std::to_string(version) + ")");
  }
  return static_cast<int>(version);
}

Status NewerSchema(const std::string& path, int version, size_t known) {
  return FailedPrecondition("sqlite: database " + path + " has schema version " +
                            std::to_string(version) + " but this program knows only up to " +
                            std::to_string(known) + " (written by a newer sitechain)");
}

}  // namespace

Result<int> Database::SchemaVersion() {
  if (db_ == nullptr) return Closed();
  return ReadSchemaVersion(*this);
}

Status Database::Migrate(const std::vector<std::string>& migrations) {
  if (db_ == nullptr) return Closed();
  if (migrations.size() >= static_cast<size_t>(INT_MAX)) {
    return InvalidArgument("sqlite migrate: too many migrations");
  }
  const int target = static_cast<int>(migrations.size());

  // Look before taking the write lock: an up-to-date (or newer) database is left untouched.
  SITECHAIN_ASSIGN_OR_RETURN(int version, ReadSchemaVersion(*this));
  if (version > target) return NewerSchema(path_, version, migrations.size());
  if (version == target && version > 0) return Status::Ok();

  // One transaction per step. The version is re-read under the write lock so that two
  // connections migrating at once each apply a migration exactly once.
  while (true) {
    bool done = false;
    Status status = Transaction([&]() -> Status {
      SITECHAIN_RETURN_IF_ERROR(
          Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
      SITECHAIN_ASSIGN_OR_RETURN(Statement count, Prepare("SELECT count(*) FROM schema_version"));
      SITECHAIN_ASSIGN_OR_RETURN(bool row, count.Step());
      if (row && count.ColumnInt(0) == 0) {
        SITECHAIN_RETURN_IF_ERROR(Exec("INSERT INTO schema_version (version) VALUES (0)"));
      }
      SITECHAIN_ASSIGN_OR_RETURN(int current, ReadSchemaVersion(*this));
      if (current > target) return NewerSchema(path_, current, migrations.size());
      if (current == target) {
        done = true;
        return Status::Ok();
      }
      Status applied = Exec(migrations[static_cast<size_t>(current)]);
      if (!applied.ok()) {
        return applied.WithContext("schema migration " + std::to_string(current) + " -> " +
                                   std::to_string(current + 1));
      }
      SITECHAIN_ASSIGN_OR_RETURN(Statement update,
                                 Prepare("UPDATE schema_version SET version = ?1"));
      return update.Bind(1, static_cast<int64_t>(current) + 1).Run();
    });
    SITECHAIN_RETURN_IF_ERROR(status);
    if (done) return Status::Ok();
  }
}

int64_t Database::LastInsertRowId() const {
  return db_ != nullptr ? sqlite3_last_insert_rowid(db_) : 0;
}

int Database::Changes() const { return db_ != nullptr ? sqlite3_changes(db_) : 0; }

}  // namespace sitechain::sql
