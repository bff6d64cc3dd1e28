#pragma once
// The site manager's command line, one class per group of subcommands. main.cc makes them (in
// this order, which is the order of `slsm --help`), parses, and hands over to the one given:
//   ServerCommands: `slsm init` (InitSite) and `slsm serve` (SlsmServer until SIGINT or SIGTERM,
//                   server/serve_loop.h),
//   AdminCommands:  `slsm install`, `services`, `policy set`, `tokens create`, `nodes [evict]`,
//                   `deploy`, `undeploy`, `instances`, `issued`, `stats` (admin_commands.h, over
//                   the admin socket of a running `slsm serve`).
// Each adds its subcommands to the CLI::App given to its constructor, which must outlive it; the
// options are bound to its members, so it is neither copied nor moved. Not thread-safe (main
// only). Run returns the process exit code (common/cli.h) after printing any error to stderr.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "slsm/server.h"

namespace sitechain::slsm {

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

  std::string passphrase_file_, dir_, config_path_;
  InitOptions init_;
  std::string init_lifetime_ = "10y";
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
  std::string name_, version_, service_, node_, policy_file_, ttl_ = "1h";
  std::string token_file_;  // tokens create --out
  std::vector<std::string> nodes_;
  uint32_t limit_ = 100;
  CLI::App* install_ = nullptr;
  CLI::App* services_ = nullptr;
  CLI::App* policy_set_ = nullptr;
  CLI::App* token_create_ = nullptr;
  CLI::App* nodes_cmd_ = nullptr;
  CLI::App* evict_ = nullptr;
  CLI::App* deploy_ = nullptr;
  CLI::App* undeploy_ = nullptr;
  CLI::App* instances_ = nullptr;
  CLI::App* issued_ = nullptr;
};

}  // namespace sitechain::slsm
