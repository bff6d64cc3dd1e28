#include "common/files.h"
#include "devkit/commands.h"
#include "pki/csr.h"
#include "pki/key.h"

namespace sitechain::devkit {

Status Keygen(const KeygenOptions& opts, Random& rng, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::KeyType type, pki::ParseKeyType(opts.key_type));
  if (PathExists(opts.out)) {
    return AlreadyExists(opts.out + " exists; refusing to overwrite a key (choose another --out)");
  }
  pki::PrivateKey key = pki::PrivateKey::Generate(type, rng);
  SITECHAIN_RETURN_IF_ERROR(key.Save(opts.out, opts.passphrase, rng));
  out << "wrote " << pki::KeyTypeName(type) << " key to " << opts.out << " (mode 0600"
      << (opts.passphrase ? ", encrypted" : "") << ")\n";
  return Status::Ok();
}

Status MakeCsr(const CsrOptions& opts, Random& rng, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::Load(opts.key, opts.passphrase));
  SITECHAIN_ASSIGN_OR_RETURN(auto csr, pki::CertificateRequest::Create(key, opts.name, rng));
  SITECHAIN_RETURN_IF_ERROR(csr.Save(opts.out));
  out << "wrote CSR for '" << opts.name << "' to " << opts.out
      << "; register it with the token file from the store admin: devkit register --store "
         "HOST:PORT --store-root ROOT.pem --token-file TOKEN_FILE --csr "
      << opts.out << " --out " << opts.name << ".pem\n";
  return Status::Ok();
}

}  // namespace sitechain::devkit
