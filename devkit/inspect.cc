#include "common/terminal_text.h"
#include "devkit/commands.h"
#include "pki/describe.h"

namespace sitechain::devkit {

Status Inspect(const std::string& cert_path, bool json, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::Load(cert_path));
  if (json) {
    // ensure_ascii: DEL, C1 and everything else beyond ASCII as \uXXXX, nothing a terminal runs.
    out << pki::DescribeCertificate(cert).dump(2, ' ', /*ensure_ascii=*/true) << "\n";
  } else {
    // A certificate's names are whatever its issuer or requester put there: escaped.
    out << ForTerminalLines(pki::DescribeCertificateText(cert));
  }
  return Status::Ok();
}

}  // namespace sitechain::devkit
