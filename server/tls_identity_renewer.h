#pragma once
// The TLS server identity of a running server (the store's, the site manager's), renewed while
// it serves: an identity file (common/identity_file.h) that the public listener watches
// (ServerTlsOptions::identity_file), rewritten with a fresh key and certificate when two thirds of
// the current certificate's life have passed. New handshakes present the new certificate;
// connections made before keep theirs, so a renewal drops no stream.
//
// Knows nothing of certificates: the server hands in how to issue an identity (its CA) and is
// told the times and serial of what was issued.
//
// Thread-safety: every method may be called from any thread. The renewer owns one thread between
// Start and Stop; RenewIfDue runs the same pass without it (tests with a ManualClock).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/identity_file.h"
#include "common/result.h"

namespace sitechain::server {

// The shortest TLS server certificate lifetime a server accepts: renewal (at two thirds) comes
// every 4 s at this lifetime, which leaves the listener (which looks at the identity file every
// second) and the clients a second or two before the old certificate ends.
inline constexpr Seconds kMinTlsLifetime{6};

// A freshly issued TLS server identity: the identity file's text, and what the schedule and the
// log need to know of its certificate.
struct IssuedTlsIdentity {
  IdentityPem pem;
  std::string common_name;  // for the log
  std::string serial;       // hex, for the log
  TimePoint not_after;
};

// Issues a new key and a certificate for it; an error status is logged and retried.
using IssueTlsIdentity = std::function<Result<IssuedTlsIdentity>()>;

// When a certificate issued at `issued` and valid until not_after is renewed: two thirds into
// its life. Its life counts from the issue, not from its notBefore, which the builders backdate
// (pki::kNotBeforeBackdate, a minute) for clients whose clocks are a little behind.
TimePoint TlsRenewalTime(TimePoint issued, TimePoint not_after);
// When a failed renewal is tried again, at `now`: a tenth of the certificate's life later, at
// least 1 s and at most retry_max, so that a short-lived certificate gets several tries before it
// ends and a long-lived one does not hammer a broken CA.
TimePoint TlsRetryTime(TimePoint now, TimePoint issued, TimePoint not_after,
                       std::chrono::milliseconds retry_max);

struct TlsRenewalOptions {
  std::string identity_file;                   // its directory is created (mode 0700) if missing
  std::chrono::milliseconds retry_max{30000};  // TlsRetryTime's cap
};

class TlsIdentityRenewer final {
 public:
  // Issues the first identity and writes the identity file. The issue's or the write's error
  // (the server cannot start without an identity).
  static Result<std::unique_ptr<TlsIdentityRenewer>> Create(IssueTlsIdentity issue,
                                                            const Clock& clock,
                                                            TlsRenewalOptions options);
  ~TlsIdentityRenewer();  // Stop()
  TlsIdentityRenewer(const TlsIdentityRenewer&) = delete;
  TlsIdentityRenewer& operator=(const TlsIdentityRenewer&) = delete;

  // Starts the renewal thread: RenewIfDue at each due time (looking at the clock at least every
  // second, so that a clock that jumps is noticed).
  void Start();
  // Stops and joins the thread. Idempotent; the identity file stays.
  void Stop();

  // One pass: if the renewal (or retry) time has come, issues a new identity and replaces the
  // identity file, logging the new serial and notAfter; a failure is logged and the next try
  // scheduled (TlsRetryTime). Returns when the next pass is due.
  TimePoint RenewIfDue();

  // What the identity file holds, and the schedule.
  struct State {
    std::string common_name, serial;
    TimePoint issued;  // by the injected clock, just before the issue callback returned
    TimePoint not_after;
    TimePoint next_attempt;  // the renewal time, or the retry time after a failure
    uint64_t renewals = 0;   // successful renewals since Create
    uint64_t failures = 0;   // failed attempts since the last success
  };
  State state() const;
  const std::string& identity_file() const { return options_.identity_file; }

 private:
  TlsIdentityRenewer(IssueTlsIdentity issue, const Clock& clock, TlsRenewalOptions options)
      : issue_(std::move(issue)), clock_(clock), options_(std::move(options)) {}
  // Issues and writes one identity; on success records it and schedules its renewal.
  Status IssueAndWrite();

  const IssueTlsIdentity issue_;
  const Clock& clock_;
  const TlsRenewalOptions options_;

  std::mutex pass_mu_;  // one pass at a time (the thread's and a caller's RenewIfDue)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_;            // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sitechain::server
