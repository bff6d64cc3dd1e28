#pragma once
// How a server process runs: termination signals and the serve loop of `store serve`,
// `slsm serve` and `nlsm serve`. SIGINT and SIGTERM are blocked in every thread and taken by
// one sigwait, so no handler runs at an arbitrary point and the shutdown runs on the main thread.
//
// Call from the main thread before any other thread starts (gRPC, spdlog's async sinks, the
// server's own threads): threads inherit the signal mask of the thread that makes them.

#include <signal.h>

#include <functional>
#include <string_view>

#include "common/status.h"

namespace sitechain::server {

// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts afterwards)
// so that only WaitForTerminationSignal receives them; returns the set.
sigset_t BlockTerminationSignals();

// Waits for one of the signals BlockTerminationSignals blocked; returns its number.
int WaitForTerminationSignal(const sigset_t& signals);

// Serves until SIGINT or SIGTERM: blocks both, calls `start` (which starts the server and its
// threads), and if that succeeds waits for a signal, logs "received signal <n>; <stopping>",
// calls `stop` (which shuts the server down and waits for it) and returns OK. Returns start's
// error, without waiting, if it fails.
Status ServeUntilSignal(const std::function<Status()>& start, const std::function<void()>& stop,
                        std::string_view stopping = "shutting down");

}  // namespace sitechain::server
