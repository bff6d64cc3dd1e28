#include "storage/sqlite.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "tests/common/temp_dir.h"

namespace sitechain::sql {
namespace {

using testutil::ModeOf;
using testutil::ScopedUmask;
using testutil::TempDir;
using testutil::WriteWholeFile;

// Declares lhs from a Result's value, or fails the test (fatally) with the status.
#define SQL_ASSERT_OK_AND_ASSIGN(lhs, expr)                                                  \
  auto SITECHAIN_CONCAT_(sql_test_result_, __LINE__) = (expr);                               \
  ASSERT_TRUE(SITECHAIN_CONCAT_(sql_test_result_, __LINE__).ok())                            \
      << #expr << ": " << SITECHAIN_CONCAT_(sql_test_result_, __LINE__).status().ToString(); \
  lhs = std::move(SITECHAIN_CONCAT_(sql_test_result_, __LINE__)).value()

#define SQL_ASSERT_OK(expr)                                                             \
  do {                                                                                  \
    ::sitechain::Status sql_test_status_ = (expr);                                      \
    ASSERT_TRUE(sql_test_status_.ok()) << #expr << ": " << sql_test_status_.ToString(); \
  } while (0)

// Runs a query returning exactly one value and returns it as text (empty on any failure, which
// is also reported as a test failure).
std::string QueryText(Database& db, std::string_view sql) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) {
    ADD_FAILURE() << sql << ": " << stmt.status().ToString();
    return {};
  }
  auto row = stmt->Step();
  if (!row.ok() || !*row) {
    ADD_FAILURE() << sql << ": no row " << (row.ok() ? "" : row.status().ToString());
    return {};
  }
  return stmt->ColumnText(0);
}

int64_t QueryInt(Database& db, std::string_view sql) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) {
    ADD_FAILURE() << sql << ": " << stmt.status().ToString();
    return -1;
  }
  auto row = stmt->Step();
  if (!row.ok() || !*row) {
    ADD_FAILURE() << sql << ": no row " << (row.ok() ? "" : row.status().ToString());
    return -1;
  }
  return stmt->ColumnInt(0);
}

bool TableExists(Database& db, const std::string& name) {
  return QueryInt(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '" +
                          name + "'") == 1;
}

class SqliteTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.Path("test.db"); }

  // Opens DbPath() with a table t (id INTEGER PRIMARY KEY, name TEXT UNIQUE).
  Result<Database> OpenWithTable() {
    SITECHAIN_ASSIGN_OR_RETURN(Database db, Database::Open(DbPath()));
    SITECHAIN_RETURN_IF_ERROR(
        db.Exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"));
    return db;
  }

  TempDir dir_;
};

using SqliteDatabaseTest = SqliteTest;
using SqliteStatementTest = SqliteTest;
using SqliteTransactionTest = SqliteTest;
using SqliteMigrateTest = SqliteTest;

// --- Open ---------------------------------------------------------------------------------------

TEST_F(SqliteDatabaseTest, OpenCreatesPrivateFileInWalMode) {
  ScopedUmask umask(0);  // the 0600 must come from the code, not from the umask
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  EXPECT_EQ(db.path(), DbPath());
  EXPECT_EQ(ModeOf(DbPath()), 0600);
  EXPECT_EQ(QueryText(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryInt(db, "PRAGMA synchronous"), 2);  // FULL
  EXPECT_EQ(QueryInt(db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(QueryInt(db, "PRAGMA busy_timeout"), 5000);

  // The WAL side files SQLite creates are private too.
  SQL_ASSERT_OK(db.Exec("CREATE TABLE x (v INTEGER)"));
  EXPECT_EQ(ModeOf(DbPath() + "-wal"), 0600);
  EXPECT_EQ(ModeOf(DbPath() + "-shm"), 0600);
}

TEST_F(SqliteDatabaseTest, OpenUsesBusyTimeoutOption) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath(), {.busy_timeout_ms = 1234}));
  EXPECT_EQ(QueryInt(db, "PRAGMA busy_timeout"), 1234);
}

