#include "devkit/commands.h"
#include "pki/describe.h"

namespace sitechain::devkit {

Status Inspect(const std::string& cert_path, bool json, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::Load(cert_path));
  if (json) {
    out << pki::DescribeCertificate(cert).dump(2) << "\n";
  } else {
    out << pki::DescribeCertificateText(cert);
  }
  return Status::Ok();
}

}  // namespace sitechain::devkit
