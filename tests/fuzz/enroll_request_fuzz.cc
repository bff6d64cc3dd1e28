// sitechain.v1.EnrollRequest, which the slsm decodes from a node that has proven nothing yet (a
// join token is all it holds), through the slsm's own code on a real site (fuzz_site.h): the
// token split (slsm::ParseJoinToken), then SiteService::Enroll (what SiteGrpcService::Enroll
// calls) twice: with the request as sent, and with the request's node name and CSR but a join
// token the site makes for the run (for the node named by the sent token's first part, or the
// request's node, or node-x: the first name the site accepts), which takes the request past the
// token lookup to the token's node, the node name and CSR checks and the signing.
//
// Invariants: nothing crashes; a token the split accepts is its three parts joined again, the
// first two without a dot, and one it refuses is refused by Enroll with the same code; the site's
// tokens split with the site root's fingerprint as the third part; a token is good for one
// enrollment (the fuzzer cannot know an unused one: every token the site made is used up by the
// end of its run); an enrollment that succeeds is for the node the token was made for, returns a
// node certificate for the CSR's key and that name, with which the node then authenticates, and
// uses the token up; one that is refused leaves the token usable (a node with a good CSR then
// enrolls with it).

#include <span>
#include <string>

#include "pki/csr.h"
#include "pki/key.h"
#include "sitechain/v1/site.pb.h"
#include "slsm/join_token.h"
#include "tests/fuzz/fuzz_site.h"
#include "tests/fuzz/proto_fuzz.h"

using namespace sitechain;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto request = fuzz::ParseMessage<v1::EnrollRequest>(data, size);
  if (!request) return 0;
  fuzz::FuzzSite& site = fuzz::FuzzSite::Get();
  slsm::SiteService& service = site.service();
  const std::string& token = request->token();
  const std::string& node = request->node();
  const std::span<const uint8_t> csr_der(
      reinterpret_cast<const uint8_t*>(request->csr_der().data()), request->csr_der().size());

  auto parsed = slsm::ParseJoinToken(token);
  if (parsed.ok()) {
    FUZZ_CHECK(slsm::FormatJoinToken(*parsed) == token, "the parts do not join to the token");
    FUZZ_CHECK(
        parsed->id.find('.') == std::string::npos && parsed->secret.find('.') == std::string::npos,
        "not split at the first two dots");
  }
  auto as_sent = service.Enroll(token, node, csr_der);
  FUZZ_CHECK(!as_sent.ok(), "enrolled with a token the site never made or made and used");
  if (!parsed.ok()) {
    FUZZ_CHECK(as_sent.status().code() == parsed.status().code(),
               "a malformed token refused as " + as_sent.status().ToString());
  }

  // A token the site makes now, as `slsm tokens create` does, for the node the sent token's id
  // names (so that the input can send one node's token for another), else for the request's
  // node, else for node-x: the first name the site accepts.
  Result<slsm::CreatedJoinToken> created = InvalidArgument("no name tried");
  for (const std::string& name : {parsed.ok() ? parsed->id : node, node, std::string("node-x")}) {
    created = service.CreateJoinToken(name, Seconds(0));
    if (created.ok()) break;
    FUZZ_CHECK(created.status().code() == StatusCode::kInvalidArgument,
               created.status().ToString());
  }
  FUZZ_CHECK(created.ok(), "the site refused a token for node-x: " + created.status().ToString());
  const std::string& token_node = created->record.node;
  auto own = slsm::ParseJoinToken(created->token);
  FUZZ_CHECK(own.ok() && own->fingerprint == service.site_root().Sha256Fingerprint(),
             "the site's own token does not split to its root's fingerprint");

  auto enrolled = service.Enroll(created->token, node, csr_der);
  if (enrolled.ok()) {
    FUZZ_CHECK(node == token_node, "enrolled " + node + " with the token of " + token_node);
    auto csr = pki::CertificateRequest::FromDer(csr_der);
    FUZZ_CHECK(csr.ok(), "enrolled with a CSR that does not parse");
    const pki::Certificate& cert = enrolled->node_certificate;
    FUZZ_CHECK(cert.PublicKeyDer() == csr->PublicKeyDer(), "the certificate is for another key");
    FUZZ_CHECK(cert.Subject().common_name == node, "the certificate names another node");
    auto authenticated = service.AuthenticateNode(cert.ToPem());
    FUZZ_CHECK(authenticated.ok() && authenticated->name == node,
               "the enrolled node cannot authenticate: " + authenticated.status().ToString());
    auto again = service.Enroll(created->token, node, csr_der);
    FUZZ_CHECK(!again.ok() && again.status().code() == StatusCode::kUnauthenticated,
               "a join token enrolled twice");
  } else {
    pki::PrivateKey key = pki::PrivateKey::Generate(pki::KeyType::kEd25519, site.rng());
    auto good = pki::CertificateRequest::Create(key, token_node, site.rng());
    FUZZ_CHECK(good.ok(), good.status().ToString());
    auto retry = service.Enroll(created->token, token_node, good->ToDer());
    FUZZ_CHECK(retry.ok(), "a refused enrollment (" + enrolled.status().ToString() +
                               ") spoilt its token: " + retry.status().ToString());
  }
  return 0;
}
