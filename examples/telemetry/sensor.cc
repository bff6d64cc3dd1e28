// sensor: the client of the telemetry example (README.md). It reports a reading to the collector
// every --interval-ms over gRPC mutual TLS with the Cert_site its node manager keeps for it, and
// accepts the collector only if its sitePolicy's "peers" allow the collector's SPIFFE ID. Every
// --calls-per-channel calls it opens a new channel (its own connection), so that handshakes keep
// happening and each renewed certificate, the collector's and its own, is used and seen.
//
//   sensor --collector 127.0.0.1:7600 [--name NAME] [--interval-ms 200] [--calls-per-channel 5]
//          [--log-every 50] [--deadline-ms 5000] [--count N]
//
// Logs on stdout: each failed call with its status; each new certificate of the collector, and
// each new view the collector has of this sensor's certificate (the Ack); "sensor: <n> ok, <m>
// failed" every --log-every calls and at the end. A call fails when its status is not OK or the
// collector saw another SPIFFE ID than this sensor's. On SIGTERM or SIGINT (or after --count
// calls) it stops, prints its counts and exits 0. Exits 1 if it cannot load its identity (it was
// not started by a node manager).
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "examples/telemetry/identity.h"
#include "examples/telemetry/log_line.h"
#include "examples/telemetry/stop_signal.h"
#include "examples/telemetry/telemetry.grpc.pb.h"

namespace {

using sitechain::examples::LogLine;

struct SensorOptions {
  std::string collector;          // host:port
  std::string name = "sensor";    // Reading.sensor
  int64_t interval_ms = 200;      // between the end of a call and the next
  int64_t calls_per_channel = 5;  // then a new channel, and so a new handshake
  int64_t log_every = 50;         // calls between two count lines
  int64_t deadline_ms = 5000;     // of each call
  uint64_t count = 0;             // calls to make; 0: until stopped
};

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "?";
  }
}

// The sensor's loop: calls, channels, counts. Run on the main thread; Stop from any thread.
class Sensor final {
 public:
  Sensor(std::shared_ptr<sitechain::service_identity::ServiceIdentity> identity,
         SensorOptions options)
      : identity_(std::move(identity)), options_(std::move(options)) {}

  void Run() {
    for (uint64_t sequence = 1; options_.count == 0 || sequence <= options_.count; ++sequence) {
      if (stopped()) break;
      Call(sequence);
      if ((ok_ + failed_) % static_cast<uint64_t>(options_.log_every) == 0) LogCounts();
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                       [&] { return stop_; })) {
        break;
      }
    }
    LogLine("sensor: made " + std::to_string(channels_) + " channel(s); saw " +
            std::to_string(collector_certificates_) + " certificate(s) of the collector");
    LogCounts();
  }

  void Stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }

 private:
  bool stopped() {
    std::lock_guard lock(mu_);
    return stop_;
  }

  void LogCounts() const {
    LogLine("sensor: " + std::to_string(ok_) + " ok, " + std::to_string(failed_) + " failed");
  }

  void NewChannelIfDue() {
    if (stub_ && calls_on_channel_ < options_.calls_per_channel) return;
    // A local subchannel pool: the new channel makes its own connection, and so a handshake,
    // instead of sharing one that an earlier channel to the same address made.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stub_ = sitechain::examples::Collector::NewStub(
        grpc::CreateCustomChannel(options_.collector, identity_->ChannelCredentials(), args));
    ++channels_;
    calls_on_channel_ = 0;
  }

  void Call(uint64_t sequence) {
    NewChannelIfDue();
    ++calls_on_channel_;
    sitechain::examples::Reading reading;
    reading.set_sensor(options_.name);
    reading.set_sequence(sequence);
    reading.set_value(20.0 + 5.0 * std::sin(static_cast<double>(sequence) / 10.0));
    sitechain::examples::Ack ack;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(options_.deadline_ms));
    const grpc::Status status = stub_->Report(&context, reading, &ack);
    if (!status.ok()) {
      ++failed_;
      LogLine("sensor: call #" + std::to_string(sequence) +
              " failed: " + CodeName(status.error_code()) + ": " + status.error_message());
      stub_.reset();  // the next call starts afresh
      return;
    }
    if (ack.peer_id() != identity_->spiffe_id()) {
      ++failed_;
      LogLine("sensor: call #" + std::to_string(sequence) + " failed: the collector saw " +
              ack.peer_id() + ", not " + identity_->spiffe_id());
      return;
    }
    ++ok_;
    const auto collector =
        sitechain::service_identity::ServiceIdentity::PeerOf(*context.auth_context());
    const std::string collector_serial = collector ? collector->serial : "?";
    if (collector_serial != collector_serial_) {
      collector_serial_ = collector_serial;
      ++collector_certificates_;
      LogLine("sensor: collector " + (collector ? collector->spiffe_id : std::string("?")) +
              " presents certificate " + collector_serial + " (channel #" +
              std::to_string(channels_) + ")");
    }
    if (ack.peer_certificate_serial() != own_serial_) {
      own_serial_ = ack.peer_certificate_serial();
      LogLine("sensor: the collector sees this sensor's certificate " + own_serial_ +
              " (channel #" + std::to_string(channels_) + ")");
    }
  }

  const std::shared_ptr<sitechain::service_identity::ServiceIdentity> identity_;
  const SensorOptions options_;

  // The loop's state: the main thread's only.
  std::unique_ptr<sitechain::examples::Collector::Stub> stub_;
  int64_t calls_on_channel_ = 0;
  uint64_t channels_ = 0, ok_ = 0, failed_ = 0, collector_certificates_ = 0;
  std::string collector_serial_, own_serial_;  // the last seen

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
};

}  // namespace

int main(int argc, char** argv) {
  SensorOptions options;
  CLI::App app(
      "sensor: the client of the telemetry example. Run by a node manager (nlsm), which gives it "
      "its Cert_site and sitePolicy through SITECHAIN_* variables; accepts the collector only if "
      "the sitePolicy's \"peers\" allow it.");
  app.add_option("--collector", options.collector, "host:port of the collector")->required();
  app.add_option("--name", options.name, "the sensor's name in its readings")
      ->capture_default_str();
  app.add_option("--interval-ms", options.interval_ms, "pause between two calls")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  app.add_option("--calls-per-channel", options.calls_per_channel,
                 "calls on one channel (one connection) before a new one, with a new handshake")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app.add_option("--log-every", options.log_every, "calls between two lines of counts")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app.add_option("--deadline-ms", options.deadline_ms, "deadline of each call")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}));
  app.add_option("--count", options.count, "calls to make, then exit (0: until SIGTERM)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Before gRPC starts a thread: every thread inherits the blocked signals.
  std::mutex mu;
  Sensor* sensor = nullptr;  // guarded by mu
  bool stopping = false;     // guarded by mu
  sitechain::examples::StopSignal stop([&](int signal) {
    std::lock_guard lock(mu);
    stopping = true;
    LogLine(std::string("sensor: stopping on ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT"));
    if (sensor != nullptr) sensor->Stop();
  });

  const auto identity = sitechain::examples::LoadIdentity("sensor");
  if (!identity) return 1;
  LogLine("sensor: reporting to " + options.collector + " as " + identity->spiffe_id() +
          "; accepting " + sitechain::examples::AllowedPeers());
  Sensor loop(identity, options);
  {
    std::lock_guard lock(mu);
    sensor = &loop;
    if (stopping) loop.Stop();
  }
  loop.Run();
  {
    std::lock_guard lock(mu);
    sensor = nullptr;
  }
  return 0;
}
