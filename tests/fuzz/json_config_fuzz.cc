// The configuration files of the slsm and the nlsm, read by the daemons' own loaders:
// slsm::ParseConfig (slsm.json, then a --config file over it: what LoadConfig does once it has
// read them) and nlsm::ParseNlsmConfig (what LoadNlsmConfig does once it has read its file). The
// input up to its first NUL byte is slsm.json and the nlsm's file; what follows the NUL, if there
// is one, is the slsm's --config file (JSON text holds no NUL).
//
// Invariants: nothing crashes or throws; a refusal is INVALID_ARGUMENT (the loaders' contract);
// an accepted config keeps the range docs/operations.md gives each key (every duration 0 to 100
// years; the lower bounds, the renewal windows, the rate, burst and sizes), and the nlsm's
// renewal policy built from it plans every attempt within a certificate's validity, as
// nlsm/renewal_policy.h promises for any config the loader lets through.

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/random.h"
#include "nlsm/config.h"
#include "nlsm/renewal_policy.h"
#include "pki/extensions.h"
#include "slsm/config.h"
#include "tests/fuzz/fuzz_check.h"

using namespace sitechain;

namespace {

constexpr Seconds kCentury(100LL * 365 * 86400);  // ParseDuration's limit

void CheckRefusal(const Status& s, const char* who) {
  FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument && !s.message().empty(),
             std::string(who) + " refused with " + s.ToString());
}

void CheckDuration(Seconds d, Seconds min, const char* key) {
  FUZZ_CHECK(d >= min && d <= kCentury,
             std::string(key) + " of " + std::to_string(d.count()) + "s accepted");
}

void CheckSlsm(const slsm::SlsmConfig& c) {
  const slsm::SiteOptions& o = c.site_options;
  FUZZ_CHECK(!c.store.empty() && !c.tls_names.empty(), "no store or no TLS name accepted");
  CheckDuration(c.tls_lifetime, Seconds(0), "tls_lifetime");
  CheckDuration(c.heartbeat_timeout, Seconds(1), "heartbeat_timeout");
  CheckDuration(o.cert_site_lifetime, Seconds(10), "cert_site_lifetime");
  CheckDuration(o.node_lifetime, Seconds(60), "node_lifetime");
  CheckDuration(o.node_recovery_grace, Seconds(0), "node_recovery_grace");
  CheckDuration(o.default_token_ttl, Seconds(1), "default_token_ttl");
  CheckDuration(o.max_token_ttl, o.default_token_ttl, "max_token_ttl");
  CheckDuration(o.policy_push_window, Seconds(0), "policy_push_window");
  CheckDuration(o.verify.clock_skew, Seconds(0), "clock_skew");
  FUZZ_CHECK(0 < o.renew_window_start && o.renew_window_start < o.renew_window_end &&
                 o.renew_window_end < 1,
             "renewal window accepted: " + std::to_string(o.renew_window_start) + " to " +
                 std::to_string(o.renew_window_end));
  FUZZ_CHECK(o.max_issuance_per_second > 0 && o.issuance_burst >= 1, "rate or burst accepted");
  FUZZ_CHECK(o.max_executable_bytes >= 1 && o.max_policy_bytes >= 1 &&
                 o.max_policy_bytes <= pki::kMaxSitePolicyBytes,
             "size limit accepted");
}

void CheckNlsm(const nlsm::NlsmConfig& c) {
  const nlsm::RenewalPolicyConfig& r = c.node.renewal;
  CheckDuration(c.stop_grace, Seconds(0), "stop_grace");
  CheckDuration(r.retry_initial, Seconds(1), "retry_initial");
  CheckDuration(r.retry_max, r.retry_initial, "retry_max");
  CheckDuration(c.node.batch_interval, Seconds(0), "batch_interval");
  CheckDuration(c.node.heartbeat_interval, Seconds(1), "heartbeat_interval");
  CheckDuration(c.node.reconnect_initial, Seconds(1), "reconnect_initial");
  CheckDuration(c.node.reconnect_max, c.node.reconnect_initial, "reconnect_max");
  CheckDuration(c.node.verify.clock_skew, Seconds(0), "clock_skew");
  CheckDuration(c.site.call_timeout, Seconds(1), "call_timeout");
  CheckDuration(c.site.keepalive_time, Seconds(1), "keepalive_time");
  CheckDuration(c.site.keepalive_timeout, Seconds(1), "keepalive_timeout");
  CheckDuration(c.site.connect_timeout, Seconds(1), "connect_timeout");
  FUZZ_CHECK(0 <= r.window_start && r.window_start <= r.window_end && r.window_end < 1,
             "renewal window accepted: " + std::to_string(r.window_start) + " to " +
                 std::to_string(r.window_end));
  FUZZ_CHECK(0 < r.backoff_fraction && r.backoff_fraction <= 1, "backoff fraction accepted");

  // What the node does with it: plans for a certificate of the slsm's default Cert_site lifetime
  // and for one of a second.
  const nlsm::RenewalPolicy policy(r);
  SeededRandom rng(1);
  const TimePoint not_before = FromUnixSeconds(1'800'000'000);
  for (Seconds lifetime : {Seconds(5000), Seconds(1)}) {
    const nlsm::CertificateTimes times{not_before, not_before + lifetime, std::nullopt};
    const TimePoint first = policy.FirstAttempt(times, rng);
    FUZZ_CHECK(first >= times.not_before && first <= times.not_after,
               "a first attempt outside the certificate's validity");
    for (int failures = 1; failures <= 3; ++failures) {
      const auto retry = policy.NextRetry(times, first, failures, rng);
      FUZZ_CHECK(!retry || (*retry >= first && *retry <= times.not_after),
                 "a retry before the failed attempt or past notAfter");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::Text(data, size);
  const size_t nul = input.find('\0');
  const slsm::ConfigText base{"slsm.json", std::string(input.substr(0, nul))};
  std::optional<slsm::ConfigText> overrides;
  if (nul != std::string_view::npos) {
    overrides = slsm::ConfigText{"override.json", std::string(input.substr(nul + 1))};
  }

  if (auto c = slsm::ParseConfig(base, overrides); c.ok()) {
    CheckSlsm(*c);
  } else {
    CheckRefusal(c.status(), "slsm");
  }
  if (auto c = nlsm::ParseNlsmConfig(base.text, "nlsm.json"); c.ok()) {
    CheckNlsm(*c);
  } else {
    CheckRefusal(c.status(), "nlsm");
  }
  return 0;
}