TEST_F(SqliteDatabaseTest, OpenKeepsModeOfExistingFile) {
  ASSERT_TRUE(WriteWholeFile(DbPath(), ""));
  ASSERT_EQ(::chmod(DbPath().c_str(), 0640), 0);
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath(), {.create = false}));
  EXPECT_EQ(ModeOf(DbPath()), 0640);
  EXPECT_EQ(QueryText(db, "PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteDatabaseTest, OpenMissingWithoutCreateIsFailedPrecondition) {
  auto db = Database::Open(DbPath(), {.create = false});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(db.status().message().find(DbPath()), std::string::npos) << db.status().ToString();
  EXPECT_EQ(ModeOf(DbPath()), -1) << "must not create the file";
}

TEST_F(SqliteDatabaseTest, OpenInMissingDirectoryIsFailedPrecondition) {
  std::string path = dir_.Path("no/such/dir/test.db");
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(db.status().message().find(path), std::string::npos) << db.status().ToString();
}

TEST_F(SqliteDatabaseTest, OpenEmptyPathIsInvalidArgument) {
  auto db = Database::Open("");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteDatabaseTest, OpenGarbageFileIsDataLoss) {
  std::string garbage;
  uint32_t x = 12345;
  for (int i = 0; i < 8192; ++i) {
    x = x * 1103515245u + 12345u;
    garbage.push_back(static_cast<char>('a' + (x >> 16) % 26));
  }
  ASSERT_TRUE(WriteWholeFile(DbPath(), garbage));
  auto db = Database::Open(DbPath());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kDataLoss) << db.status().ToString();
}

TEST_F(SqliteDatabaseTest, OpenShortGarbageFileIsDataLoss) {
  ASSERT_TRUE(WriteWholeFile(DbPath(), "this is not a database\n"));
  auto db = Database::Open(DbPath(), {.create = false});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kDataLoss) << db.status().ToString();
}

TEST_F(SqliteDatabaseTest, DataSurvivesCloseAndReopen) {
  {
    SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
    SQL_ASSERT_OK(db.Exec("INSERT INTO t (name) VALUES ('alice'), ('bob')"));
  }
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath(), {.create = false}));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);
  EXPECT_EQ(QueryText(db, "SELECT name FROM t WHERE id = 2"), "bob");
}

TEST_F(SqliteDatabaseTest, SecondConnectionSeesCommittedData) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db1, OpenWithTable());
  SQL_ASSERT_OK_AND_ASSIGN(Database db2, Database::Open(DbPath(), {.create = false}));
  SQL_ASSERT_OK(db1.Exec("INSERT INTO t (name) VALUES ('alice')"));
  EXPECT_EQ(QueryText(db2, "SELECT name FROM t"), "alice");
  SQL_ASSERT_OK(db1.Transaction([&] { return db1.Exec("INSERT INTO t (name) VALUES ('bob')"); }));
  EXPECT_EQ(QueryInt(db2, "SELECT count(*) FROM t"), 2);
}

TEST_F(SqliteDatabaseTest, UncommittedDataIsInvisibleAndReadersAreNotBlocked) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db1, OpenWithTable());
  SQL_ASSERT_OK_AND_ASSIGN(Database db2, Database::Open(DbPath(), {.create = false}));
  SQL_ASSERT_OK(db1.Exec("INSERT INTO t (name) VALUES ('alice')"));
  SQL_ASSERT_OK(db2.Exec("BEGIN IMMEDIATE; INSERT INTO t (name) VALUES ('bob')"));
  // WAL: db1 still reads, and sees only committed rows.
  EXPECT_EQ(QueryInt(db1, "SELECT count(*) FROM t"), 1);
  SQL_ASSERT_OK(db2.Exec("COMMIT"));
  EXPECT_EQ(QueryInt(db1, "SELECT count(*) FROM t"), 2);
}

TEST_F(SqliteDatabaseTest, WriterLockHeldElsewhereIsUnavailable) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db1, OpenWithTable());
  ASSERT_TRUE(db1.Exec("PRAGMA busy_timeout = 50").ok());
  SQL_ASSERT_OK_AND_ASSIGN(Database db2, Database::Open(DbPath(), {.create = false}));
  // db2 holds the write lock for the whole test, so this does not depend on timing.
  SQL_ASSERT_OK(db2.Exec("BEGIN IMMEDIATE"));

  bool ran = false;
  Status status = db1.Transaction([&] {
    ran = true;
    return Status::Ok();
  });
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_FALSE(ran);

  Status insert = db1.Exec("INSERT INTO t (name) VALUES ('x')");
  EXPECT_EQ(insert.code(), StatusCode::kUnavailable) << insert.ToString();
  SQL_ASSERT_OK_AND_ASSIGN(Statement stmt, db1.Prepare("INSERT INTO t (name) VALUES ('y')"));
  Status run = stmt.Run();
  EXPECT_EQ(run.code(), StatusCode::kUnavailable) << run.ToString();

  SQL_ASSERT_OK(db2.Exec("ROLLBACK"));
  // Once the lock is gone, the same statement and connection work.
  SQL_ASSERT_OK(stmt.Run());
  SQL_ASSERT_OK(db1.Transaction([] { return Status::Ok(); }));
  EXPECT_EQ(QueryInt(db1, "SELECT count(*) FROM t"), 1);
}

