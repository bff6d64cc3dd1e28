// devkit: the developer's tool. Parses the command line and hands over (devkit/cli.h) to
// devkit/commands.h and devkit/store_commands.h.

#include "common/cli.h"
#include "devkit/cli.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{
      "devkit - make a developer key, register at a store, sign executables (Cert_dev), "
      "publish them, download and verify releases, revoke, and inspect certificates.",
      "devkit"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain devkit 0.1.0");
  devkit::LocalCommands local_commands(app);
  devkit::StoreCommands store_commands(app);

  if (auto code = ParseCli(app, argc, argv)) return *code;
  if (auto code = local_commands.Run()) return *code;
  return store_commands.Run();
}
