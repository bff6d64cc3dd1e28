#include <nlohmann/json.hpp>

#include "common/terminal_text.h"
#include "common/time_format.h"
#include "devkit/commands.h"
#include "pki/profile.h"
#include "pki/verifier.h"

namespace sitechain::devkit {
namespace {

// Loads an optional certificate file into `slot`.
Status LoadInto(const std::optional<std::string>& path, std::optional<pki::Certificate>& slot) {
  if (!path) return Status::Ok();
  SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::Load(*path));
  slot = std::move(cert);
  return Status::Ok();
}

// A node is given as its name (the site comes from the site root) or as its SPIFFE ID.
std::string NodeId(const std::string& node, const std::optional<pki::Certificate>& site_root) {
  if (node.rfind("spiffe://", 0) == 0 || !site_root) return node;
  return pki::NodeSpiffeId(site_root->Subject().common_name, node);
}

}  // namespace

Status Verify(const VerifyOptions& opts, const Clock& clock, std::ostream& out) {
  pki::ChainInput in;
  SITECHAIN_RETURN_IF_ERROR(LoadInto(opts.store_root, in.store_root));
  SITECHAIN_RETURN_IF_ERROR(LoadInto(opts.site_root, in.site_root));
  SITECHAIN_RETURN_IF_ERROR(LoadInto(opts.developer_cert, in.developer_identity));
  SITECHAIN_RETURN_IF_ERROR(LoadInto(opts.cert_dev, in.cert_dev));
  SITECHAIN_RETURN_IF_ERROR(LoadInto(opts.cert_store, in.cert_store));
  SITECHAIN_RETURN_IF_ERROR(LoadInto(opts.cert_site, in.cert_site));
  in.executable_path = opts.executable;
  in.metadata_path = opts.metadata;
  if (opts.node) in.expected_node_id = NodeId(*opts.node, in.site_root);
  in.highest_release_counter = opts.min_release;

  TimePoint t = clock.Now();
  if (opts.at) {
    SITECHAIN_ASSIGN_OR_RETURN(t, ParseTime(*opts.at));
  }
  pki::Verification v = pki::Verifier(clock, {opts.skew}).VerifyAt(in, t);

  if (opts.json) {
    nlohmann::json j = {{"ok", v.ok()}, {"evaluatedAt", FormatTime(v.evaluated_at)}};
    if (v.ok()) {
      j["rulesChecked"] = v.rules_checked;
      if (v.release) {
        j["release"] = {{"name", v.release->name},
                        {"version", v.release->version},
                        {"releaseCounter", v.release->release_counter}};
      }
    } else {
      j["rule"] = v.failure->rule;
      j["certificate"] = pki::CertRoleName(v.failure->certificate);
      j["reason"] = pki::ReasonName(v.failure->reason);
      j["detail"] = v.failure->detail;
    }
    // ensure_ascii: DEL, C1 and everything else beyond ASCII as \uXXXX; bytes that are not UTF-8
    // (certificates may hold any) as U+FFFD instead of an exception.
    out << j.dump(2, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (v.ok()) {
    out << "OK: rules";
    for (int r : v.rules_checked) out << " " << r;
    out << " hold at " << FormatTime(v.evaluated_at);
    if (v.release) {
      out << " for " << ForTerminal(v.release->name) << " " << ForTerminal(v.release->version)
          << " (release " << v.release->release_counter << ")";
    }
    out << "\n";
  } else {
    out << "REFUSED: " << ForTerminalLines(v.failure->ToString()) << "\n";
  }
  if (!v.ok()) return FailedPrecondition("verification refused: " + v.failure->ToString());
  return Status::Ok();
}

}  // namespace sitechain::devkit
