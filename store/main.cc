// store: the sitechain app store. Parses the command line and hands over (store/cli.h): `init`
// to StoreCa, `serve` to StoreServer, the admin commands to admin_commands.h.

#include "common/cli.h"
#include "store/cli.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{
      "store - the sitechain app store: its CA, developer registry, catalog and "
      "revocation feed.",
      "store"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain store 0.1.0");
  store::ServerCommands server_commands(app);
  store::AdminCommands admin_commands(app);

  if (auto code = ParseCli(app, argc, argv)) return *code;
  if (auto code = server_commands.Run()) return *code;
  return admin_commands.Run();
}
