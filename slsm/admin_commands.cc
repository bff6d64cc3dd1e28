#include "slsm/admin_commands.h"

#include <chrono>

#include "common/files.h"
#include "common/secret_file.h"
#include "common/terminal_text.h"
#include "sitechain/v1/site.grpc.pb.h"

namespace sitechain::slsm {
namespace {

// Calls one admin method of a running `slsm serve`, then prints the response as JSON or with
// `text`.
template <typename Stub, typename Request, typename Response, typename Text>
Status Call(const AdminTarget& target,
            grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
            const std::type_identity_t<Request>& request, std::ostream& out, Text text) {
  // Install downloads a release from the store, which may take a while.
  const server::AdminClient admin(target.socket, {.name = "the site manager",
                                                  .serve_command = "slsm serve",
                                                  .deadline = std::chrono::minutes(10)});
  return server::PrintAdminResponse(admin.Call(method, request), target.json, out, text);
}

// Every string below came from a peer (the store, a developer, a node) or passed through one:
// each goes through ForTerminal (common/terminal_text.h) before it reaches the terminal.

void PrintRelease(const v1::InstalledRelease& r, std::ostream& out) {
  out << ForTerminal(r.name()) << " " << ForTerminal(r.version()) << " (release "
      << r.release_counter() << ", " << ForTerminal(r.developer()) << ", " << r.size() << " bytes, "
      << ForTerminal(r.digest_algorithm()) << ":" << ForTerminal(r.digest().substr(0, 16)) << "…)"
      << (r.revoked() ? " REVOKED: " + ForTerminal(r.revocation_reason()) : "");
}

void PrintInstance(const v1::Instance& i, std::ostream& out) {
  out << ForTerminal(i.service()) << "\t" << ForTerminal(i.node()) << "\tdeployed "
      << ForTerminal(i.deployed_at()) << "\t"
      << (i.certificate_serial().empty()
              ? "no certificate yet"
              : "cert " + ForTerminal(i.certificate_serial().substr(0, 12)) + " until " +
                    ForTerminal(i.certificate_not_after()))
      << "\t" << (i.node_state().empty() ? "-" : ForTerminal(i.node_state()))
      << (i.node_detail().empty() ? "" : " (" + ForTerminal(i.node_detail()) + ")") << "\n";
}

}  // namespace

Status InstallCommand(const AdminTarget& t, const std::string& name, const std::string& version,
                      std::ostream& out) {
  v1::InstallRequest request;
  request.set_name(name);
  request.set_version(version);
  return Call(t, &v1::SiteAdmin::Stub::Install, request, out, [&](const v1::InstalledRelease& r) {
    out << "installed ";
    PrintRelease(r, out);
    out << "\nverified: rules 1 2 4 6 7 8 against the store root\n";
  });
}

Status ServicesCommand(const AdminTarget& t, std::ostream& out) {
  return Call(t, &v1::SiteAdmin::Stub::ListServices, {}, out,
              [&](const v1::ListServicesResponse& r) {
                for (const auto& s : r.services()) {
                  out << ForTerminal(s.name()) << "\t";
                  PrintRelease(s.release(), out);
                  out << "\t" << s.instances() << " instances\tpolicy "
                      << ForTerminal(s.policy_json()) << "\n";
                }
              });
}

Status SetPolicyCommand(const AdminTarget& t, const std::string& service,
                        const std::string& policy_file, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string policy, ReadSmallFile(policy_file, 64 << 10));
  v1::SetPolicyRequest request;
  request.set_service(service);
  request.set_policy_json(policy);
  return Call(t, &v1::SiteAdmin::Stub::SetPolicy, request, out, [&](const v1::Service& s) {
    out << "policy of " << ForTerminal(s.name()) << " is now " << ForTerminal(s.policy_json())
        << "; " << s.instances() << " instances renew now\n";
  });
}

