#pragma once

#include <cassert>
#include <optional>
#include <utility>

#include "common/status.h"

namespace sitechain {

// Result<T> holds either a value or a non-OK Status: the return type of every operation that
// produces something and can fail in an expected way. Accessing value() of a failed Result is a
// bug and aborts in debug builds.
template <typename T>
class [[nodiscard]] Result final {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result constructed from an OK status without a value");
    if (status_.ok()) status_ = Status(StatusCode::kInternal, "Result without value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

template <typename T>
const Status& ToStatus(const Result<T>& r) {
  return r.status();
}

}  // namespace sitechain

#define SITECHAIN_CONCAT_INNER_(a, b) a##b
#define SITECHAIN_CONCAT_(a, b) SITECHAIN_CONCAT_INNER_(a, b)

// SITECHAIN_ASSIGN_OR_RETURN(auto x, Foo()); declares x from Foo()'s value or returns its status.
#define SITECHAIN_ASSIGN_OR_RETURN(lhs, expr)                       \
  auto SITECHAIN_CONCAT_(sitechain_result_, __LINE__) = (expr);     \
  if (!SITECHAIN_CONCAT_(sitechain_result_, __LINE__).ok())         \
    return SITECHAIN_CONCAT_(sitechain_result_, __LINE__).status(); \
  lhs = std::move(SITECHAIN_CONCAT_(sitechain_result_, __LINE__)).value()
