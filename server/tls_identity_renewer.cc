#include "server/tls_identity_renewer.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/files.h"
#include "common/log.h"
#include "common/time_format.h"

namespace sitechain::server {

TimePoint TlsRenewalTime(TimePoint issued, TimePoint not_after) {
  if (not_after <= issued) return issued;
  return issued + (not_after - issued) * 2 / 3;
}

TimePoint TlsRetryTime(TimePoint now, TimePoint issued, TimePoint not_after,
                       std::chrono::milliseconds retry_max) {
  using std::chrono::milliseconds;
  const auto lifetime = std::chrono::duration_cast<milliseconds>(
      std::max(not_after - issued, TimePoint::duration::zero()));
  const milliseconds wait =
      std::clamp(lifetime / 10, milliseconds(1000), std::max(retry_max, milliseconds(1000)));
  return now + wait;
}

Result<std::unique_ptr<TlsIdentityRenewer>> TlsIdentityRenewer::Create(IssueTlsIdentity issue,
                                                                       const Clock& clock,
                                                                       TlsRenewalOptions options) {
  const std::string dir = std::filesystem::path(options.identity_file).parent_path().string();
  if (!dir.empty()) {
    SITECHAIN_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
    // The key is in the file: the directory is the owner's only, even if it existed before.
    if (::chmod(dir.c_str(), 0700) != 0) {
      return ErrnoStatus("cannot make private (mode 0700) the directory", dir, errno);
    }
  }
  std::unique_ptr<TlsIdentityRenewer> renewer(
      new TlsIdentityRenewer(std::move(issue), clock, std::move(options)));
  SITECHAIN_RETURN_IF_ERROR(renewer->IssueAndWrite());
  return renewer;
}

TlsIdentityRenewer::~TlsIdentityRenewer() { Stop(); }

void TlsIdentityRenewer::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    while (true) {
      const TimePoint next = RenewIfDue();
      // Wake at the due time, and at least every second: the wait runs on the steady clock,
      // the schedule on the injected one, which may jump (or be a test's).
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock_.Now());
      const auto wait =
          std::clamp(until, std::chrono::milliseconds(0), std::chrono::milliseconds(1000));
      std::unique_lock wait_lock(mu_);
      if (cv_.wait_for(wait_lock, wait, [this] { return stopping_; })) return;
    }
  });
}

void TlsIdentityRenewer::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

TlsIdentityRenewer::State TlsIdentityRenewer::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

TimePoint TlsIdentityRenewer::RenewIfDue() {
  std::lock_guard pass(pass_mu_);
  const TimePoint now = clock_.Now();
  State before = state();
  if (now < before.next_attempt) return before.next_attempt;

  const Status renewed = IssueAndWrite();
  std::lock_guard lock(mu_);
  if (renewed.ok()) {
    ++state_.renewals;
    state_.failures = 0;
    spdlog::info(
        "renewed the TLS server certificate: serial {}, for {}, valid until {}; next renewal at "
        "{} ({})",
        state_.serial, state_.common_name, FormatTime(state_.not_after),
        FormatTime(state_.next_attempt), options_.identity_file);
    return state_.next_attempt;
  }
  ++state_.failures;
  state_.next_attempt = TlsRetryTime(now, state_.issued, state_.not_after, options_.retry_max);
  const bool expired = now >= state_.not_after;
  spdlog::error(
      "cannot renew the TLS server certificate (attempt {}): {}; the current one (serial {}) {} "
      "{}; retrying at {}",
      state_.failures, renewed.ToString(), state_.serial, expired ? "expired at" : "is valid until",
      FormatTime(state_.not_after), FormatTime(state_.next_attempt));
  return state_.next_attempt;
}

Status TlsIdentityRenewer::IssueAndWrite() {
  SITECHAIN_ASSIGN_OR_RETURN(IssuedTlsIdentity issued, issue_());
  const TimePoint now = clock_.Now();
  SITECHAIN_RETURN_IF_ERROR(WriteIdentityFile(options_.identity_file, issued.pem));
  std::lock_guard lock(mu_);
  state_.common_name = std::move(issued.common_name);
  state_.serial = std::move(issued.serial);
  state_.issued = now;
  state_.not_after = issued.not_after;
  // At least a second from now, even for a certificate that lives shorter than it should (one
  // capped at a root about to end), so that renewal never spins.
  state_.next_attempt =
      std::max(TlsRenewalTime(now, issued.not_after), now + std::chrono::seconds(1));
  return Status::Ok();
}

}  // namespace sitechain::server
