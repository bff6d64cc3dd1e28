#pragma once
// The site admin's commands (`slsm install`, `slsm services`, `slsm policy set`, `slsm tokens
// create`, `slsm nodes [evict]`, `slsm deploy`, `slsm undeploy`, `slsm instances`, `slsm issued`,
// `slsm stats`): each dials the admin UNIX socket of a running `slsm serve`, makes one call and
// prints the result as text or JSON to `out`; in text, every string that came from a peer is
// escaped for the terminal (common/terminal_text.h). Statuses carry the server's refusal unchanged;
// UNAVAILABLE says how to start the server (the admin client of server/admin_client.h).

#include <ostream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "server/admin_client.h"

namespace sitechain::slsm {

// The admin socket path and --json (server/admin_client.h).
using server::AdminTarget;

Status InstallCommand(const AdminTarget& t, const std::string& name, const std::string& version,
                      std::ostream& out);
Status ServicesCommand(const AdminTarget& t, std::ostream& out);
// policy_file: a JSON object (at most 4096 bytes).
Status SetPolicyCommand(const AdminTarget& t, const std::string& service,
                        const std::string& policy_file, std::ostream& out);
// token_file: empty to print the token; else the token goes only to that file (0600, a new
// file: ALREADY_EXISTS if it exists, checked before the token is created) and the output says
// where it went (with --json: the response without the token).
Status CreateJoinTokenCommand(const AdminTarget& t, const std::string& node, Seconds ttl,
                              const std::string& token_file, std::ostream& out);
Status NodesCommand(const AdminTarget& t, std::ostream& out);
Status EvictCommand(const AdminTarget& t, const std::string& node, std::ostream& out);
Status DeployCommand(const AdminTarget& t, const std::string& service,
                     const std::vector<std::string>& nodes, bool undeploy, std::ostream& out);
Status InstancesCommand(const AdminTarget& t, const std::string& service, const std::string& node,
                        std::ostream& out);
Status IssuedCommand(const AdminTarget& t, uint32_t limit, std::ostream& out);
Status SiteStatsCommand(const AdminTarget& t, std::ostream& out);

}  // namespace sitechain::slsm
