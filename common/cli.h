#pragma once
// Shared by the thin main() of every sitechain program: runs a CLI11 app and turns statuses into
// exit codes. Exit codes: 0 success, 1 the operation failed or was refused, 2 bad usage.

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "common/files.h"
#include "common/status.h"

namespace sitechain {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Prints "<program>: error: <message>" to stderr and returns kExitFailure (kOk: kExitOk).
inline int ReportStatus(const std::string& program, const Status& status) {
  if (status.ok()) return kExitOk;
  std::cerr << program << ": error: " << status.message() << " [" << StatusCodeName(status.code())
            << "]\n";
  return kExitFailure;
}

// Parses argv into app; on --help prints help and returns 0, on a usage error prints it with a
// hint and returns kExitUsage. Returns nullopt when parsing succeeded and the caller goes on.
inline std::optional<int> ParseCli(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\n"
              << "Run '" << app.get_name() << " --help' for usage.\n";
    return kExitUsage;
  }
  return std::nullopt;
}

// Reads a passphrase from a file (first line, without its newline). An empty path: no
// passphrase. Refuses an empty passphrase, which would silently write an unencrypted key.
inline Result<std::optional<std::string>> ReadPassphraseFile(const std::string& path) {
  if (path.empty()) return std::optional<std::string>();
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 4096));
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) return InvalidArgument("passphrase file " + path + " is empty");
  return std::optional<std::string>(std::move(text));
}

// For daemons: blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts
// afterwards; call it before starting any) so that only WaitForTerminationSignal receives them.
inline sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits for one of the signals BlockTerminationSignals blocked; returns its number.
inline int WaitForTerminationSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

}  // namespace sitechain
