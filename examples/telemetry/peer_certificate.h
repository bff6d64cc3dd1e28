#pragma once
// What the telemetry example logs of the certificate a peer presented in a TLS handshake: its
// serial number, in the form the node manager logs each renewal ("renewed <service>: Cert_site
// <serial> until ..."), so that a handshake can be matched with the renewal that made the
// certificate it used. The examples see only the service-identity helper, not pki/, so the serial
// is read here from the DER (base64 of the PEM, then certificate > tbsCertificate > serialNumber).
//
// Pure functions; thread-safe.

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <string_view>

namespace sitechain::examples {

// The serialNumber of the first certificate in `pem`, as lower-case hex of its value without
// leading zero bytes (pki::Certificate::SerialHex). nullopt if `pem` holds no certificate whose
// DER has the X.509 shape up to the serial.
std::optional<std::string> CertificateSerialHex(std::string_view pem);

// The serial of the certificate the peer of a TLS call presented (its auth context's
// x509_pem_cert); "?" if there is none or it cannot be read.
std::string PeerCertificateSerial(const grpc::AuthContext& auth);

// The peer's SPIFFE ID in a TLS call's auth context (peer_spiffe_id); "?" if there is none. For a
// client, which has no ServerContext for ServiceIdentity::PeerId.
std::string PeerSpiffeId(const grpc::AuthContext& auth);

}  // namespace sitechain::examples
