#pragma once
// What the site manager does with each message a connected node sends on its Connect stream
// (sitechain.v1.NodeMessage), apart from the stream itself: the gRPC adapter (grpc_service.h)
// reads the messages and hands each here, in order, on the stream's reader thread.
//   hello      the node's instances as it runs them: their states recorded (ReportInstances),
//              the session's first heartbeat, then the node caught up (Reconcile: Deploy what
//              it should run, Stop what it reports and should not, renew-now what is stale)
//   instance   a change of one instance: its state recorded (ReportInstance)
//   heartbeat  recorded on the session; its acknowledgement is queued for the stream's writer
// A message of no kind this slsm knows is ignored. Reported states are best effort (kept cut to
// the limits of deployments.h; reports of instances the node does not run change nothing).
//
// An adapter (it reads generated protobuf, no gRPC). Thread-safe as SiteService and NodeHub are;
// the messages of one session are handled one at a time, in the order they came.

#include "common/status.h"
#include "sitechain/v1/site.pb.h"
#include "slsm/node_hub.h"
#include "slsm/site_service.h"

namespace sitechain::slsm {

// Handles one message of the node of `session` (the node the stream authenticated). For a hello,
// returns what Reconcile returns (a failure of the database: the states are recorded by then,
// and the node is caught up at its next hello); OK for the other kinds.
Status HandleNodeMessage(SiteService& service, NodeHub& hub, NodeHub::Session& session,
                         const v1::NodeMessage& message);

}  // namespace sitechain::slsm
