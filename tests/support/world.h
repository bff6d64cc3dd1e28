#pragma once
// Test and bench support: the "store + developer + published releases" setup that the
// integration tests and the benches share, as one sequence over a small seam.
//
//   World            what a world can do: start a store, register a developer at it, sign and
//                    publish a release as that developer. Two implementations:
//                      ProgramWorld (tests/integration/program_world.h) runs the built programs
//                        (`store init`/`serve`, `devkit register`/`sign`/`publish`, `slsm init`);
//                      InProcessWorld (tests/support/in_process/in_process_world.h) calls the
//                        same library code in this process (store::StoreServer, devkit::Register,
//                        devkit::Publish, slsm::SlsmServer), for the benches.
//   WorldRelease     one release to publish: the file, the name, version and release counter,
//                    and where Cert_dev and Cert_store go.
//   World::Build     StartStore, RegisterDeveloper, then Publish of each release, in order.
//
//   ProgramWorld world(dir);
//   Status built = world.Build("alice", {{"hello", "hello"}, {"hello", "greeter"}});
//
// Sites and nodes differ too much between the two (a config file and a child process, or a
// config struct and a server object) to share a seam; each implementation has its own. Header
// only. Errors are Statuses whose message says which step failed and why (for a program: its
// command line and output). Not thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sitechain::testutil {

// One release to sign and publish. Paths are relative to the world's directory.
struct WorldRelease {
  std::string file{};  // the executable; it must exist when the release is published
  std::string name{};
  std::string version = "1.0.0";
  uint64_t release = 1;      // the release counter
  std::string cert_dev{};    // where Cert_dev is written; "" is <name>-<version>.cert.pem
  std::string cert_store{};  // where Cert_store is written; "" is <cert_dev>.store.pem

  std::string CertDevFile() const {
    return cert_dev.empty() ? name + "-" + version + ".cert.pem" : cert_dev;
  }
  std::string CertStoreFile() const {
    return cert_store.empty() ? CertDevFile() + ".store.pem" : cert_store;
  }
};

class World {
 public:
  virtual ~World() = default;

  // Makes the store (its CA and database) and serves it.
  virtual Status StartStore() = 0;
  // Registers the developer `name` at the store with a join token from its admin socket; the
  // world keeps the developer's key and certificate for Publish.
  virtual Status RegisterDeveloper(const std::string& name) = 0;
  // Signs Cert_dev for the release as the registered developer and publishes it to the store.
  virtual Status Publish(const WorldRelease& release) = 0;

  // StartStore, RegisterDeveloper(developer), then Publish of each release in order; the first
  // failure, with the step it happened in.
  Status Build(const std::string& developer, const std::vector<WorldRelease>& releases) {
    if (Status s = StartStore(); !s.ok()) return s.WithContext("starting the store");
    if (Status s = RegisterDeveloper(developer); !s.ok()) {
      return s.WithContext("registering " + developer);
    }
    for (const WorldRelease& r : releases) {
      if (Status s = Publish(r); !s.ok()) {
        return s.WithContext("publishing " + r.name + " " + r.version);
      }
    }
    return Status::Ok();
  }
};

}  // namespace sitechain::testutil
