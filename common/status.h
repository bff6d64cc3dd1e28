#pragma once

#include <string>
#include <string_view>

namespace sitechain {

// The kind of an expected failure. The names follow gRPC's canonical codes so that one place
// (the gRPC adapters) can map them without a table of special cases.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller gave something malformed or not allowed
  kNotFound,            // a named file, key or record does not exist
  kAlreadyExists,       // refusing to overwrite something that exists
  kPermissionDenied,    // the caller may not do this, or a file has unsafe permissions
  kFailedPrecondition,  // the state of the world does not allow it (e.g. not initialised)
  kUnauthenticated,     // a signature, passphrase or credential does not check out
  kResourceExhausted,   // a size or rate limit was hit
  kDataLoss,            // stored data is truncated or corrupted
  kUnavailable,         // a transient I/O or network failure
  kInternal,            // a bug: something that "cannot happen" happened
};

// Returns the stable upper-case name of a code, e.g. "INVALID_ARGUMENT".
std::string_view StatusCodeName(StatusCode code);

// Status is the outcome of an operation that can fail in an expected way: a code and a message
// a person can act on ("key file k.pem has mode 0644; run chmod 600 k.pem"). Cheap to copy.
class [[nodiscard]] Status final {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

  // "OK" or "INVALID_ARGUMENT: <message>".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

}  // namespace sitechain

// Evaluates an expression yielding Status (or Result<T>) and returns its status from the
// enclosing function when it is not OK.
#define SITECHAIN_RETURN_IF_ERROR(expr)                                  \
  do {                                                                   \
    ::sitechain::Status sitechain_status_ = ::sitechain::ToStatus(expr); \
    if (!sitechain_status_.ok()) return sitechain_status_;               \
  } while (0)

namespace sitechain {
inline const Status& ToStatus(const Status& s) { return s; }
}  // namespace sitechain
