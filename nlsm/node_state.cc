#include "nlsm/node_state.h"

#include <nlohmann/json.hpp>

#include "common/files.h"

namespace sitechain::nlsm {

Result<NodeFiles> LoadNode(const std::string& dir) {
  const std::string config_path = dir + "/nlsm.json";
  if (!PathExists(config_path)) {
    return FailedPrecondition(dir + " holds no enrolled node; run nlsm enroll --dir " + dir);
  }
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(config_path, 64 << 10));
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return DataLoss(config_path + " is not valid JSON: " + e.what());
  }
  if (!config.is_object() || !config.contains("node") || !config["node"].is_string() ||
      !config.contains("slsm") || !config["slsm"].is_string()) {
    return DataLoss(config_path + " lacks the node name or the slsm address");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto key, pki::PrivateKey::Load(dir + "/node.key", std::nullopt));
  SITECHAIN_ASSIGN_OR_RETURN(auto cert, pki::Certificate::Load(dir + "/node.pem"));
  SITECHAIN_ASSIGN_OR_RETURN(auto site_root, pki::Certificate::Load(dir + "/site-root.pem"));
  SITECHAIN_ASSIGN_OR_RETURN(auto store_root, pki::Certificate::Load(dir + "/store-root.pem"));
  if (cert.PublicKeyDer() != key.PublicKeyDer()) {
    return DataLoss(dir + "/node.pem is not for the key in " + dir + "/node.key");
  }
  return NodeFiles{config["node"].get<std::string>(), config["slsm"].get<std::string>(),
                   NodeIdentity{std::move(cert), std::move(key), std::move(site_root)},
                   std::move(store_root)};
}

Status SaveNodeCertificate(const std::string& dir, const pki::Certificate& certificate) {
  return certificate.Save(dir + "/node.pem");
}

}  // namespace sitechain::nlsm
