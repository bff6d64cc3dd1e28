#pragma once
// The store's command line, one class per group of subcommands. main.cc makes them (in this
// order, which is the order of `store --help`), parses, and hands over to the one given:
//   ServerCommands: `store init` (StoreCa::Init) and `store serve` (StoreServer until SIGINT or
//                   SIGTERM, server/serve_loop.h),
//   AdminCommands:  `store tokens create|list`, `store developers list`,
//                   `store revoke release|developer`, `store stats` (admin_commands.h, over the
//                   admin socket of a running `store serve`).
// Each adds its subcommands to the CLI::App given to its constructor, which must outlive it; the
// options are bound to its members, so it is neither copied nor moved. Not thread-safe (main
// only). Run returns the process exit code (common/cli.h) after printing any error to stderr.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/server.h"
#include "store/store_ca.h"

namespace sitechain::store {

class ServerCommands final {
 public:
  explicit ServerCommands(CLI::App& app);
  ServerCommands(const ServerCommands&) = delete;
  ServerCommands& operator=(const ServerCommands&) = delete;

  // The exit code of `init` or `serve` if one of them was given; nullopt otherwise.
  std::optional<int> Run();

 private:
  int Init(const std::optional<std::string>& passphrase);
  int Serve(const std::optional<std::string>& passphrase);

  std::string passphrase_file_;
  StoreCa::InitOptions init_;
  std::string init_lifetime_ = "10y";
  ServeOptions serve_;
  std::vector<std::string> tls_names_;
  std::string tls_lifetime_ = "90d";
  std::string log_level_ = "info";
  CLI::App* init_cmd_ = nullptr;
  CLI::App* serve_cmd_ = nullptr;
};

class AdminCommands final {
 public:
  explicit AdminCommands(CLI::App& app);
  AdminCommands(const AdminCommands&) = delete;
  AdminCommands& operator=(const AdminCommands&) = delete;

  // Runs the admin command that was given; kExitUsage if neither --dir nor --admin-socket.
  int Run();

 private:
  std::string dir_, socket_;
  bool json_ = false;
  std::string ttl_ = "24h", note_, name_, version_, reason_;
  std::string token_file_;  // tokens create --out
  CLI::App* token_create_ = nullptr;
  CLI::App* token_list_ = nullptr;
  CLI::App* devs_list_ = nullptr;
  CLI::App* revoke_release_ = nullptr;
  CLI::App* revoke_dev_ = nullptr;
};

}  // namespace sitechain::store
