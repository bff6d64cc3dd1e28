#pragma once
// Site manager records ↔ sitechain.v1 messages, for the gRPC adapters only.

#include "sitechain/v1/site.pb.h"
#include "slsm/node_hub.h"
#include "slsm/records.h"
#include "slsm/site_service.h"

namespace sitechain::slsm {

void ToProto(const ReleaseRecord& in, v1::InstalledRelease* out);
void ToProto(const ServiceView& in, v1::Service* out);
void ToProto(const InstanceRecord& in, v1::Instance* out);
void ToProto(const IssuedRecord& in, v1::IssuedEntry* out);
// `up`: whether the node has a live command stream now (NodeHub::IsUp).
void ToProto(const NodeRecord& in, bool up, uint32_t instances, v1::Node* out);
void ToProto(const NodeCommand& in, v1::NodeCommand* out);
void ToProto(const RenewalResult& in, v1::IssuedCertificate* out);

std::vector<uint8_t> BytesOf(const std::string& proto_bytes);

}  // namespace sitechain::slsm
