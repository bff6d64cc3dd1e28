#pragma once
// The fixture of the slsm database tests (site_db_test.cc, catalog_db_test.cc,
// enrollment_db_test.cc, deployment_db_test.cc, issued_log_test.cc): a real SiteDatabase in a
// temporary directory, reopened at will, the concepts' database classes over it, and records
// to put in it.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "slsm/catalog_db.h"
#include "slsm/deployment_db.h"
#include "slsm/enrollment_db.h"
#include "slsm/issued_log.h"
#include "slsm/site_db.h"
#include "tests/common/temp_dir.h"
#include "tests/support/test_chain.h"

namespace sitechain::slsm::db_test {

using testutil::TempDir;

inline ::testing::AssertionResult Refused(const Status& s, StatusCode code,
                                          std::string_view fragment) {
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "expected " << StatusCodeName(code) << ", got " << s.ToString();
  }
  if (s.message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << fragment << "': " << s.ToString();
  }
  return ::testing::AssertionSuccess();
}

inline const TimePoint kT0 = sitechain::testing::kTestEpoch;

inline ReleaseRecord Release(const std::string& name, const std::string& version, uint64_t counter,
                             const std::string& developer = "alice") {
  ReleaseRecord r;
  r.name = name;
  r.version = version;
  r.release_counter = counter;
  r.developer = developer;
  r.digest_algorithm = "sha256";
  r.digest = std::string(64, static_cast<char>('a' + counter % 6));
  r.size = 1000 + counter;
  r.blob = "sha256-" + r.digest;
  r.cert_dev_pem = "dev " + version;
  r.cert_store_pem = "store " + version;
  r.developer_certificate_pem = "identity " + developer;
  return r;
}

inline NodeRecord Node(const std::string& name, const std::string& fingerprint = "f1") {
  NodeRecord n;
  n.name = name;
  n.key_fingerprint = fingerprint;
  n.certificate_serial = "serial-" + name;
  n.certificate_not_after = kT0 + Seconds(86400);
  n.enrolled_at = kT0;
  return n;
}

inline JoinTokenRecord Token(const std::string& id, const std::string& node) {
  return {id, "hash-" + id, node, kT0, kT0 + Seconds(3600), std::nullopt};
}

class SiteDbTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Reopen()); }

  void Reopen() {
    db_.reset();
    Result<SiteDatabase> db = SiteDatabase::Open(tmp_.Path("slsm.db"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_.emplace(std::move(db).value());
  }

  SiteDatabase& db() { return *db_; }
  // The concepts' views of the same connection.
  CatalogDb catalog() { return CatalogDb(db()); }
  EnrollmentDb enrollment() { return EnrollmentDb(db()); }
  DeploymentDb deployments() { return DeploymentDb(db()); }
  IssuedLog issued() { return IssuedLog(db()); }

  // An installed service "hello" and an enrolled node "node-1" (token t1).
  void Seed() {
    ASSERT_TRUE(catalog().InsertRelease(Release("hello", "1.0", 1), kT0).ok());
    ASSERT_TRUE(enrollment().InsertJoinToken(Token("t1", "node-1"), kT0).ok());
    ASSERT_TRUE(enrollment().EnrollNode(Node("node-1"), "t1", kT0).ok());
  }

  SiteCounts Counts() {
    Result<SiteCounts> c = db().Counts();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : SiteCounts{};
  }

  TempDir tmp_;
  std::optional<SiteDatabase> db_;
};

}  // namespace sitechain::slsm::db_test
