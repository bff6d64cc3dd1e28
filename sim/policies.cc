#include "sim/policies.h"

#include <string>

namespace sitechain::sim {

namespace {

using nlsm::ReconnectRule;
using nlsm::RenewalPolicyKind;

// The paper's policies: reconnecting nodes renew everything at once, and a policy change is
// renewed "immediately".
void Paper(ModelConfig& c, RenewalPolicyKind kind) {
  c.policy.kind = kind;
  c.reconnect = ReconnectRule::kAll;
  c.reconnect_spacing = std::chrono::milliseconds(0);
  c.batch_horizon = Seconds(0);
  c.slsm_windows = false;
  c.renew_now_window = Seconds(0);
}

// The nlsm default: renew at a random point of [50 %, 75 %] of the lifetime.
void Window(ModelConfig& c) { Paper(c, RenewalPolicyKind::kWindow); }

// ... and spread reconnect renewals (only what is due, most urgent first, one per 2 s) and
// renew-now commands (over 300 s).
void WindowJitter(ModelConfig& c) {
  Window(c);
  c.reconnect = ReconnectRule::kDue;
  c.reconnect_spacing = std::chrono::milliseconds(2000);
  c.renew_now_window = Seconds(300);
}

void WindowBatch(ModelConfig& c) {
  WindowJitter(c);
  c.batch_horizon = Seconds(300);
}

void WindowSlsm(ModelConfig& c) {
  WindowJitter(c);
  c.slsm_windows = true;
}

// ... and a jittered start after a site-wide power cut: services come up over 600 s.
void WindowSlsmStart(ModelConfig& c) {
  WindowSlsm(c);
  c.start_spread = Seconds(600);
}

constexpr PolicyPreset kPresets[] = {
    {"at-expiry", "paper, Fig. 3 top: renew at notAfter; a reconnecting node renews all at once",
     true, [](ModelConfig& c) { Paper(c, RenewalPolicyKind::kAtExpiry); }},
    {"paper-backoff",
     "paper, Fig. 3 bottom: uniform in [notAfter-B, notAfter-1s], B=25% of lifetime; reconnect "
     "renews all at once",
     true, [](ModelConfig& c) { Paper(c, RenewalPolicyKind::kPaperBackoff); }},
    {"window", "nlsm default window: uniform in [50%, 75%] of the lifetime; reconnect renews all",
     false, Window},
    {"window-jitter",
     "window + reconnect renews only what is due, most urgent first, one per 2 s; renew-now "
     "spread over 300 s",
     false, WindowJitter},
    {"window-batch",
     "window-jitter + per-node batching (renew what is due within 300 s in one call)", false,
     WindowBatch},
    {"window-slsm",
     "window-jitter + slsm-suggested 1 s windows at its least loaded of 16 sampled seconds", false,
     WindowSlsm},
    {"window-slsm-start", "window-slsm + jittered start after a site-wide power cut (over 600 s)",
     false, WindowSlsmStart},
};

}  // namespace

std::span<const PolicyPreset> PolicyPresets() { return kPresets; }

Result<const PolicyPreset*> FindPolicyPreset(std::string_view name) {
  std::string names;
  for (const PolicyPreset& p : kPresets) {
    if (p.name == name) return &p;
    names += names.empty() ? "" : ", ";
    names += p.name;
  }
  return InvalidArgument("unknown policy '" + std::string(name) + "' (expected one of " + names +
                         ")");
}

}  // namespace sitechain::sim
