#pragma once
// Store records ↔ sitechain.v1 messages, for the gRPC adapters only.

#include "sitechain/v1/store.pb.h"
#include "store/records.h"

namespace sitechain::store {

void ToProto(const ReleaseRecord& in, v1::Release* out);
void ToProto(const RevocationRecord& in, v1::Revocation* out);
void ToProto(const TokenRecord& in, v1::TokenInfo* out);
void ToProto(const DeveloperRecord& in, v1::Developer* out);
void ToProto(const StoreStats& in, v1::Stats* out);

}  // namespace sitechain::store
