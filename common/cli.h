#pragma once
// Shared by the thin main() of every sitechain program: runs a CLI11 app and turns statuses into
// exit codes. Exit codes: 0 success, 1 the operation failed or was refused, 2 bad usage.
// (A daemon's signals and serve loop are the server scaffold's: server/serve_loop.h.)

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

}  // namespace sitechain
