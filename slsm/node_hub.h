#pragma once
// The command streams of connected nodes. Every node keeps one Connect stream open; the gRPC
// adapter attaches it here as a Session, writes what Next() hands it, and reports heartbeats.
// NodeHub implements SiteService's NodeNotifier by queueing commands on the node's session; a
// command for a node that is not connected is dropped (and counted), never waited on.
//
// A command may wait in the session until a given time (RenewNow's not_before: the site
// manager's push queue); Next hands it out once the injected clock reaches it.
//
// A node is up while its session is attached and its last heartbeat is younger than
// heartbeat_timeout; the time comes from the injected clock.
//
// What waits for a node is bounded (issue 17: a node that does not read its stream must not
// grow the slsm): commands coalesce where sending one twice says nothing new (one pending
// heartbeat acknowledgement, carrying the latest counter; a Deploy or a Stop identical to the
// last pending command for its service; a renew-now identical to one pending), and a session
// whose backlog (commands queued and scheduled, plus the heartbeats answered by one pending
// acknowledgement) passes max_commands is ended at once with RESOURCE_EXHAUSTED ("node N does
// not read its command stream: ...; disconnected"; CloseReason) and its cancel callback runs
// (the gRPC adapter cancels the call, whose writer may be blocked on the node's full window).
//
// Thread-safe: mu_ guards every session's queue and state.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "slsm/site_service.h"

namespace sitechain::slsm {

struct NodeCommand {
  enum class Kind { kDeploy, kStop, kRenewNow, kHeartbeatAck };
  Kind kind = Kind::kDeploy;
  std::vector<std::string> services;  // one for deploy and stop
  std::string digest;                 // deploy
  std::string reason;                 // stop
  Seconds window{0};                  // renew-now
  uint64_t heartbeat = 0;             // heartbeat-ack: the counter acknowledged
};

class NodeHub final : public NodeNotifier {
 public:
  class Session;

  // max_commands: the backlog a session may have (SiteOptions::max_node_commands).
  NodeHub(const Clock& clock, Seconds heartbeat_timeout, size_t max_commands = 1024)
      : clock_(clock), heartbeat_timeout_(heartbeat_timeout), max_commands_(max_commands) {}
  NodeHub(const NodeHub&) = delete;
  NodeHub& operator=(const NodeHub&) = delete;

  // Attaches a new stream for the node; an older stream of the same node is closed (the node
  // reconnected, the old connection is dead). `cancel` runs (under the hub's lock: it must be
  // quick and must not call the hub) when the hub ends the session because its backlog passed
  // the bound; it is never called after Detach.
  std::shared_ptr<Session> Attach(const std::string& node, std::function<void()> cancel = {});
  // Detaches the session if it is still the node's current one.
  void Detach(const std::shared_ptr<Session>& session);
  // Blocks up to `timeout` for the session's next command. nullopt on timeout or when the
  // session is closed (check closed()).
  std::optional<NodeCommand> Next(Session& session, std::chrono::milliseconds timeout);
  // Records a heartbeat and queues its acknowledgement (the stream's one writer sends it); an
  // acknowledgement still pending takes the new counter instead.
  void Heartbeat(Session& session, uint64_t counter);
  bool closed(const Session& session) const;

  // Whether the node has a live stream with a recent heartbeat.
  bool IsUp(const std::string& node) const;
  // The last heartbeat of the node's current stream (nullopt without one).
  std::optional<TimePoint> LastHeartbeat(const std::string& node) const;
  uint64_t UpCount() const;
  uint64_t dropped() const;  // commands for nodes that were not connected
  // Closes every session (server shutdown).
  void Shutdown();

  // NodeNotifier
  void Deploy(const std::string& node, const std::string& service,
              const std::string& digest) override;
  void Stop(const std::string& node, const std::string& service,
            const std::string& reason) override;
  // Queued at once; handed out by Next no earlier than not_before.
  void RenewNow(const std::string& node, const std::vector<std::string>& services, Seconds window,
                TimePoint not_before) override;
  void Disconnect(const std::string& node, const Status& reason) override;
  // Why the session was ended by Disconnect (nullopt: it was not).
  std::optional<Status> CloseReason(const Session& session) const;

 private:
  void Push(const std::string& node, NodeCommand command, TimePoint not_before = TimePoint{});
  // Appends to the session's queue.                                          requires mu_
  void Enqueue(Session& session, NodeCommand command) const;
  // Whether the command says nothing that a pending one does not.            requires mu_
  bool Redundant(const Session& session, const NodeCommand& command, TimePoint not_before) const;
  // Ends the session if its backlog passed max_commands_; whether it did.   requires mu_
  bool EndIfOverflowing(Session& session);
  // Moves the session's scheduled commands that are due into its queue.  requires mu_
  void ReleaseDue(Session& session) const;
  bool IsUpLocked(const Session& session) const;  // requires mu_

  const Clock& clock_;
  const Seconds heartbeat_timeout_;
  const size_t max_commands_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // guarded by mu_
  uint64_t dropped_ = 0;                                      // guarded by mu_
  bool shutting_down_ = false;                                // guarded by mu_
};

class NodeHub::Session final {
 public:
  Session(std::string node, TimePoint now, std::function<void()> cancel)
      : node_(std::move(node)), cancel_(std::move(cancel)), last_beat_(now) {}
  const std::string& node() const { return node_; }

 private:
  friend class NodeHub;
  struct Queued {
    uint64_t seq;  // position in the order of queueing: pending while > sent_seq_
    NodeCommand command;
  };
  // The commands queued and scheduled, plus the heartbeats one pending ack answers. requires mu_
  size_t Backlog() const;

  const std::string node_;
  const std::function<void()> cancel_;  // called under NodeHub::mu_
  std::condition_variable cv_;
  std::deque<Queued> queue_;  // guarded by NodeHub::mu_; seq consecutive from the front
  uint64_t next_seq_ = 1;     // guarded by NodeHub::mu_: the seq of the next queued command
  uint64_t sent_seq_ = 0;     // guarded by NodeHub::mu_: the seq of the last handed out
  // The last Deploy or Stop queued for each service (coalescing); guarded by NodeHub::mu_.
  std::map<std::string, Queued> last_for_service_;
  std::optional<uint64_t> ack_seq_;  // guarded by NodeHub::mu_: the pending heartbeat ack
  uint64_t coalesced_beats_ = 0;     // guarded by NodeHub::mu_: beats the pending ack answers
  // Commands to send no earlier than their time (in order of it); guarded by NodeHub::mu_.
  std::multimap<TimePoint, NodeCommand> scheduled_;
  TimePoint last_beat_;            // guarded by NodeHub::mu_
  bool closed_ = false;            // guarded by NodeHub::mu_
  std::optional<Status> closing_;  // guarded by NodeHub::mu_: Disconnect's reason
};

}  // namespace sitechain::slsm
