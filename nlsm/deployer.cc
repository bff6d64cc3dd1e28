#include "nlsm/deployer.h"

#include <algorithm>
#include <utility>

#include "common/hex.h"
#include "nlsm/launch_policy.h"
#include "pki/hash.h"
#include "pki/profile.h"

namespace sitechain::nlsm {

Deployer::Deployer(const std::string& dir, const NodeFiles& node, SiteClient& site,
                   const ReleaseCounters& counters, const Clock& clock, Random& rng,
                   const pki::VerifyOptions& verify, Seconds retry_initial, Seconds retry_max)
    : node_(node),
      site_(site),
      counters_(counters),
      rng_(rng),
      retry_initial_(retry_initial),
      retry_max_(retry_max),
      verifier_(clock, verify),
      packages_(storage::BlobStore::Open(dir + "/packages", 0555).value()) {}

Result<CheckedInstance> Deployer::Fetch(const std::string& service) {
  return FetchAndVerify(
      site_, packages_, node_, service,
      [this](const std::string& name) { return counters_.Highest(name); }, verifier_, rng_);
}

void Deployer::Adopt(CheckedInstance checked, Instance& instance) {
  instance.digest_algorithm = checked.package.digest_algorithm;
  instance.digest = checked.package.digest;
  if (const auto& verified = checked.verification.release) {
    instance.name = verified->name;
    instance.version = verified->version;
    instance.release_counter = verified->release_counter;
  } else {
    instance.name = checked.package.name;
    instance.version = checked.package.version;
    instance.release_counter = checked.package.release_counter;
  }
  instance.cert_dev = std::move(checked.cert_dev);
  instance.cert_store = std::move(checked.cert_store);
  instance.developer = std::move(checked.developer_identity);
  instance.cert_site = std::move(checked.cert_site);
  instance.key = std::move(checked.instance_key);
  instance.policy_json = PolicyOf(*instance.cert_site);
  instance.federation_pem = std::move(checked.federation_pem);
  instance.suggested = RenewalWindow{checked.renew_after, checked.renew_before};
}

Result<UniqueFd> Deployer::OpenPackage(const Instance& i) const {
  SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(i.digest_algorithm));
  SITECHAIN_ASSIGN_OR_RETURN(auto bytes, HexDecode(i.digest));
  return packages_.Open(pki::Digest{alg, bytes});
}

pki::ChainInput Deployer::ChainFor(const Instance& i, int executable_fd) const {
  pki::ChainInput input;
  input.store_root = node_.store_root;
  input.site_root = node_.identity.site_root;
  input.developer_identity = i.developer;
  input.cert_dev = i.cert_dev;
  input.cert_store = i.cert_store;
  input.cert_site = i.cert_site;
  input.executable_fd = executable_fd;
  input.expected_node_id =
      pki::NodeSpiffeId(node_.identity.site_root.Subject().common_name, node_.node);
  if (i.cert_dev) {
    if (auto name = ReleaseNameOf(*i.cert_dev)) {
      input.highest_release_counter = counters_.Highest(*name);
    }
  }
  return input;
}

Status Deployer::Verify(const Instance& i) const {
  SITECHAIN_ASSIGN_OR_RETURN(UniqueFd fd, OpenPackage(i));
  const pki::Verification v = verifier_.Verify(ChainFor(i, fd.get()));
  if (!v.ok()) return FailedPrecondition(v.failure->ToString());
  if (i.key && i.cert_site->PublicKeyDer() != i.key->PublicKeyDer()) {
    return FailedPrecondition("the Cert_site is not for this instance's key");
  }
  return Status::Ok();
}