TEST_F(SqliteDatabaseTest, BusyTimeoutOptionAppliesToOpen) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db2, OpenWithTable());
  SQL_ASSERT_OK(db2.Exec("BEGIN IMMEDIATE"));
  SQL_ASSERT_OK_AND_ASSIGN(Database db1,
                           Database::Open(DbPath(), {.busy_timeout_ms = 50, .create = false}));
  Status status = db1.Exec("INSERT INTO t (name) VALUES ('x')");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  SQL_ASSERT_OK(db2.Exec("ROLLBACK"));
}

TEST_F(SqliteDatabaseTest, ExecRunsScriptsAndMapsErrors) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK(
      db.Exec("INSERT INTO t (name) VALUES ('a'); INSERT INTO t (name) VALUES ('b');\n-- done\n"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);

  Status dup = db.Exec("INSERT INTO t (name) VALUES ('a')");
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists) << dup.ToString();

  Status bad = db.Exec("CREATE TABLE oops (");
  EXPECT_EQ(bad.code(), StatusCode::kInternal);
  EXPECT_NE(bad.message().find("CREATE TABLE oops ("), std::string::npos) << bad.ToString();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);
}

TEST_F(SqliteDatabaseTest, FullDatabaseIsResourceExhausted) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Exec("CREATE TABLE big (b BLOB)"));
  int64_t pages = QueryInt(db, "PRAGMA page_count");
  SQL_ASSERT_OK(db.Exec("PRAGMA max_page_count = " + std::to_string(pages + 2)));
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO big (b) VALUES (?1)"));
  std::vector<uint8_t> blob(1 << 20, 0xab);
  Status status = insert.BindBlob(1, blob).Run();
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.ToString();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM big"), 0);
}

TEST_F(SqliteDatabaseTest, ForeignKeysAreEnforced) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Exec(
      "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
      "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id))"));
  Status status = db.Exec("INSERT INTO child (parent) VALUES (42)");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM child"), 0);
}

TEST_F(SqliteDatabaseTest, LastInsertRowIdAndChanges) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK(db.Exec("INSERT INTO t (id, name) VALUES (41, 'a')"));
  EXPECT_EQ(db.LastInsertRowId(), 41);
  SQL_ASSERT_OK(db.Exec("INSERT INTO t (name) VALUES ('b')"));
  EXPECT_EQ(db.LastInsertRowId(), 42);
  EXPECT_EQ(db.Changes(), 1);
  SQL_ASSERT_OK(db.Exec("UPDATE t SET name = name || '!'"));
  EXPECT_EQ(db.Changes(), 2);
  SQL_ASSERT_OK(db.Exec("DELETE FROM t WHERE id = 99"));
  EXPECT_EQ(db.Changes(), 0);
}

TEST_F(SqliteDatabaseTest, MovedFromDatabaseIsHarmless) {
  SQL_ASSERT_OK_AND_ASSIGN(Database a, OpenWithTable());
  Database b = std::move(a);
  SQL_ASSERT_OK(b.Exec("INSERT INTO t (name) VALUES ('alice')"));
  EXPECT_EQ(b.path(), DbPath());

  // NOLINTBEGIN(bugprone-use-after-move): exercising the moved-from state on purpose
  EXPECT_EQ(a.Exec("SELECT 1").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a.Prepare("SELECT 1").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a.Transaction([] { return Status::Ok(); }).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a.Migrate({}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a.SchemaVersion().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a.LastInsertRowId(), 0);
  EXPECT_EQ(a.Changes(), 0);
  // NOLINTEND(bugprone-use-after-move)

  // Move-assigning over an open database closes it and takes the other one.
  SQL_ASSERT_OK_AND_ASSIGN(Database c, Database::Open(dir_.Path("other.db")));
  c = std::move(b);
  EXPECT_EQ(c.path(), DbPath());
  EXPECT_EQ(QueryInt(c, "SELECT count(*) FROM t"), 1);
  {
    Database moved_again = std::move(c);
  }  // destroying the holder closes the connection; c and b destruct harmlessly afterwards
}

// --- Statement ----------------------------------------------------------------------------------

TEST_F(SqliteStatementTest, IntegersRoundTrip) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Exec("CREATE TABLE n (v INTEGER)"));
  const std::vector<int64_t> values = {0,
                                       1,
                                       -1,
                                       std::numeric_limits<int32_t>::max() + int64_t{1},
                                       std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::max()};
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO n (v) VALUES (?1)"));
  for (int64_t v : values) {
    SQL_ASSERT_OK(insert.Bind(1, v).Run());
    insert.Reset();
  }
  SQL_ASSERT_OK_AND_ASSIGN(Statement select, db.Prepare("SELECT v FROM n ORDER BY rowid"));
  std::vector<int64_t> read;
  while (true) {
    SQL_ASSERT_OK_AND_ASSIGN(bool row, select.Step());
    if (!row) break;
    EXPECT_FALSE(select.ColumnIsNull(0));
    read.push_back(select.ColumnInt(0));
  }
  EXPECT_EQ(read, values);
}

