// The store's admin commands (store/cli.h): they talk to a running server through its admin
// socket.

#include <iostream>

#include "common/cli.h"
#include "common/time_format.h"
#include "server/state_dir.h"
#include "store/admin_commands.h"
#include "store/cli.h"

namespace sitechain::store {

AdminCommands::AdminCommands(CLI::App& app) {
  auto add_target = [&](CLI::App* cmd) {
    cmd->add_option("--dir,-d", dir_, "state directory: use its admin.sock");
    cmd->add_option("--admin-socket", socket_, "the admin socket (instead of --dir)");
    cmd->add_flag("--json", json_, "print JSON");
  };
  auto* tokens = app.add_subcommand("tokens", "One-time developer registration tokens.");
  tokens->require_subcommand(1);
  token_create_ = tokens->add_subcommand(
      "create",
      "Create a registration token (printed once, or written to --out; give it to one "
      "developer).");
  add_target(token_create_);
  token_create_->add_option("--ttl", ttl_, "how long it may be used, e.g. 24h (at most 30d)")
      ->capture_default_str();
  token_create_->add_option("--note", note_, "who it is for");
  token_create_->add_option("--out,-o", token_file_,
                            "write the token to this new file (mode 0600) instead of printing it, "
                            "for 'devkit register --token-file'");
  token_list_ = tokens->add_subcommand("list", "List tokens (never the secrets).");
  add_target(token_list_);

  auto* devs = app.add_subcommand("developers", "Registered developers.");
  devs->require_subcommand(1);
  devs_list_ = devs->add_subcommand("list", "List registered developers.");
  add_target(devs_list_);

  auto* revoke = app.add_subcommand("revoke", "Revoke a release or a developer.");
  revoke->require_subcommand(1);
  revoke_release_ = revoke->add_subcommand("release", "Revoke one release.");
  add_target(revoke_release_);
  revoke_release_->add_option("name", name_, "release name")->required();
  revoke_release_->add_option("version", version_, "release version")->required();
  revoke_release_->add_option("--reason", reason_, "why (shown on the feed)")->required();
  revoke_dev_ = revoke->add_subcommand(
      "developer", "Revoke a developer: its identity and every release it published.");
  add_target(revoke_dev_);
  revoke_dev_->add_option("name", name_, "developer name")->required();
  revoke_dev_->add_option("--reason", reason_, "why (shown on the feed)")->required();

  add_target(app.add_subcommand("stats", "Counts of developers, releases, revocations."));
}

int AdminCommands::Run() {
  if (dir_.empty() && socket_.empty()) {
    std::cerr << "store: say which store: --dir DIR or --admin-socket PATH\n"
              << "Run 'store --help' for usage.\n";
    return kExitUsage;
  }
  const AdminTarget target{server::AdminSocketPath(dir_, socket_), json_};
  Status s;
  if (token_create_->parsed()) {
    auto seconds = ParseDuration(ttl_);
    s = seconds.ok() ? CreateTokenCommand(target, *seconds, note_, token_file_, std::cout)
                     : seconds.status();
  } else if (token_list_->parsed()) {
    s = ListTokensCommand(target, std::cout);
  } else if (devs_list_->parsed()) {
    s = ListDevelopersCommand(target, std::cout);
  } else if (revoke_release_->parsed()) {
    s = RevokeReleaseCommand(target, name_, version_, reason_, std::cout);
  } else if (revoke_dev_->parsed()) {
    s = RevokeDeveloperCommand(target, name_, reason_, std::cout);
  } else {
    s = StatsCommand(target, std::cout);
  }
  return ReportStatus("store", s);
}

}  // namespace sitechain::store
