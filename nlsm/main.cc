// nlsm: the sitechain node manager. Parses the command line and hands over (nlsm/cli.h):
// `enroll` to EnrollNode, `check` to FetchAndVerify, `serve` to NodeDaemon, `status` to the
// admin socket.

#include "common/cli.h"
#include "nlsm/cli.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{
      "nlsm - the sitechain node manager: enrolls the node with its site, verifies every "
      "service's certificate chain offline before it runs, and renews certificates.",
      "nlsm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitechain nlsm 0.1.0");
  nlsm::Commands commands(app);

  if (auto code = ParseCli(app, argc, argv)) return *code;
  return commands.Run();
}