TEST_F(SqliteStatementTest, TextRoundTrip) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Exec("CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT)"));
  const std::string utf8 = "h\xC3\xA9llo \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC";  // héllo ✓ 日本
  const std::string with_nul("a\0b", 3);
  const std::string owned = "owned string";
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO s (id, v) VALUES (?1, ?2)"));
  SQL_ASSERT_OK(insert.Bind(1, int64_t{1}).Bind(2, "plain").Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, int64_t{2}).Bind(2, std::string_view(utf8)).Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, int64_t{3}).Bind(2, std::string_view(with_nul)).Run());
  insert.Reset();
  {
    // The text is copied at bind time: the source may go away before Run.
    std::string temporary = "temporary";
    insert.Bind(1, int64_t{4}).Bind(2, std::string_view(temporary));
    temporary.assign("XXXXXXXXX");
  }
  SQL_ASSERT_OK(insert.Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, int64_t{5}).Bind(2, std::optional<std::string>(owned)).Run());

  SQL_ASSERT_OK_AND_ASSIGN(Statement select, db.Prepare("SELECT v FROM s WHERE id = ?1"));
  auto read = [&](int64_t id) -> std::string {
    select.Reset();
    auto row = select.Bind(1, id).Step();
    EXPECT_TRUE(row.ok() && *row) << id;
    return select.ColumnText(0);
  };
  EXPECT_EQ(read(1), "plain");
  EXPECT_EQ(read(2), utf8);
  EXPECT_EQ(read(3), with_nul);
  EXPECT_EQ(read(3).size(), 3u);
  EXPECT_EQ(read(4), "temporary");
  EXPECT_EQ(read(5), owned);
  EXPECT_EQ(select.ColumnOptionalText(0), std::optional<std::string>(owned));
  EXPECT_EQ(QueryText(db, "SELECT typeof(v) FROM s WHERE id = 2"), "text");
}

TEST_F(SqliteStatementTest, BlobRoundTrip) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Exec("CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB)"));
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<uint8_t>(i * 7));
  bytes[10] = 0;
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO b (id, v) VALUES (?1, ?2)"));
  SQL_ASSERT_OK(insert.Bind(1, int64_t{1}).BindBlob(2, bytes).Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, int64_t{2}).BindBlob(2, std::span<const uint8_t>()).Run());

  SQL_ASSERT_OK_AND_ASSIGN(Statement select, db.Prepare("SELECT v, typeof(v) FROM b ORDER BY id"));
  SQL_ASSERT_OK_AND_ASSIGN(bool row, select.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(select.ColumnBlob(0), bytes);
  EXPECT_EQ(select.ColumnText(1), "blob");
  SQL_ASSERT_OK_AND_ASSIGN(row, select.Step());
  ASSERT_TRUE(row);
  // An empty blob is an empty blob, not NULL.
  EXPECT_TRUE(select.ColumnBlob(0).empty());
  EXPECT_FALSE(select.ColumnIsNull(0));
  EXPECT_EQ(select.ColumnText(1), "blob");
  SQL_ASSERT_OK_AND_ASSIGN(row, select.Step());
  EXPECT_FALSE(row);
}

