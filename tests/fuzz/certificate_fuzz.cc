// pki::Certificate::FromDer and FromPem on arbitrary bytes, then everything a server or node
// reads from a certificate it was handed: the accessors, DescribeCertificate (which decodes the
// sitechain extensions) and the verifier's profile checks for every role.
//
// Invariants: parsing never crashes or throws; ToDer/ToPem of a parsed certificate parse again to
// the same certificate. (That an accepted DER certificate re-encodes to exactly the input is
// FromDer's own check: it refuses anything else.)

#include "common/clock.h"
#include "pki/certificate.h"
#include "pki/describe.h"
#include "pki/verifier.h"
#include "tests/fuzz/fuzz_check.h"

using namespace sitechain;

namespace {

void Walk(const pki::Certificate& cert) {
  (void)cert.Subject().ToString();
  (void)cert.Issuer().ToString();
  (void)cert.SubjectDnDer();
  (void)cert.IssuerDnDer();
  (void)cert.SerialHex();
  (void)cert.NotBefore();
  (void)cert.NotAfter();
  (void)cert.IsCa();
  (void)cert.PathLimit();
  (void)cert.IsSelfSigned();
  (void)cert.PublicKeyDer();
  (void)cert.PublicKeyAlgorithm();
  (void)cert.SignatureAlgorithm();
  FUZZ_CHECK(cert.Sha256Fingerprint().size() == 64, "fingerprint is SHA-256 hex");
  for (const auto& ext : cert.Extensions()) {
    auto found = cert.FindExtension(ext.oid);
    FUZZ_CHECK(found.has_value(), "FindExtension finds every listed extension");
  }
  (void)cert.UriSans();
  (void)cert.DnsSans();
  (void)cert.IpSans();
  (void)pki::DescribeCertificate(cert).dump();
  (void)pki::DescribeCertificateText(cert);

  // The profile checks of every role, the certificate as its own issuer, at its notBefore.
  ManualClock clock(cert.NotBefore());
  pki::Verifier verifier(clock);
  for (auto role : {pki::CertRole::kStoreRoot, pki::CertRole::kDeveloperIdentity,
                    pki::CertRole::kCertDev, pki::CertRole::kCertStore, pki::CertRole::kSiteRoot,
                    pki::CertRole::kNode, pki::CertRole::kCertSite, pki::CertRole::kTlsServer}) {
    pki::Verification v = verifier.VerifyIssuedBy(cert, role, cert);
    if (v.failure) (void)v.failure->ToString();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> der = fuzz::Bytes(data, size);
  if (auto cert = pki::Certificate::FromDer(der); cert.ok()) {
    auto from_pem = pki::Certificate::FromPem(cert->ToPem());
    FUZZ_CHECK(from_pem.ok() && *from_pem == *cert, "ToPem parses again");
    Walk(*cert);
  }
  if (auto cert = pki::Certificate::FromPem(fuzz::Text(data, size)); cert.ok()) {
    auto again = pki::Certificate::FromDer(cert->ToDer());
    FUZZ_CHECK(again.ok() && *again == *cert, "ToDer of a PEM certificate parses again");
    Walk(*cert);
  }
  return 0;
}
