#pragma once
// The developer's command line, one class per group of subcommands. main.cc makes them (in this
// order, which is the order of `devkit --help`), parses, and hands over to the one given:
//   LocalCommands: `devkit keygen`, `csr`, `sign`, `verify`, `inspect` (commands.h; no network),
//   StoreCommands: `devkit register`, `publish`, `releases`, `download`, `revoke`, `revocations`
//                  (store_commands.h; TLS to a store).
// Each adds its subcommands to the CLI::App given to its constructor, which must outlive it; the
// options are bound to its members, so it is neither copied nor moved. Not thread-safe (main
// only). Run returns the process exit code (common/cli.h) after printing any error to stderr.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common/cli.h"
#include "devkit/commands.h"
#include "devkit/store_commands.h"

namespace sitechain::devkit {

class LocalCommands final {
 public:
  explicit LocalCommands(CLI::App& app);
  LocalCommands(const LocalCommands&) = delete;
  LocalCommands& operator=(const LocalCommands&) = delete;

  // The exit code of the command if one of this group was given; nullopt otherwise.
  std::optional<int> Run();

 private:
  std::string passphrase_file_;
  KeygenOptions keygen_;
  CsrOptions csr_;
  SignOptions sign_;
  std::string sign_lifetime_ = "365d";
  VerifyOptions verify_;
  std::string skew_ = "60s";
  std::string inspect_path_;
  bool inspect_json_ = false;
  CLI::App* keygen_cmd_ = nullptr;
  CLI::App* csr_cmd_ = nullptr;
  CLI::App* sign_cmd_ = nullptr;
  CLI::App* verify_cmd_ = nullptr;
  CLI::App* inspect_cmd_ = nullptr;
};

class StoreCommands final {
 public:
  explicit StoreCommands(CLI::App& app);
  StoreCommands(const StoreCommands&) = delete;
  StoreCommands& operator=(const StoreCommands&) = delete;

  // Runs the command of this group that was given.
  int Run();

 private:
  std::string passphrase_file_;
  StoreConnection conn_;
  RegisterOptions register_;
  TokenOption register_token_;
  PublishOptions publish_;
  ReleasesOptions releases_;
  DownloadOptions download_;
  RevokeOptions revoke_;
  RevocationsOptions revocations_;
  CLI::App* register_cmd_ = nullptr;
  CLI::App* publish_cmd_ = nullptr;
  CLI::App* releases_cmd_ = nullptr;
  CLI::App* download_cmd_ = nullptr;
  CLI::App* revoke_cmd_ = nullptr;
  CLI::App* revocations_cmd_ = nullptr;
};

}  // namespace sitechain::devkit