TEST_F(SqliteStatementTest, NullAndOptional) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Exec("CREATE TABLE o (id INTEGER PRIMARY KEY, v)"));
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO o (id, v) VALUES (?1, ?2)"));
  SQL_ASSERT_OK(insert.Bind(1, int64_t{1}).BindNull(2).Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, int64_t{2}).Bind(2, std::optional<std::string>()).Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, int64_t{3}).Bind(2, std::optional<std::string>("")).Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, int64_t{4}).Bind(2, std::string_view()).Run());

  SQL_ASSERT_OK_AND_ASSIGN(Statement select, db.Prepare("SELECT v, typeof(v) FROM o ORDER BY id"));
  for (int id = 1; id <= 2; ++id) {
    SQL_ASSERT_OK_AND_ASSIGN(bool row, select.Step());
    ASSERT_TRUE(row);
    EXPECT_TRUE(select.ColumnIsNull(0)) << id;
    EXPECT_EQ(select.ColumnInt(0), 0);
    EXPECT_EQ(select.ColumnText(0), "");
    EXPECT_TRUE(select.ColumnBlob(0).empty());
    EXPECT_EQ(select.ColumnOptionalText(0), std::nullopt);
    EXPECT_EQ(select.ColumnText(1), "null");
  }
  for (int id = 3; id <= 4; ++id) {
    // An empty string (even from a default string_view) is text, not NULL.
    SQL_ASSERT_OK_AND_ASSIGN(bool row, select.Step());
    ASSERT_TRUE(row);
    EXPECT_FALSE(select.ColumnIsNull(0)) << id;
    EXPECT_EQ(select.ColumnOptionalText(0), std::optional<std::string>("")) << id;
    EXPECT_EQ(select.ColumnText(1), "text") << id;
  }
}

TEST_F(SqliteStatementTest, UniqueViolationIsAlreadyExistsAndChangesNothing) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO t (name) VALUES (?1)"));
  SQL_ASSERT_OK(insert.Bind(1, "alice").Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, "bob").Run());
  insert.Reset();
  Status dup = insert.Bind(1, "alice").Run();
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists) << dup.ToString();
  EXPECT_NE(dup.message().find("INSERT INTO t"), std::string::npos) << dup.ToString();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);

  // Primary key clash too.
  Status pk = db.Exec("INSERT INTO t (id, name) VALUES (1, 'carol')");
  EXPECT_EQ(pk.code(), StatusCode::kAlreadyExists) << pk.ToString();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);

  // The statement is still usable after the error.
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, "carol").Run());
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 3);
}

TEST_F(SqliteStatementTest, BindOutOfRangeIsReturnedByRun) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO t (name) VALUES (?1)"));

  Status zero = insert.Bind(0, "alice").Run();
  EXPECT_FALSE(zero.ok());
  EXPECT_NE(zero.message().find("parameter 0"), std::string::npos) << zero.ToString();

  insert.Reset();
  Status beyond = insert.Bind(1, "alice").Bind(2, int64_t{7}).Run();
  EXPECT_FALSE(beyond.ok());
  EXPECT_NE(beyond.message().find("parameter 2"), std::string::npos) << beyond.ToString();
  EXPECT_NE(beyond.message().find("INSERT INTO t"), std::string::npos) << beyond.ToString();

  // The first bind error wins, and Step reports it too; nothing was executed.
  insert.Reset();
  insert.Bind(5, int64_t{1}).BindNull(9).Bind(1, "alice");
  auto step = insert.Step();
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.status().message().find("parameter 5"), std::string::npos)
      << step.status().ToString();
  EXPECT_FALSE(insert.Run().ok()) << "the error stays until Reset";
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 0);

  // Reset clears the error.
  insert.Reset();
  SQL_ASSERT_OK(insert.Bind(1, "alice").Run());
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 1);
}

TEST_F(SqliteStatementTest, ResetClearsBindings) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK_AND_ASSIGN(Statement insert, db.Prepare("INSERT INTO t (name) VALUES (?1)"));
  SQL_ASSERT_OK(insert.Bind(1, "alice").Run());
  insert.Reset();
  SQL_ASSERT_OK(insert.Run());  // ?1 is NULL now
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t WHERE name IS NULL"), 1);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);
}

TEST_F(SqliteStatementTest, StepIteratesAndCanBeReset) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK(db.Exec("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')"));
  SQL_ASSERT_OK_AND_ASSIGN(Statement select, db.Prepare("SELECT name FROM t ORDER BY id"));
  for (int pass = 0; pass < 2; ++pass) {
    std::string names;
    while (true) {
      SQL_ASSERT_OK_AND_ASSIGN(bool row, select.Step());
      if (!row) break;
      names += select.ColumnText(0);
    }
    EXPECT_EQ(names, "abc") << pass;
    select.Reset();
  }
}

TEST_F(SqliteStatementTest, PrepareInvalidSqlIsInternalWithSql) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  auto syntax = db.Prepare("SELEKT 1 FROM nowhere");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), StatusCode::kInternal);
  EXPECT_NE(syntax.status().message().find("SELEKT 1 FROM nowhere"), std::string::npos)
      << syntax.status().ToString();

  auto missing = db.Prepare("SELECT * FROM no_such_table");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInternal);
  EXPECT_NE(missing.status().message().find("no_such_table"), std::string::npos)
      << missing.status().ToString();
}

