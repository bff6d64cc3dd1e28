#include "slsm/node_hub.h"

namespace sitechain::slsm {

std::shared_ptr<NodeHub::Session> NodeHub::Attach(const std::string& node) {
  auto session = std::make_shared<Session>(node, clock_.Now());
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

void NodeHub::ReleaseDue(Session& session) const {
  const TimePoint now = clock_.Now();
  while (!session.scheduled_.empty() && session.scheduled_.begin()->first <= now) {
    session.queue_.push_back(std::move(session.scheduled_.begin()->second));
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
  NodeCommand command = std::move(session.queue_.front());
  session.queue_.pop_front();
  return command;
}

void NodeHub::Heartbeat(Session& session, uint64_t counter) {
  std::lock_guard lock(mu_);
  session.last_beat_ = clock_.Now();
  NodeCommand ack;
  ack.kind = NodeCommand::Kind::kHeartbeatAck;
  ack.heartbeat = counter;
  session.queue_.push_back(std::move(ack));
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
  if (not_before > clock_.Now()) {
    it->second->scheduled_.emplace(not_before, std::move(command));
  } else {
    it->second->queue_.push_back(std::move(command));
  }
  it->second->cv_.notify_all();
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
