#pragma once
// The node's link to its site manager: a thread that keeps the command stream open — connect
// with a hello listing the node's instances, heartbeats beside the reader (a missing
// acknowledgement ends the stream), reconnect after capped, jittered exponential backoff — and
// hands every command and every change of the link to its owner. Report() tells the slsm what
// changed in the node's instances while the stream is up.
//
// Ownership and threads: the node manager owns the link; Start runs the link thread (and, while
// connected, a heartbeat thread beside it), Stop ends and joins them (also the destructor). The
// callbacks run on the link thread with no lock of the link held; they must not call Stop.
// Report, connected and Stop are thread-safe; mu_ guards the stream pointer and the flags.
// Errors: a failed connection or an ended stream is logged and retried, never returned.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "nlsm/site_client.h"

namespace sitechain::nlsm {

struct SiteLinkOptions {
  Seconds heartbeat_interval{5};
  Seconds reconnect_initial{1};
  Seconds reconnect_max{60};
};

// The wait before the next connection attempt after `backoff`: uniform in
// [backoff/2, backoff] (millisecond resolution).
std::chrono::milliseconds ReconnectDelay(Seconds backoff, Random& rng);

class SiteLink final {
 public:
  enum class Event { kConnected, kDisconnected };
  struct Callbacks {
    // The hello: the instances the node reports when it connects.
    std::function<std::vector<InstanceReport>()> hello;
    // Each command but heartbeat acknowledgements, in order.
    std::function<void(const Command&)> on_command;
    std::function<void(Event)> on_event;
    // Why the node's clock may be the trouble, "" if it looks fine (added to connect failures).
    std::function<std::string(TimePoint now)> clock_hint;
  };

  // `slsm`: the address, for the log. `site`, `clock` and `rng` must outlive the link.
  SiteLink(std::string slsm, SiteClient& site, const Clock& clock, Random& rng,
           SiteLinkOptions options, Callbacks callbacks);
  ~SiteLink();
  SiteLink(const SiteLink&) = delete;
  SiteLink& operator=(const SiteLink&) = delete;

  void Start();
  // Cancels the stream and joins the threads. Idempotent.
  void Stop();

  bool connected() const;
  // Sends each report on the stream if it is up (nothing otherwise).
  void Report(const std::vector<InstanceReport>& reports);

 private:
  void Run();
  // Reads the stream until it ends, with heartbeats beside; resets backoff once the slsm answers.
  void Serve(CommandStream& stream, Seconds& backoff);

  const std::string slsm_;
  SiteClient& site_;
  const Clock& clock_;
  Random& rng_;
  const SiteLinkOptions options_;
  const Callbacks callbacks_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;            // guarded by mu_
  bool connected_ = false;           // guarded by mu_
  CommandStream* stream_ = nullptr;  // guarded by mu_: to close on Stop, to Report on
  std::thread thread_;
};

}  // namespace sitechain::nlsm