TEST_F(SqliteStatementTest, LongSqlIsTruncatedInMessages) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  std::string sql = "SELEKT " + std::string(5000, 'x');
  auto stmt = db.Prepare(sql);
  ASSERT_FALSE(stmt.ok());
  EXPECT_NE(stmt.status().message().find("SELEKT xxx"), std::string::npos);
  EXPECT_LT(stmt.status().message().size(), 1000u) << stmt.status().ToString();
}

TEST_F(SqliteStatementTest, PrepareRefusesMoreThanOneStatement) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  auto two = db.Prepare("INSERT INTO t (name) VALUES ('a'); INSERT INTO t (name) VALUES ('b')");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), StatusCode::kInvalidArgument) << two.status().ToString();

  auto garbage = db.Prepare("SELECT 1; garbage");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 0);

  // A trailing semicolon, whitespace or comment is fine.
  SQL_ASSERT_OK_AND_ASSIGN(Statement ok1, db.Prepare("SELECT 1;"));
  SQL_ASSERT_OK_AND_ASSIGN(Statement ok2, db.Prepare("SELECT 1 ;  \n -- trailing comment\n"));
  SQL_ASSERT_OK_AND_ASSIGN(Statement ok3, db.Prepare("SELECT 1; /* c */ ;"));
  SQL_ASSERT_OK_AND_ASSIGN(bool row, ok2.Step());
  EXPECT_TRUE(row);
  EXPECT_EQ(ok2.ColumnInt(0), 1);
}

TEST_F(SqliteStatementTest, PrepareEmptySqlIsInvalidArgument) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  for (std::string_view sql : {"", "   ", "-- only a comment", ";"}) {
    auto stmt = db.Prepare(sql);
    ASSERT_FALSE(stmt.ok()) << sql;
    EXPECT_EQ(stmt.status().code(), StatusCode::kInvalidArgument) << sql;
  }
}

TEST_F(SqliteStatementTest, RunRefusesStatementThatReturnsRows) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK(db.Exec("INSERT INTO t (name) VALUES ('a')"));
  SQL_ASSERT_OK_AND_ASSIGN(Statement select, db.Prepare("SELECT name FROM t"));
  Status status = select.Run();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("SELECT name FROM t"), std::string::npos);

  // The refused statement was reset (it holds no half-read cursor): a write transaction on the
  // same connection works, and the statement can be stepped normally afterwards.
  SQL_ASSERT_OK(db.Transaction([&] { return db.Exec("INSERT INTO t (name) VALUES ('b')"); }));
  SQL_ASSERT_OK_AND_ASSIGN(bool row, select.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(select.ColumnText(0), "a");

  // A query that happens to return no rows is done at once, so Run accepts it.
  SQL_ASSERT_OK_AND_ASSIGN(Statement empty, db.Prepare("SELECT name FROM t WHERE id = 99"));
  SQL_ASSERT_OK(empty.Run());
}

TEST_F(SqliteStatementTest, MovedFromStatementIsHarmless) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK_AND_ASSIGN(Statement a, db.Prepare("INSERT INTO t (name) VALUES (?1)"));
  Statement b = std::move(a);
  SQL_ASSERT_OK(b.Bind(1, "alice").Run());

  // NOLINTBEGIN(bugprone-use-after-move): exercising the moved-from state on purpose
  EXPECT_EQ(a.Step().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a.Bind(1, "x").Run().code(), StatusCode::kFailedPrecondition);
  a.Reset();
  EXPECT_EQ(a.ColumnInt(0), 0);
  EXPECT_EQ(a.ColumnText(0), "");
  EXPECT_TRUE(a.ColumnBlob(0).empty());
  EXPECT_TRUE(a.ColumnIsNull(0));
  EXPECT_EQ(a.ColumnOptionalText(0), std::nullopt);
  // NOLINTEND(bugprone-use-after-move)

  // Move-assigning over a live statement finalizes it.
  SQL_ASSERT_OK_AND_ASSIGN(Statement c, db.Prepare("SELECT count(*) FROM t"));
  c = std::move(b);
  c.Reset();
  SQL_ASSERT_OK(c.Bind(1, "bob").Run());
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);
}

// --- Transaction --------------------------------------------------------------------------------