Status CreateJoinTokenCommand(const AdminTarget& t, const std::string& node, Seconds ttl,
                              const std::string& token_file, std::ostream& out) {
  v1::CreateJoinTokenRequest request;
  request.set_node(node);
  request.set_ttl_seconds(static_cast<uint64_t>(ttl.count()));
  if (token_file.empty()) {
    return Call(
        t, &v1::SiteAdmin::Stub::CreateJoinToken, request, out,
        [&](const v1::CreateJoinTokenResponse& r) { out << ForTerminal(r.token()) << "\n"; });
  }
  SITECHAIN_RETURN_IF_ERROR(CheckTokenFileIsNew(token_file));
  const server::AdminClient admin(t.socket, {.name = "the site manager",
                                             .serve_command = "slsm serve",
                                             .deadline = std::chrono::seconds(30)});
  auto created = admin.Call(&v1::SiteAdmin::Stub::CreateJoinToken, request);
  if (!created.ok()) return created.status();
  SITECHAIN_RETURN_IF_ERROR(WriteTokenFile(token_file, created->token())
                                .WithContext("the join token for " + node +
                                             " was created but not "
                                             "written; create another"));
  created->clear_token();  // the file holds it; the output never does
  return server::PrintAdminResponse(Result<v1::CreateJoinTokenResponse>(*created), t.json, out,
                                    [&](const v1::CreateJoinTokenResponse& r) {
                                      out << "wrote the join token for node " << ForTerminal(node)
                                          << " to " << ForTerminal(token_file)
                                          << " (mode 0600; usable once, until "
                                          << ForTerminal(r.expires_at()) << ")\n";
                                    });
}

Status NodesCommand(const AdminTarget& t, std::ostream& out) {
  return Call(t, &v1::SiteAdmin::Stub::ListNodes, {}, out, [&](const v1::ListNodesResponse& r) {
    for (const auto& n : r.nodes()) {
      out << ForTerminal(n.name()) << "\t"
          << (n.evicted()     ? "evicted"
              : n.connected() ? "up"
                              : "down")
          << "\tlast seen " << (n.last_seen().empty() ? "never" : ForTerminal(n.last_seen()))
          << "\tcert until " << ForTerminal(n.certificate_not_after()) << "\t" << n.instances()
          << " instances\n";
    }
  });
}

Status EvictCommand(const AdminTarget& t, const std::string& node, std::ostream& out) {
  v1::EvictNodeRequest request;
  request.set_node(node);
  return Call(t, &v1::SiteAdmin::Stub::EvictNode, request, out, [&](const v1::Node& n) {
    out << "evicted " << ForTerminal(n.name())
        << ": it gets no more certificates; its services were told to stop\n";
  });
}

Status DeployCommand(const AdminTarget& t, const std::string& service,
                     const std::vector<std::string>& nodes, bool undeploy, std::ostream& out) {
  v1::DeployRequest request;
  request.set_service(service);
  for (const auto& n : nodes) request.add_nodes(n);
  return Call(t, undeploy ? &v1::SiteAdmin::Stub::Undeploy : &v1::SiteAdmin::Stub::Deploy, request,
              out, [&](const v1::DeployResponse& r) {
                out << (undeploy ? "undeployed " : "deployed ") << ForTerminal(service)
                    << (undeploy ? " from " : " to ") << r.instances_size() << " nodes:";
                for (const auto& i : r.instances()) out << " " << ForTerminal(i.node());
                out << "\n";
              });
}

Status InstancesCommand(const AdminTarget& t, const std::string& service, const std::string& node,
                        std::ostream& out) {
  v1::ListInstancesRequest request;
  request.set_service(service);
  request.set_node(node);
  return Call(t, &v1::SiteAdmin::Stub::ListInstances, request, out,
              [&](const v1::ListInstancesResponse& r) {
                for (const auto& i : r.instances()) PrintInstance(i, out);
              });
}

Status IssuedCommand(const AdminTarget& t, uint32_t limit, std::ostream& out) {
  v1::ListIssuedRequest request;
  request.set_limit(limit);
  return Call(t, &v1::SiteAdmin::Stub::ListIssued, request, out,
              [&](const v1::ListIssuedResponse& r) {
                for (const auto& e : r.entries()) {
                  out << ForTerminal(e.issued_at()) << "\t" << ForTerminal(e.kind()) << "\t"
                      << ForTerminal(e.serial()) << "\t" << ForTerminal(e.subject()) << "\tuntil "
                      << ForTerminal(e.not_after()) << "\n";
                }
              });
}

Status SiteStatsCommand(const AdminTarget& t, std::ostream& out) {
  return Call(t, &v1::SiteAdmin::Stub::GetSiteStats, {}, out, [&](const v1::SiteStats& s) {
    out << "services\t" << s.services() << "\nnodes\t" << s.nodes() << " (" << s.connected_nodes()
        << " up)\ninstances\t" << s.instances() << "\nissued\t" << s.issued() << "\nstore feed\t"
        << s.last_revocation_sequence() << "\n";
  });
}

}  // namespace sitechain::slsm
