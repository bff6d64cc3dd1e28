// collector: the server of the telemetry example (README.md). It serves Collector over gRPC
// mutual TLS with the Cert_site its node manager keeps for it, and accepts only the peers its
// sitePolicy's "peers" allow; every refused handshake is logged (on stderr) with its reason.
//
//   collector --listen 127.0.0.1:7600 [--log-every 50]
//
// Logs on stdout: the address it listens on, each new certificate a peer presents, a line every
// --log-every reports; on SIGTERM or SIGINT it stops, prints its counts and exits 0. Exits 1 if
// it cannot load its identity (it was not started by a node manager) or cannot listen.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include "examples/telemetry/collector_service.h"
#include "examples/telemetry/identity.h"
#include "examples/telemetry/log_line.h"
#include "examples/telemetry/stop_signal.h"

using sitechain::examples::LogLine;

int main(int argc, char** argv) {
  std::string listen;
  uint64_t log_every = 50;
  CLI::App app(
      "collector: the server of the telemetry example. Run by a node manager (nlsm), which gives "
      "it its Cert_site and sitePolicy through SITECHAIN_* variables; accepts the peers the "
      "sitePolicy's \"peers\" allow.");
  app.add_option("--listen", listen, "host:port to serve on (port 0: one the kernel picks)")
      ->required();
  app.add_option("--log-every", log_every, "log a line every N accepted reports")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Before gRPC starts a thread: every thread inherits the blocked signals.
  std::mutex mu;
  std::unique_ptr<grpc::Server> server;  // guarded by mu once started
  bool stopping = false;                 // guarded by mu
  sitechain::examples::StopSignal stop([&](int signal) {
    std::lock_guard lock(mu);
    stopping = true;
    LogLine(std::string("collector: stopping on ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT"));
    if (server) server->Shutdown();
  });

  const auto identity = sitechain::examples::LoadIdentity("collector");
  if (!identity) return 1;
  auto service = std::make_unique<sitechain::examples::CollectorService>(
      [](const std::string& line) { LogLine(line); }, log_every);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, identity->ServerCredentials(), &port);
  builder.RegisterService(service.get());
  builder.SetMaxReceiveMessageSize(4096);  // a Reading is a few dozen bytes
  {
    std::lock_guard lock(mu);
    server = builder.BuildAndStart();
    if (!server || port == 0) {
      std::cerr << "collector: cannot listen on " << listen << "\n";
      return 1;
    }
    if (stopping) server->Shutdown();
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  LogLine("collector: listening on " + host + ":" + std::to_string(port) + " as " +
          identity->spiffe_id() + "; accepting " + sitechain::examples::AllowedPeers());
  server->Wait();

  {
    std::lock_guard lock(mu);
    server.reset();  // before the service it serves
  }
  for (const auto& line : service->Summary()) LogLine(line);
  LogLine("collector: " + std::to_string(identity->accepted()) + " handshakes accepted, " +
          std::to_string(identity->refused()) + " refused");
  return 0;
}
