#include <nlohmann/json.hpp>

#include "common/time_format.h"
#include "devkit/commands.h"
#include "pki/builders.h"

namespace sitechain::devkit {

Status Sign(const SignOptions& opts, const Clock& clock, Random& rng, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::HashAlgorithm alg, pki::ParseHashAlgorithm(opts.hash));
  SITECHAIN_ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::Load(opts.key, opts.passphrase));
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate identity, pki::Certificate::Load(opts.cert));
  pki::ReleaseSpec spec;
  spec.release = {opts.name, opts.version, opts.release};
  SITECHAIN_RETURN_IF_ERROR(pki::ValidateServiceRelease(spec.release));
  SITECHAIN_ASSIGN_OR_RETURN(spec.executable, pki::HashFile(alg, opts.executable));
  if (opts.metadata) {
    SITECHAIN_ASSIGN_OR_RETURN(auto digest, pki::HashFile(alg, *opts.metadata));
    spec.metadata = digest;
  }
  SITECHAIN_ASSIGN_OR_RETURN(
      pki::Certificate cert,
      pki::BuildCertDev(spec, identity, key, opts.lifetime, pki::BuildContext{clock, rng}));
  const std::string path = opts.out.empty() ? opts.executable + ".cert.pem" : opts.out;
  SITECHAIN_RETURN_IF_ERROR(cert.Save(path));
  if (opts.json) {
    out << nlohmann::json{{"cert", path},
                          {"name", opts.name},
                          {"version", opts.version},
                          {"releaseCounter", opts.release},
                          {"executableHash", spec.executable.Hex()},
                          {"hashAlgorithm", pki::HashAlgorithmName(alg)},
                          {"notAfter", FormatTime(cert.NotAfter())}}
               .dump(2)
        << "\n";
  } else {
    out << "signed " << opts.executable << " as " << opts.name << " " << opts.version
        << " (release " << opts.release << ", " << pki::HashAlgorithmName(alg) << " "
        << spec.executable.Hex() << ")\nwrote Cert_dev to " << path << ", valid until "
        << FormatTime(cert.NotAfter()) << "\n";
  }
  return Status::Ok();
}

}  // namespace sitechain::devkit
