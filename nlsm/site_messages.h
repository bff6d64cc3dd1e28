#pragma once
// The node's reading of the messages its site manager sends (GrpcSiteClient uses these), apart
// from the transport so that tests/fuzz can feed them arbitrary messages. Nothing read here is
// believed: certificates are verified later, and times and windows are only plans.

#include <vector>

#include "nlsm/site_client.h"
#include "sitechain/v1/site.pb.h"

namespace sitechain::nlsm {

// A command pushed over the node's stream; an unknown kind is read as a heartbeat ack.
Command CommandFromProto(const v1::NodeCommand& in);

// One outcome per certificate of a RenewResponse, in the slsm's order.
std::vector<RenewalOutcome> OutcomesFromProto(const v1::RenewResponse& response);

// The package header of a FetchPackage stream.
PackageHeader HeaderFromProto(const v1::PackageHeader& h);

}  // namespace sitechain::nlsm
