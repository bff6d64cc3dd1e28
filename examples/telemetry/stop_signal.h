#pragma once
// SIGTERM and SIGINT as an ordinary event for the telemetry examples: the signals are blocked in
// every thread and received by one thread of this class, which calls `on_stop` once, outside any
// signal handler (so it may lock, log and call gRPC's Shutdown).
//
//   StopSignal stop([&](int signal) { server->Shutdown(); });  // first thing in main
//
// Construct it before any other thread starts (gRPC's included), so that they all inherit the
// blocked mask. One per process; not copyable. The destructor does not wait for a signal: it
// leaves the receiving thread blocked in sigwait, and the process ends with main.

#include <csignal>
#include <functional>

namespace sitechain::examples {

class StopSignal final {
 public:
  explicit StopSignal(std::function<void(int)> on_stop);
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;
};

}  // namespace sitechain::examples
