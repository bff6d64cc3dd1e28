#pragma once
// The highest release counter this node has accepted for each service name (rule 7, TUF's "never
// go back"), kept in the node's state directory apart from the instances:
//   <dir>/release-counters.json   {"format":1,"highest":{"<name>":<counter>,...}}, mode 0600,
//                                 replaced as a whole (write-then-rename, fsync)
// A counter is recorded only from a release whose certificates verified (the caller's duty: pass
// the verifier's ServiceRelease, never a package header's word), and only ever grows: a failed
// deploy, an undeploy (which removes the instance's directory) and a restart leave it as it was.
// Counter 0 is a release like any other: once recorded, the name has a highest counter of 0.
//
// Ownership and threads: the node manager owns it and uses it from one thread at a time (Load
// before its loop starts, then the loop thread); the deployer borrows it to give the verifier the
// highest counter of a name. Not thread-safe. Errors are statuses: the I/O status of a read or a
// write, DATA_LOSS for a file that does not parse.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/result.h"

namespace sitechain::nlsm {

class ReleaseCounters final {
 public:
  // `dir`: the node's state directory (absolute). Nothing is read before Load.
  explicit ReleaseCounters(std::string dir);
  ReleaseCounters(const ReleaseCounters&) = delete;
  ReleaseCounters& operator=(const ReleaseCounters&) = delete;

  // Reads the file; none yet is an empty record. A file that cannot be read or parsed is an
  // error (DATA_LOSS for bad contents), not an empty record: a node that forgot its counters
  // would accept any rollback, so it refuses to start instead.
  Status Load();

  // The highest counter accepted for the name, if any.
  std::optional<uint64_t> Highest(const std::string& name) const;

  // Records that a release of `name` with `counter` verified. Writes the file only if the
  // counter is higher than the name's (or the name is new). On a failed write the raised
  // counter is still enforced in memory (never lower than the disk), and the write's status is
  // returned.
  Status Record(const std::string& name, uint64_t counter);

  // <dir>/release-counters.json.
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  std::map<std::string, uint64_t> highest_;
};

}  // namespace sitechain::nlsm
