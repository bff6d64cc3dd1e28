#include "sim/message_sizes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/extensions.h"
#include "pki/oids.h"
#include "sitechain/v1/site.pb.h"

namespace sitechain::sim {
namespace {

// Measured once for the suite: the default RSA-2048 of the paper.
const MessageSizes& Rsa() {
  static const MessageSizes* sizes = [] {
    MessageSizeOptions o;
    o.max_payload = 200;
    Result<MessageSizes> r = MessageSizes::Measure(o);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      std::abort();
    }
    return new MessageSizes(std::move(r).value());
  }();
  return *sizes;
}

TEST(SitePolicyWithPayload, IsAJsonObjectExactlyPayloadBytesLongerThanEmpty) {
  for (uint32_t n = 0; n <= 300; ++n) {
    const std::string json = SitePolicyWithPayload(n);
    EXPECT_EQ(json.size(), n + 2) << n;
    const auto parsed = nlohmann::json::parse(json, nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << json;
  }
}

TEST(MessageSizes, SingleCallEqualsTheRealSerializedMessages) {
  const MessageSizes& sizes = Rsa();
  for (uint32_t payload : {0u, 1u, 57u, 123u, 200u}) {
    v1::RenewRequest request;
    v1::InstanceRenewal* entry = request.add_instances();
    entry->set_service(sizes.options().service);
    entry->set_csr_der(sizes.csr_der().data(), sizes.csr_der().size());
    v1::RenewResponse response;
    v1::IssuedCertificate* issued = response.add_certificates();
    issued->set_service(sizes.options().service);
    const auto& der = sizes.cert_site_der(payload);
    issued->set_cert_site_der(der.data(), der.size());
    issued->set_renew_after(sizes.renew_after());
    issued->set_renew_before(sizes.renew_before());
    EXPECT_EQ(sizes.request_entry(), request.ByteSizeLong());
    EXPECT_EQ(sizes.response_entry(payload), response.ByteSizeLong());
    EXPECT_EQ(sizes.SingleCall(payload), request.ByteSizeLong() + response.ByteSizeLong());
    // And what goes on the wire is that long.
    EXPECT_EQ(request.SerializeAsString().size(), request.ByteSizeLong());
  }
}

TEST(MessageSizes, BatchedCallEqualsTheRealMultiEntryMessages) {
  const MessageSizes& sizes = Rsa();
  const std::vector<uint16_t> payloads = {0, 200, 17, 140, 99};
  v1::RenewRequest request;
  v1::RenewResponse response;
  for (uint16_t p : payloads) {
    v1::InstanceRenewal* entry = request.add_instances();
    entry->set_service(sizes.options().service);
    entry->set_csr_der(sizes.csr_der().data(), sizes.csr_der().size());
    v1::IssuedCertificate* issued = response.add_certificates();
    issued->set_service(sizes.options().service);
    issued->set_cert_site_der(sizes.cert_site_der(p).data(), sizes.cert_site_der(p).size());
    issued->set_renew_after(sizes.renew_after());
    issued->set_renew_before(sizes.renew_before());
  }
  EXPECT_EQ(sizes.BatchCall(payloads), request.ByteSizeLong() + response.ByteSizeLong());
  EXPECT_EQ(sizes.FailedCall(1), sizes.request_entry() + sizes.error_entry());
}

TEST(MessageSizes, CertificatesAreRealCertSitesCarryingThePayload) {
  const MessageSizes& sizes = Rsa();
  Result<pki::CertificateRequest> csr = pki::CertificateRequest::FromDer(sizes.csr_der());
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  EXPECT_TRUE(csr->SignatureValid());
  EXPECT_EQ(csr->CommonName(), sizes.options().service);
  for (uint32_t payload : {0u, 6u, 200u}) {
    Result<pki::Certificate> cert = pki::Certificate::FromDer(sizes.cert_site_der(payload));
    ASSERT_TRUE(cert.ok()) << cert.status().ToString();
    EXPECT_EQ(cert->PublicKeyAlgorithm(), "RSA");
    EXPECT_EQ(cert->PublicKeyDer(), csr->PublicKeyDer());  // the instance key of the CSR
    EXPECT_EQ(cert->NotAfter() - cert->NotBefore(), Seconds(5000) + pki::kNotBeforeBackdate);
    std::optional<pki::RawExtension> ext = cert->FindExtension(pki::SitePolicyOid());
    ASSERT_TRUE(ext.has_value());
    Result<std::string> policy = pki::DecodeSitePolicy(ext->value);
    ASSERT_TRUE(policy.ok());
    EXPECT_EQ(*policy, SitePolicyWithPayload(payload));
  }
  // Bigger payload, bigger certificate, by at least the payload.
  EXPECT_GE(sizes.cert_site_der(200).size(), sizes.cert_site_der(0).size() + 200);
  EXPECT_GT(sizes.response_entry(200), sizes.response_entry(0));
}

TEST(MessageSizes, KeyTypeAndOverheadChangeTheSizes) {
  MessageSizeOptions o;
  o.site_key = pki::KeyType::kEd25519;
  o.instance_key = pki::KeyType::kEd25519;
  o.max_payload = 10;
  o.overhead_per_call = 160;
  Result<MessageSizes> ed = MessageSizes::Measure(o);
  ASSERT_TRUE(ed.ok()) << ed.status().ToString();
  EXPECT_LT(ed->request_entry(), Rsa().request_entry());
  EXPECT_LT(ed->response_entry(0), Rsa().response_entry(0));
  EXPECT_EQ(ed->SingleCall(3), ed->request_entry() + ed->response_entry(3) + 160);
  EXPECT_EQ(ed->SingleCall(50), ed->SingleCall(10));  // clamped to max_payload
  const std::vector<uint16_t> two = {1, 2};
  EXPECT_EQ(ed->BatchCall(two),
            160 + 2 * ed->request_entry() + ed->response_entry(1) + ed->response_entry(2));
}

}  // namespace
}  // namespace sitechain::sim