TEST_F(SqliteTransactionTest, CommitsOnOk) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  SQL_ASSERT_OK(db.Transaction([&]() -> Status {
    SITECHAIN_RETURN_IF_ERROR(db.Exec("INSERT INTO t (name) VALUES ('a')"));
    return db.Exec("INSERT INTO t (name) VALUES ('b')");
  }));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 2);
  SQL_ASSERT_OK_AND_ASSIGN(Database other, Database::Open(DbPath(), {.create = false}));
  EXPECT_EQ(QueryInt(other, "SELECT count(*) FROM t"), 2);
}

TEST_F(SqliteTransactionTest, RollsBackOnErrorAndPassesItThrough) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  Status status = db.Transaction([&]() -> Status {
    SITECHAIN_RETURN_IF_ERROR(db.Exec("INSERT INTO t (name) VALUES ('a')"));
    return NotFound("the thing is gone");
  });
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "the thing is gone");
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 0);

  // A failing statement inside rolls back the earlier ones, and its error comes out.
  status = db.Transaction([&]() -> Status {
    SITECHAIN_RETURN_IF_ERROR(db.Exec("INSERT INTO t (name) VALUES ('a')"));
    return db.Exec("INSERT INTO t (name) VALUES ('a')");
  });
  EXPECT_EQ(status.code(), StatusCode::kAlreadyExists) << status.ToString();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 0);

  // The connection is back in autocommit mode: a new transaction works.
  SQL_ASSERT_OK(db.Transaction([&] { return db.Exec("INSERT INTO t (name) VALUES ('c')"); }));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 1);
}

TEST_F(SqliteTransactionTest, FailedCommitRollsBack) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(
      db.Exec("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
              "CREATE TABLE child (id INTEGER PRIMARY KEY,"
              "  parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"));
  // The deferred foreign key is only checked at COMMIT, which fails.
  Status status = db.Transaction([&] { return db.Exec("INSERT INTO child (parent) VALUES (7)"); });
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("COMMIT"), std::string::npos) << status.ToString();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM child"), 0);
  SQL_ASSERT_OK(db.Transaction([&] {
    return db.Exec("INSERT INTO parent (id) VALUES (7); INSERT INTO child (parent) VALUES (7)");
  }));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM child"), 1);
}

TEST_F(SqliteTransactionTest, NestedTransactionIsRefusedAndOuterCommits) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  Status inner;
  bool inner_ran = false;
  SQL_ASSERT_OK(db.Transaction([&]() -> Status {
    SITECHAIN_RETURN_IF_ERROR(db.Exec("INSERT INTO t (name) VALUES ('outer')"));
    inner = db.Transaction([&] {
      inner_ran = true;
      return db.Exec("INSERT INTO t (name) VALUES ('inner')");
    });
    return Status::Ok();
  }));
  EXPECT_EQ(inner.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(inner.message().find("nested transaction"), std::string::npos) << inner.ToString();
  EXPECT_FALSE(inner_ran);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 1);
  EXPECT_EQ(QueryText(db, "SELECT name FROM t"), "outer");
}

