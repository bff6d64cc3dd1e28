#pragma once
// Shared by the thin main() of every sitechain program: runs a CLI11 app and turns statuses into
// exit codes. Exit codes: 0 success, 1 the operation failed or was refused, 2 bad usage. Also the
// --token-file/--token pair of the commands that take a one-time token.
// (A daemon's signals and serve loop are the server scaffold's: server/serve_loop.h.)

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "common/secret_file.h"
#include "common/status.h"
#include "common/terminal_text.h"

namespace sitechain {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Prints "<program>: error: <message>" to stderr and returns kExitFailure (kOk: kExitOk).
inline int ReportStatus(const std::string& program, const Status& status) {
  if (status.ok()) return kExitOk;
  // The message may quote a peer (a server's refusal): escaped, like every peer's string.
  std::cerr << program << ": error: " << ForTerminalLines(status.message()) << " ["
            << StatusCodeName(status.code()) << "]\n";
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

// A command's one-time token (a store's registration token, a site's join token), given as
// --token-file FILE ("-": standard input) or, visible to every user in `ps`, as --token TOKEN.
struct TokenOption {
  std::string token;  // --token
  std::string file;   // --token-file
};

// Adds --token-file and --token to `command`, bound to `option` (which must outlive the parse).
// `what` says which token and where it comes from, e.g. "join token (slsm tokens create NODE
// --out FILE)"; `token_flags` names the inline option (with a short alias, say). One of the two
// must be given: neither, or both, is a usage error when the command is parsed.
inline void AddTokenOptions(CLI::App* command, TokenOption& option, const std::string& what,
                            const std::string& token_flags = "--token") {
  CLI::Option* file = command->add_option(
      "--token-file", option.file,
      "file holding the " + what + "; '-' reads standard input; a warning if others may read it");
  CLI::Option* inline_token = command->add_option(
      token_flags, option.token,
      "the token itself: visible to other users in `ps` while this runs; prefer --token-file");
  file->excludes(inline_token);
  command->callback([file, inline_token, &option] {
    if (file->count() == 0 && inline_token->count() == 0) {
      throw CLI::RequiredError("--token-file (or --token)");
    }
    if (file->count() != 0 && option.file.empty()) {
      throw CLI::ValidationError("--token-file", "give a file name, or '-' for standard input");
    }
  });
}

// The token given with AddTokenOptions: read from --token-file (ReadTokenFile), else --token.
inline Result<std::string> GetToken(const TokenOption& option) {
  if (!option.file.empty()) return ReadTokenFile(option.file);
  return option.token;
}

}  // namespace sitechain
