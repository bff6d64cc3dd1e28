#include "slsm/node_hub.h"

#include <string>

namespace sitechain::slsm {
namespace {

bool SameCommand(const NodeCommand& a, const NodeCommand& b) {
  return a.kind == b.kind && a.services == b.services && a.digest == b.digest &&
         a.reason == b.reason && a.window == b.window && a.heartbeat == b.heartbeat;
}

}  // namespace

size_t NodeHub::Session::Backlog() const {
  return queue_.size() + scheduled_.size() + static_cast<size_t>(coalesced_beats_);
}

std::shared_ptr<NodeHub::Session> NodeHub::Attach(const std::string& node,
                                                  std::function<void()> cancel) {
  auto session = std::make_shared<Session>(node, clock_.Now(), std::move(cancel));
  std::lock_guard lock(mu_);
  if (shutting_down_) {
    session->closed_ = true;
    return session;
  }
  auto& slot = sessions_[node];
  if (slot) {
    slot->closed_ = true;
    slot->cv_.notify_all();
  }
  slot = session;
  return session;
}

void NodeHub::Detach(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mu_);
  session->closed_ = true;
  session->cv_.notify_all();
  auto it = sessions_.find(session->node());
  if (it != sessions_.end() && it->second == session) sessions_.erase(it);
}

void NodeHub::Enqueue(Session& session, NodeCommand command) const {
  const uint64_t seq = session.next_seq_++;
  if (command.kind == NodeCommand::Kind::kDeploy || command.kind == NodeCommand::Kind::kStop) {
    for (const auto& service : command.services) {
      session.last_for_service_.insert_or_assign(service, Session::Queued{seq, command});
    }
    // Entries of commands already sent say nothing: drop them before the map outgrows the queue
    // bound (a node sent many distinct names over a long session).
    if (session.last_for_service_.size() > 2 * max_commands_) {
      std::erase_if(session.last_for_service_,
                    [&](const auto& entry) { return entry.second.seq <= session.sent_seq_; });
    }
  }
  session.queue_.push_back({seq, std::move(command)});
}

bool NodeHub::Redundant(const Session& session, const NodeCommand& command,
                        TimePoint not_before) const {
  switch (command.kind) {
    case NodeCommand::Kind::kDeploy:
    case NodeCommand::Kind::kStop: {
      // The same command as the last one pending for its service: the node would do nothing
      // new with it (what it does with a Deploy or a Stop depends on the last one it saw).
      if (command.services.size() != 1) return false;
      auto it = session.last_for_service_.find(command.services.front());
      return it != session.last_for_service_.end() && it->second.seq > session.sent_seq_ &&
             SameCommand(it->second.command, command);
    }
    case NodeCommand::Kind::kRenewNow:
      // An identical renew-now already due (queued) or scheduled no later than this one.
      for (const auto& q : session.queue_) {
        if (SameCommand(q.command, command)) return true;
      }
      for (const auto& [at, c] : session.scheduled_) {
        if (at > not_before) break;
        if (SameCommand(c, command)) return true;
      }
      return false;
    case NodeCommand::Kind::kHeartbeatAck:
      return false;
  }
  return false;
}

bool NodeHub::EndIfOverflowing(Session& session) {
  const size_t backlog = session.Backlog();
  if (backlog <= max_commands_ || session.closed_) return false;
  session.closing_ = ResourceExhausted(
      "node " + session.node() + " does not read its command stream: " + std::to_string(backlog) +
      " commands wait for it (limit " + std::to_string(max_commands_) + "); disconnected");
  session.closed_ = true;  // at once: the node would not take what is queued anyway
  session.queue_.clear();
  session.scheduled_.clear();
  session.last_for_service_.clear();
  session.ack_seq_.reset();
  session.coalesced_beats_ = 0;
  session.cv_.notify_all();
  if (session.cancel_) session.cancel_();  // the writer may be blocked on the node's window
  return true;
}

void NodeHub::ReleaseDue(Session& session) const {
  const TimePoint now = clock_.Now();
  while (!session.scheduled_.empty() && session.scheduled_.begin()->first <= now) {
    Enqueue(session, std::move(session.scheduled_.begin()->second));
    session.scheduled_.erase(session.scheduled_.begin());
  }
}