TEST_F(SqliteTransactionTest, ExceptionRollsBackAndPropagates) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, OpenWithTable());
  EXPECT_THROW((void)db.Transaction([&]() -> Status {
    SITECHAIN_RETURN_IF_ERROR(db.Exec("INSERT INTO t (name) VALUES ('a')"));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM t"), 0);
  SQL_ASSERT_OK(db.Transaction([] { return Status::Ok(); }));
}

// --- Migrate ------------------------------------------------------------------------------------

const std::vector<std::string> kMigrations = {
    "CREATE TABLE a (id INTEGER PRIMARY KEY)",
    "CREATE TABLE b (id INTEGER PRIMARY KEY); CREATE INDEX b_id ON b (id)",
    "ALTER TABLE a ADD COLUMN name TEXT",
};

TEST_F(SqliteMigrateTest, NewDatabaseHasVersionZero) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK_AND_ASSIGN(int version, db.SchemaVersion());
  EXPECT_EQ(version, 0);
  EXPECT_FALSE(TableExists(db, "schema_version")) << "SchemaVersion must not write";

  SQL_ASSERT_OK(db.Migrate({}));
  EXPECT_TRUE(TableExists(db, "schema_version"));
  SQL_ASSERT_OK_AND_ASSIGN(version, db.SchemaVersion());
  EXPECT_EQ(version, 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM schema_version"), 1);
}

TEST_F(SqliteMigrateTest, MigratesToLatestAndRerunIsNoOp) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Migrate(kMigrations));
  SQL_ASSERT_OK_AND_ASSIGN(int version, db.SchemaVersion());
  EXPECT_EQ(version, 3);
  EXPECT_TRUE(TableExists(db, "a"));
  EXPECT_TRUE(TableExists(db, "b"));
  SQL_ASSERT_OK(db.Exec("INSERT INTO a (id, name) VALUES (1, 'x')"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM schema_version"), 1);

  // Re-running (these migrations are not idempotent SQL) changes nothing.
  SQL_ASSERT_OK(db.Migrate(kMigrations));
  SQL_ASSERT_OK_AND_ASSIGN(version, db.SchemaVersion());
  EXPECT_EQ(version, 3);
  EXPECT_EQ(QueryText(db, "SELECT name FROM a WHERE id = 1"), "x");
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM schema_version"), 1);

  // Also after reopening.
  SQL_ASSERT_OK_AND_ASSIGN(Database again, Database::Open(DbPath(), {.create = false}));
  SQL_ASSERT_OK(again.Migrate(kMigrations));
  SQL_ASSERT_OK_AND_ASSIGN(version, again.SchemaVersion());
  EXPECT_EQ(version, 3);
}

TEST_F(SqliteMigrateTest, LaterMigrationAppliesOnlyTheNewOne) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  std::vector<std::string> first(kMigrations.begin(), kMigrations.begin() + 2);
  SQL_ASSERT_OK(db.Migrate(first));
  SQL_ASSERT_OK_AND_ASSIGN(int version, db.SchemaVersion());
  EXPECT_EQ(version, 2);
  SQL_ASSERT_OK(db.Exec("INSERT INTO a (id) VALUES (5)"));

  SQL_ASSERT_OK(db.Migrate(kMigrations));
  SQL_ASSERT_OK_AND_ASSIGN(version, db.SchemaVersion());
  EXPECT_EQ(version, 3);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM a WHERE id = 5 AND name IS NULL"), 1);
}

TEST_F(SqliteMigrateTest, FailingMigrationLeavesPreviousWholeVersion) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  std::vector<std::string> migrations = {
      kMigrations[0],
      // The first statement succeeds, the second fails: neither may remain.
      "CREATE TABLE half (id INTEGER); CREATE TABLE broken (",
      "CREATE TABLE never (id INTEGER)",
  };
  Status status = db.Migrate(migrations);
  EXPECT_EQ(status.code(), StatusCode::kInternal) << status.ToString();
  EXPECT_NE(status.message().find("1 -> 2"), std::string::npos) << status.ToString();
  SQL_ASSERT_OK_AND_ASSIGN(int version, db.SchemaVersion());
  EXPECT_EQ(version, 1);
  EXPECT_TRUE(TableExists(db, "a"));
  EXPECT_FALSE(TableExists(db, "half"));
  EXPECT_FALSE(TableExists(db, "broken"));
  EXPECT_FALSE(TableExists(db, "never"));

  // Fixed migrations resume from version 1.
  migrations[1] = "CREATE TABLE half (id INTEGER)";
  SQL_ASSERT_OK(db.Migrate(migrations));
  SQL_ASSERT_OK_AND_ASSIGN(version, db.SchemaVersion());
  EXPECT_EQ(version, 3);
  EXPECT_TRUE(TableExists(db, "half"));
  EXPECT_TRUE(TableExists(db, "never"));
}

TEST_F(SqliteMigrateTest, NewerVersionIsFailedPreconditionAndUntouched) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Migrate(kMigrations));
  SQL_ASSERT_OK(db.Exec("INSERT INTO a (id, name) VALUES (1, 'keep')"));

  std::vector<std::string> older(kMigrations.begin(), kMigrations.begin() + 2);
  Status status = db.Migrate(older);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("3"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("2"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("newer"), std::string::npos) << status.ToString();

  SQL_ASSERT_OK_AND_ASSIGN(int version, db.SchemaVersion());
  EXPECT_EQ(version, 3);
  EXPECT_EQ(QueryText(db, "SELECT name FROM a WHERE id = 1"), "keep");
  EXPECT_TRUE(TableExists(db, "b"));
}

TEST_F(SqliteMigrateTest, CorruptVersionTableIsDataLoss) {
  SQL_ASSERT_OK_AND_ASSIGN(Database db, Database::Open(DbPath()));
  SQL_ASSERT_OK(db.Migrate(kMigrations));
  SQL_ASSERT_OK(db.Exec("INSERT INTO schema_version (version) VALUES (1)"));
  EXPECT_EQ(db.SchemaVersion().status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(db.Migrate(kMigrations).code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace sitechain::sql
