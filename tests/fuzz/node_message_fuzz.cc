// sitechain.v1.NodeMessage, which the slsm decodes from every connected node's command stream
// (hello, heartbeat, instance changes), handed to the slsm's own handling of it
// (slsm::HandleNodeMessage, what SiteGrpcService::Connect calls for each message) as node-1's, on
// a real site (fuzz_site.h: node-1 runs hello and world, node-2 runs hello).
//
// Invariants: nothing crashes; the handling succeeds (nothing a node sends fails the site's
// database); the message changes only the reported states of the node-1 instances it names
// (the last report of each), each kept within the limits of deployments.h as a prefix of what was
// reported (all of it when it fits, at most a UTF-8 sequence short of the limit when it does
// not); no instance is added or removed and nothing else of them changes; what the site admin
// lists afterwards (`slsm instances`: convert.h's ToProto) still parses; and node-1's session
// gets the commands the message calls for: a heartbeat's acknowledgement (and the node is up);
// for a hello, the acknowledgement of heartbeat 0, Deploy for each service deployed to node-1
// and one Stop for each service it reported that is not; nothing for the others.

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sitechain/v1/site.pb.h"
#include "slsm/convert.h"
#include "slsm/deployments.h"
#include "slsm/node_messages.h"
#include "tests/fuzz/fuzz_site.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

namespace {

constexpr const char* kNode = "node-1";

using Rows = std::map<std::pair<std::string, std::string>, slsm::InstanceRecord>;  // node, service

Rows Instances(slsm::SiteService& service) {
  auto list = service.ListInstances("", "");
  FUZZ_CHECK(list.ok(), list.status().ToString());
  Rows rows;
  for (auto& i : *list) rows[{i.node, i.service}] = std::move(i);
  return rows;
}

// What the slsm kept of a reported value with a limit of `max` bytes.
void CheckCut(const std::string& kept, const std::string& reported, size_t max, const char* what) {
  FUZZ_CHECK(kept.size() <= max, std::string(what) + " kept past its limit");
  FUZZ_CHECK(reported.compare(0, kept.size(), kept) == 0,
             std::string(what) + " kept is not a prefix of the report");
  if (reported.size() <= max) FUZZ_CHECK(kept == reported, std::string(what) + " cut below limit");
  if (reported.size() > max) {
    FUZZ_CHECK(kept.size() + 3 >= max, std::string(what) + " cut more than a UTF-8 sequence");
  }
}

std::string Describe(const slsm::NodeCommand& c) {
  using Kind = slsm::NodeCommand::Kind;
  switch (c.kind) {
    case Kind::kHeartbeatAck:
      return "ack " + std::to_string(c.heartbeat);
    case Kind::kDeploy:
      return "deploy " + (c.services.empty() ? "" : c.services[0]);
    case Kind::kStop:
      return "stop " + (c.services.empty() ? "" : c.services[0]);
    case Kind::kRenewNow:
      return "renew-now";
  }
  return "?";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto message = fuzz::ParseMessage<v1::NodeMessage>(data, size);
  if (!message) return 0;
  fuzz::FuzzSite& site = fuzz::FuzzSite::Get();
  slsm::SiteService& service = site.service();
  slsm::NodeHub& hub = site.hub();

  const Rows before = Instances(service);
  auto session = hub.Attach(kNode);
  const Status handled = slsm::HandleNodeMessage(service, hub, *session, *message);
  FUZZ_CHECK(handled.ok(), "handling failed: " + handled.ToString());
  std::multiset<std::string> sent;
  while (auto command = hub.Next(*session, std::chrono::milliseconds(0))) {
    sent.insert(Describe(*command));
  }
  const bool up = hub.IsUp(kNode);
  hub.Detach(session);

  // What the message reported, and the commands it calls for.
  std::map<std::string, std::pair<std::string, std::string>> reported;  // service: state, detail
  std::multiset<std::string> expected;
  const std::vector<std::string> deployed = fuzz::FuzzSite::ServicesOf(kNode);
  switch (message->kind_case()) {
    case v1::NodeMessage::kHello:
      expected.insert("ack 0");
      for (const auto& s : deployed) expected.insert("deploy " + s);
      for (const auto& i : message->hello().instances()) {
        reported[i.service()] = {i.state(), i.detail()};
        // One Stop per service, however often the hello names it (the hub coalesces them).
        if (std::find(deployed.begin(), deployed.end(), i.service()) == deployed.end() &&
            !expected.contains("stop " + i.service())) {
          expected.insert("stop " + i.service());
        }
      }
      break;
    case v1::NodeMessage::kInstance:
      reported[message->instance().service()] = {message->instance().state(),
                                                 message->instance().detail()};
      break;
    case v1::NodeMessage::kHeartbeat:
      expected.insert("ack " + std::to_string(message->heartbeat()));
      FUZZ_CHECK(up, "a node that sent a heartbeat is not up");
      break;
    case v1::NodeMessage::KIND_NOT_SET:
      break;
  }
  FUZZ_CHECK(sent == expected, "the commands queued for the node are not those its message asks");

  const Rows after = Instances(service);
  FUZZ_CHECK(after.size() == before.size(), "a report added or removed an instance");
  for (const auto& [key, a] : after) {
    auto b = before.find(key);
    FUZZ_CHECK(b != before.end(), "a report added an instance");
    FUZZ_CHECK(a.deployed_at == b->second.deployed_at &&
                   a.certificate_serial == b->second.certificate_serial &&
                   a.certificate_not_after == b->second.certificate_not_after,
               "a report changed more than the reported state");
    auto r = key.first == kNode ? reported.find(key.second) : reported.end();
    if (r == reported.end()) {
      FUZZ_CHECK(a.node_state == b->second.node_state && a.node_detail == b->second.node_detail,
                 "a report changed an instance it did not name: " + key.first + " " + key.second);
    } else {
      CheckCut(a.node_state, r->second.first, slsm::kMaxReportedStateBytes, "state");
      CheckCut(a.node_detail, r->second.second, slsm::kMaxReportedDetailBytes, "detail");
    }
    // What `slsm instances` receives.
    v1::Instance listed;
    slsm::ToProto(a, &listed);
    v1::Instance received;
    FUZZ_CHECK(received.ParseFromString(listed.SerializeAsString()),
               "the admin's listing of " + key.first + " " + key.second + " does not parse");
  }
  return 0;
}
