#include "examples/telemetry/stop_signal.h"

#include <pthread.h>

#include <thread>
#include <utility>

namespace sitechain::examples {

StopSignal::StopSignal(std::function<void(int)> on_stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, on_stop = std::move(on_stop)] {
    int signal = 0;
    while (sigwait(&set, &signal) != 0) {
    }
    on_stop(signal);
  }).detach();
}

}  // namespace sitechain::examples
