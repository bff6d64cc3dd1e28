#pragma once
// Helpers for reading rows of a prepared sql::Statement (storage/sqlite.h) into records, shared by
// the databases of the store (store/store_db.cc) and the site manager (slsm/*_db.cc):
//
//   SITECHAIN_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT name, created_at FROM t WHERE id =
//   ?1")); st.Bind(1, id); return sql::One<Row>(st, ReadRow, "no row " + std::to_string(id));
//
// Times are kept as whole Unix seconds (common/clock.h ToUnixSeconds / FromUnixSeconds); a NULL
// time column is "not yet" (std::nullopt).
//
// Thread-safety: as the Statement they read (not thread-safe; the owner of its Database
// serialises). Errors: the Statement's step errors (storage/sqlite.h's codes), and NOT_FOUND from
// One when the query returned no row.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "storage/sqlite.h"

namespace sitechain::sql {

// The column as a time (Unix seconds; saturated beyond TimePoint's range).
inline TimePoint ColumnTime(const Statement& st, int column) {
  return FromUnixSeconds(st.ColumnInt(column));
}

// The column as a time, or nullopt when it is NULL.
inline std::optional<TimePoint> OptionalTime(const Statement& st, int column) {
  if (st.ColumnIsNull(column)) return std::nullopt;
  return ColumnTime(st, column);
}

// Steps a prepared single-row query: read(st) of its row, or NOT_FOUND with `not_found`.
template <typename T, typename Reader>
Result<T> One(Statement& st, Reader read, const std::string& not_found) {
  SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound(not_found);
  return read(st);
}

// Steps a prepared query to its end: read(st) of every row, in order.
template <typename T, typename Reader>
Result<std::vector<T>> All(Statement& st, Reader read) {
  std::vector<T> out;
  while (true) {
    SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(read(st));
  }
}

// The first column of the query's first row as an integer, or `if_none` when it returns no row
// (the shape of SELECT COALESCE(MAX(x), 0) ... and one-row settings tables).
inline Result<int64_t> FirstInt(Statement& st, int64_t if_none) {
  SITECHAIN_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : if_none;
}

}  // namespace sitechain::sql
