// renewal-sim: the renewal-traffic simulator. Parses the command line and hands over
// (sim/cli.h) to the sweep of sim/sweep.h; docs/simulator.md is the guide.

#include "common/cli.h"
#include "sim/cli.h"

using namespace sitechain;

int main(int argc, char** argv) {
  CLI::App app{
      "renewal-sim - simulate the network traffic of a site's Cert_site renewals (the paper's "
      "Sec. IV and Fig. 3, and better policies).\n\n"
      "Each (policy, amount of services) cell is run --runs times for --duration simulated "
      "seconds; the traffic of every second with traffic (request + reply bytes of the real "
      "sitechain.v1 Renew messages) is summarised as boxplot statistics, written as CSV (and "
      "JSON). Defaults are the paper's setup. Example, the paper's Fig. 3:\n"
      "  renewal-sim --csv fig3.csv && /usr/bin/python3 sim/plot_fig3.py fig3.csv -o fig3.png\n"
      "Every policy at 600 services:\n"
      "  renewal-sim --policies all --services 600 --csv table.csv",
      "renewal-sim"};
  app.set_version_flag("--version", "sitechain renewal-sim 0.1.0");
  app.get_formatter()->column_width(38);
  sim::Commands commands(app);

  if (auto code = ParseCli(app, argc, argv)) return *code;
  return commands.Run();
}
