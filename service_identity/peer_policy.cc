#include "service_identity/peer_policy.h"

#include <nlohmann/json.hpp>

namespace sitechain::service_identity {
namespace {

constexpr std::string_view kScheme = "spiffe://";
constexpr size_t kMaxPeers = 64;

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

Status CheckPattern(std::string_view pattern) {
  auto refuse = [&](std::string_view why) {
    return InvalidArgument("peer pattern \"" + std::string(pattern) + "\": " + std::string(why));
  };
  if (!pattern.starts_with(kScheme)) return refuse("does not start with spiffe://");
  const auto segments = Segments(pattern.substr(kScheme.size()));
  if (segments.size() < 2) return refuse("names no path after the trust domain");
  if (segments[0] == "*") return refuse("the trust domain may not be a wildcard");
  for (std::string_view s : segments) {
    if (s.empty()) return refuse("has an empty segment");
    if (s != "*" && s.find('*') != std::string_view::npos) {
      return refuse("\"*\" may only stand for a whole segment");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PeerPolicy> PeerPolicy::FromPatterns(const std::vector<std::string>& patterns) {
  if (patterns.size() > kMaxPeers) {
    return InvalidArgument("more than " + std::to_string(kMaxPeers) + " peer patterns");
  }
  for (const auto& p : patterns) SITECHAIN_RETURN_IF_ERROR(CheckPattern(p));
  PeerPolicy policy;
  policy.patterns_ = patterns;
  return policy;
}

Result<PeerPolicy> PeerPolicy::FromSitePolicy(std::string_view policy_json) {
  nlohmann::json policy;
  try {
    policy = nlohmann::json::parse(policy_json.empty() ? std::string_view("{}") : policy_json);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("site policy is not JSON: ") + e.what());
  }
  if (!policy.is_object()) return InvalidArgument("site policy is not a JSON object");
  const auto it = policy.find("peers");
  if (it == policy.end()) return PeerPolicy();
  if (!it->is_array()) return InvalidArgument("site policy: \"peers\" is not an array");
  std::vector<std::string> patterns;
  for (const auto& p : *it) {
    if (!p.is_string()) return InvalidArgument("site policy: \"peers\" holds a non-string");
    patterns.push_back(p.get<std::string>());
  }
  auto parsed = FromPatterns(patterns);
  if (!parsed.ok()) return InvalidArgument("site policy: " + parsed.status().message());
  return parsed;
}

bool PeerPolicy::Allows(std::string_view spiffe_id) const {
  if (!spiffe_id.starts_with(kScheme)) return false;
  const auto id = Segments(spiffe_id.substr(kScheme.size()));
  for (const auto& pattern : patterns_) {
    const auto want = Segments(std::string_view(pattern).substr(kScheme.size()));
    if (want.size() != id.size()) continue;
    bool match = true;
    for (size_t i = 0; i < id.size() && match; ++i) {
      match = !id[i].empty() && (want[i] == "*" || want[i] == id[i]);
    }
    if (match) return true;
  }
  return false;
}

}  // namespace sitechain::service_identity
