#include "pki/ca_files.h"

#include "common/files.h"
#include "pki/verifier.h"

namespace sitechain::pki {

Result<CaFiles> CreateCaFiles(
    const std::string& dir, const std::string& what, KeyType type,
    const std::function<Result<Certificate>(const PrivateKey&)>& build_root,
    const std::optional<std::string>& passphrase, Random& rng) {
  if (PathExists(dir + "/root.pem") || PathExists(dir + "/root.key")) {
    return AlreadyExists(dir + " already holds a " + what + "; refusing to replace its CA");
  }
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
  PrivateKey key = PrivateKey::Generate(type, rng);
  SITECHAIN_ASSIGN_OR_RETURN(Certificate root, build_root(key));
  SITECHAIN_RETURN_IF_ERROR(key.Save(dir + "/root.key", passphrase, rng));
  SITECHAIN_RETURN_IF_ERROR(root.Save(dir + "/root.pem", /*overwrite=*/false));
  return CaFiles{std::move(root), std::move(key)};
}

Result<CaFiles> LoadCaFiles(const std::string& dir, const std::string& init_hint,
                            const std::optional<std::string>& passphrase) {
  if (!PathExists(dir + "/root.pem")) {
    return FailedPrecondition(dir + " holds no CA; create one with '" + init_hint + "'");
  }
  SITECHAIN_ASSIGN_OR_RETURN(Certificate root, Certificate::Load(dir + "/root.pem"));
  SITECHAIN_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::Load(dir + "/root.key", passphrase));
  if (key.PublicKeyDer() != root.PublicKeyDer()) {
    return DataLoss(dir + "/root.key does not belong to " + dir + "/root.pem");
  }
  return CaFiles{std::move(root), std::move(key)};
}

Result<Certificate> LoadStoreRoot(const std::string& path, const Clock& clock) {
  SITECHAIN_ASSIGN_OR_RETURN(Certificate root, Certificate::Load(path));
  const Verifier verifier(clock);
  if (auto v = verifier.VerifyIssuedBy(root, CertRole::kStoreRoot, root); !v.ok()) {
    return InvalidArgument(path + " is not a valid store root: " + v.failure->ToString());
  }
  return root;
}

}  // namespace sitechain::pki
