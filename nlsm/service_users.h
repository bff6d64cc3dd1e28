#pragma once
// The users the node runs its services as: one uid (and a gid of the same number) per service
// name, taken from a configured range and kept in the node's state, <dir>/users.json:
//   {"range": "1900000000-1900099999",
//    "services": {"thermo": 1900000000, "collector": 1900000001}}
// A service keeps its uid for good, across undeploys and restarts; a uid is never handed to
// another service, so no file can be left owned by a uid that someone else gets later. A uid or
// gid the host already knows (a user or group in its passwd or group database) is skipped. The
// default range lies above systemd's container range (524288-1879048191) and below 2^31; a range
// that overlaps systemd's DynamicUser range (61184-65519), holds 0, 65534 (nobody) or 65535, is
// refused.
//
// Not thread-safe (the node manager's loop thread owns it). Errors are statuses: the I/O status of
// users.json, DATA_LOSS for a corrupt one, RESOURCE_EXHAUSTED for a used-up range.

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sitechain::nlsm {

struct ServiceUser {
  uid_t uid = 0;
  gid_t gid = 0;
  bool operator==(const ServiceUser&) const = default;
};

struct UidRange {
  uid_t first = 1900000000;
  uid_t last = 1900099999;
  std::string ToString() const;
};

// "FIRST-LAST": INVALID_ARGUMENT for text that is not one, or a range the node must not use
// (see above).
Result<UidRange> ParseUidRange(std::string_view text);

class ServiceUsers final {
 public:
  // Whether the host already has a user or group of this number (getpwuid, getgrgid).
  using TakenOnHost = std::function<bool(uid_t)>;
  static bool KnownToTheHost(uid_t id);

  // Reads <dir>/users.json (none yet: an empty table). Uids kept from another range stay with
  // their services; new ones come from `range`, above every uid of it already handed out, and
  // never one that `taken` says the host has.
  static Result<ServiceUsers> Open(const std::string& dir, UidRange range,
                                   TakenOnHost taken = KnownToTheHost);

  // The service's user, allocated (and users.json written) on first use.
  Result<ServiceUser> For(const std::string& service);

 private:
  ServiceUsers(std::string path, UidRange range, TakenOnHost taken)
      : path_(std::move(path)), range_(range), taken_(std::move(taken)) {}
  Status Save() const;

  std::string path_;
  UidRange range_;
  TakenOnHost taken_;
  uid_t next_ = 0;
  std::map<std::string, uid_t, std::less<>> uids_;
};

}  // namespace sitechain::nlsm
