#pragma once
// The administrator's commands (`store tokens …`, `store developers list`, `store revoke …`,
// `store stats`): each dials the admin UNIX socket of a running `store serve`, makes one call and
// prints the result as text or JSON to `out`; in text, every string that came from a peer is
// escaped for the terminal (common/terminal_text.h). Statuses carry the server's refusal unchanged;
// UNAVAILABLE says how to start the server (the admin client of server/admin_client.h).

#include <cstdint>
#include <ostream>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "server/admin_client.h"

namespace sitechain::store {

// The admin socket path and --json (server/admin_client.h).
using server::AdminTarget;

// token_file: empty to print the token; else the token goes only to that file (0600, a new
// file: ALREADY_EXISTS if it exists, checked before the token is created) and the output says
// where it went (with --json: the response without the token).
Status CreateTokenCommand(const AdminTarget& target, Seconds ttl, const std::string& note,
                          const std::string& token_file, std::ostream& out);
Status ListTokensCommand(const AdminTarget& target, std::ostream& out);
Status ListDevelopersCommand(const AdminTarget& target, std::ostream& out);
Status RevokeReleaseCommand(const AdminTarget& target, const std::string& name,
                            const std::string& version, const std::string& reason,
                            std::ostream& out);
Status RevokeDeveloperCommand(const AdminTarget& target, const std::string& name,
                              const std::string& reason, std::ostream& out);
Status StatsCommand(const AdminTarget& target, std::ostream& out);

}  // namespace sitechain::store