LaunchCheck Deployer::CheckLaunch(const Instance& i) const {
  using Outcome = LaunchCheck::Outcome;
  LaunchCheck check;
  const auto refuse = [&check](Outcome outcome, Status status, std::string error) {
    check.outcome = outcome;
    check.status = std::move(status);
    check.error = std::move(error);
    return std::move(check);
  };
  // Verify from the descriptor that will be exec'd: no window between check and use.
  auto fd = OpenPackage(i);
  if (!fd.ok()) return refuse(Outcome::kNoPackage, fd.status(), fd.status().ToString());
  const pki::Verification v = verifier_.Verify(ChainFor(i, fd->get()));
  if (!v.ok()) {
    const bool expired = v.failure->reason == pki::Reason::kExpired &&
                         v.failure->certificate == pki::CertRole::kCertSite;
    const std::string error = "not started: " + v.failure->ToString();
    const Outcome outcome = expired ? Outcome::kExpired
                            : v.failure->reason == pki::Reason::kDigestMismatch
                                ? Outcome::kDigestMismatch
                                : Outcome::kRefused;
    return refuse(outcome, FailedPrecondition(error), error);
  }
  if (!i.key || i.cert_site->PublicKeyDer() != i.key->PublicKeyDer()) {
    // (A damaged key that still parses as a key: never hand the service a key that its
    // certificate does not name.)
    const std::string error = "not started: " + i.dir +
                              "/identity.pem: the key is not the key of its Cert_site (damaged?); "
                              "waiting for the site manager to deploy it again";
    return refuse(Outcome::kRefused, FailedPrecondition(error), error);
  }
  auto launch_policy = ParseLaunchPolicy(i.policy_json);
  if (!launch_policy.ok()) {
    return refuse(
        Outcome::kRefused, launch_policy.status(),
        "the sitePolicy cannot be honoured on this node: " + launch_policy.status().message());
  }
  // The sandbox is on by default where the node isolates services; elsewhere it cannot be had.
  const bool isolated = i.user.has_value();
  const Sandbox& sandbox = launch_policy->sandbox;
  if (!isolated &&
      (sandbox.private_tmp.value_or(false) || sandbox.read_only_root.value_or(false))) {
    const std::string error =
        "the sitePolicy cannot be honoured on this node: site policy: \"sandbox\": this node "
        "runs services without isolation (not root) and cannot give a private mount namespace";
    return refuse(Outcome::kRefused, FailedPrecondition(error), error);
  }
  check.outcome = Outcome::kReady;
  check.executable = std::move(*fd);
  check.rules_checked = v.rules_checked;
  check.release = v.release;
  LaunchSpec& launch = check.spec;
  launch.service = i.service;
  launch.executable_fd = check.executable.get();
  launch.args = launch_policy->args;
  launch.env = launch_policy->env;
  const std::string site = node_.identity.site_root.Subject().common_name;
  launch.env["SITECHAIN_SERVICE"] = i.service;
  launch.env["SITECHAIN_SPIFFE_ID"] = pki::ServiceSpiffeId(site, node_.node, i.service);
  // Key and Cert_site are one file (identity.pem): OpenSSL-based readers take it as the
  // certificate file and as the key file alike.
  launch.env["SITECHAIN_IDENTITY_FILE"] = i.dir + "/identity.pem";
  launch.env["SITECHAIN_CERT_FILE"] = i.dir + "/identity.pem";
  launch.env["SITECHAIN_KEY_FILE"] = i.dir + "/identity.pem";
  launch.env["SITECHAIN_TRUST_BUNDLE_FILE"] = i.dir + "/bundle.pem";
  launch.env["SITECHAIN_FEDERATION_FILE"] = i.dir + "/federation.pem";
  launch.env["SITECHAIN_POLICY_FILE"] = i.dir + "/policy.json";
  launch.env["SITECHAIN_WORK_DIR"] = i.dir + "/work";
  launch.working_dir = i.dir;
  launch.stdout_path = i.dir + "/stdout.log";
  launch.stderr_path = i.dir + "/stderr.log";
  launch.restart = launch_policy->restart;
  launch.user = i.user;
  launch.limits = launch_policy->limits;
  launch.private_tmp = sandbox.private_tmp.value_or(isolated);
  launch.read_only_root = sandbox.read_only_root.value_or(isolated);
  launch.writable_dir = i.dir + "/work";
  // Before every exec, restarts too: the held descriptor must still have the verified digest
  // (its file may have been rewritten in place since).
  launch.check_before_exec = [algorithm = i.digest_algorithm,
                              digest = i.digest](int executable_fd) -> Status {
    SITECHAIN_ASSIGN_OR_RETURN(auto alg, pki::ParseHashAlgorithm(algorithm));
    SITECHAIN_ASSIGN_OR_RETURN(auto expected, HexDecode(digest));
    SITECHAIN_ASSIGN_OR_RETURN(pki::Digest now, pki::HashFd(alg, executable_fd));
    if (now.bytes != expected) {
      return FailedPrecondition("DIGEST_MISMATCH: the executable no longer has the verified " +
                                algorithm + " digest " + digest.substr(0, 16) +
                                "... (rewritten since it was verified); not run again");
    }
    return Status::Ok();
  };
  return check;
}

TimePoint Deployer::RedeployAt(int attempts, TimePoint now) {
  // Capped, jittered exponential backoff: a site-wide restart whose deploys the slsm's rate limit
  // refused comes back within seconds, spread out, not all together after retry_max.
  const Seconds d = std::min(retry_max_, retry_initial_ * (1 << std::min(attempts - 1, 10)));
  return UniformBetween(now + d / 2, now + d, rng_);
}

void Deployer::RefetchLater(Instance& i, TimePoint now) const {
  i.redeploy = true;
  i.cause = i.last_error;
  i.next_attempt = now + retry_initial_;
}

}  // namespace sitechain::nlsm
