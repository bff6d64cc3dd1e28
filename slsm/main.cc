// slsm: the sitechain site manager with its site CA. Parses the command line and hands over
// (slsm/cli.h): `init` to InitSite, `serve` to SlsmServer, the admin commands to
// admin_commands.h.

#include "common/cli.h"
#include "slsm/cli.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{
      "slsm - the sitechain site manager: the site CA, installed services, node enrollment, "
      "deployments and short-lived site certificates.",
      "slsm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain slsm 0.1.0");
  slsm::ServerCommands server_commands(app);
  slsm::AdminCommands admin_commands(app);

  if (auto code = ParseCli(app, argc, argv)) return *code;
  if (auto code = server_commands.Run()) return *code;
  return admin_commands.Run();
}