std::optional<NodeCommand> NodeHub::Next(Session& session, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    ReleaseDue(session);
    if (session.closed_ || !session.queue_.empty() || session.closing_.has_value()) break;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (wait.count() <= 0) break;
    if (!session.scheduled_.empty()) {
      // Wake when the next scheduled command is due (+1 ms: the clock has reached it then).
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                session.scheduled_.begin()->first - clock_.Now()) +
                                std::chrono::milliseconds(1));
    }
    session.cv_.wait_for(lock, wait);
  }
  if (session.queue_.empty() && session.closing_) session.closed_ = true;  // all sent: end it
  if (session.closed_ || session.queue_.empty()) return std::nullopt;
  Session::Queued next = std::move(session.queue_.front());
  session.queue_.pop_front();
  session.sent_seq_ = next.seq;
  if (session.ack_seq_ == next.seq) {
    session.ack_seq_.reset();
    session.coalesced_beats_ = 0;
  }
  return std::move(next.command);
}

void NodeHub::Heartbeat(Session& session, uint64_t counter) {
  std::lock_guard lock(mu_);
  if (session.closed_) return;
  session.last_beat_ = clock_.Now();
  if (session.ack_seq_) {
    // One acknowledgement pending at most: it answers this beat too (the node only needs to
    // know the stream is alive), and the beats it answers count toward the backlog.
    session.queue_[static_cast<size_t>(*session.ack_seq_ - session.queue_.front().seq)]
        .command.heartbeat = counter;
    ++session.coalesced_beats_;
    EndIfOverflowing(session);
    return;
  }
  NodeCommand ack;
  ack.kind = NodeCommand::Kind::kHeartbeatAck;
  ack.heartbeat = counter;
  session.ack_seq_ = session.next_seq_;
  Enqueue(session, std::move(ack));
  EndIfOverflowing(session);
  session.cv_.notify_all();
}

bool NodeHub::closed(const Session& session) const {
  std::lock_guard lock(mu_);
  return session.closed_;
}

bool NodeHub::IsUpLocked(const Session& session) const {
  return !session.closed_ && clock_.Now() - session.last_beat_ <= heartbeat_timeout_;
}

bool NodeHub::IsUp(const std::string& node) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(node);
  return it != sessions_.end() && IsUpLocked(*it->second);
}

std::optional<TimePoint> NodeHub::LastHeartbeat(const std::string& node) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(node);
  if (it == sessions_.end()) return std::nullopt;
  return it->second->last_beat_;
}

uint64_t NodeHub::UpCount() const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (const auto& [name, session] : sessions_) n += IsUpLocked(*session) ? 1 : 0;
  return n;
}

uint64_t NodeHub::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void NodeHub::Shutdown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  for (auto& [name, session] : sessions_) {
    session->closed_ = true;
    session->cv_.notify_all();
  }
  sessions_.clear();
}

void NodeHub::Push(const std::string& node, NodeCommand command, TimePoint not_before) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(node);
  if (it == sessions_.end() || it->second->closed_) {
    ++dropped_;
    return;
  }
  Session& session = *it->second;
  if (Redundant(session, command, not_before)) return;
  if (not_before > clock_.Now()) {
    session.scheduled_.emplace(not_before, std::move(command));
  } else {
    Enqueue(session, std::move(command));
  }
  EndIfOverflowing(session);
  session.cv_.notify_all();
}

void NodeHub::Disconnect(const std::string& node, const Status& reason) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(node);
  if (it == sessions_.end()) return;
  it->second->closing_ = reason;
  it->second->cv_.notify_all();
}

std::optional<Status> NodeHub::CloseReason(const Session& session) const {
  std::lock_guard lock(mu_);
  return session.closing_;
}

void NodeHub::Deploy(const std::string& node, const std::string& service,
                     const std::string& digest) {
  Push(node, {NodeCommand::Kind::kDeploy, {service}, digest, "", Seconds(0), 0});
}

void NodeHub::Stop(const std::string& node, const std::string& service, const std::string& reason) {
  Push(node, {NodeCommand::Kind::kStop, {service}, "", reason, Seconds(0), 0});
}

void NodeHub::RenewNow(const std::string& node, const std::vector<std::string>& services,
                       Seconds window, TimePoint not_before) {
  Push(node, {NodeCommand::Kind::kRenewNow, services, "", "", window, 0}, not_before);
}

}  // namespace sitechain::slsm
