#include "server/serve_loop.h"

#include <pthread.h>

#include "common/log.h"

namespace sitechain::server {

sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForTerminationSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

Status ServeUntilSignal(const std::function<Status()>& start, const std::function<void()>& stop,
                        std::string_view stopping) {
  // Blocked before any thread starts, so that only the wait below sees them.
  const sigset_t signals = BlockTerminationSignals();
  SITECHAIN_RETURN_IF_ERROR(start());
  const int signal = WaitForTerminationSignal(signals);
  spdlog::info("received signal {}; {}", signal, stopping);
  stop();
  return Status::Ok();
}

}  // namespace sitechain::server
