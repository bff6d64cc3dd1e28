#include "nlsm/service_users.h"

#include <grp.h>
#include <pwd.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/files.h"

namespace sitechain::nlsm {
namespace {

bool Overlaps(uid_t first, uid_t last, uid_t a, uid_t b) { return first <= b && a <= last; }

}  // namespace

std::string UidRange::ToString() const {
  return std::to_string(first) + "-" + std::to_string(last);
}

Result<UidRange> ParseUidRange(std::string_view text) {
  const auto bad = [&text](const std::string& why) {
    return InvalidArgument("service_uid_range \"" + std::string(text.substr(0, 40)) + "\": " + why);
  };
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) return bad("expected FIRST-LAST, e.g. 1900000000-1900099999");
  UidRange r;
  uint64_t first = 0, last = 0;
  const auto parse = [](std::string_view s, uint64_t& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  if (!parse(text.substr(0, dash), first) || !parse(text.substr(dash + 1), last)) {
    return bad("expected FIRST-LAST, two whole numbers");
  }
  if (first == 0 || first > last || last >= (uint64_t{1} << 31)) {
    return bad("needs 0 < FIRST <= LAST < 2^31");
  }
  r.first = static_cast<uid_t>(first);
  r.last = static_cast<uid_t>(last);
  if (Overlaps(r.first, r.last, 61184, 65519)) {
    return bad("overlaps systemd's DynamicUser range 61184-65519");
  }
  if (Overlaps(r.first, r.last, 65534, 65535)) return bad("holds 65534 (nobody) or 65535");
  return r;
}

bool ServiceUsers::KnownToTheHost(uid_t id) {
  return ::getpwuid(id) != nullptr || ::getgrgid(static_cast<gid_t>(id)) != nullptr;
}

Result<ServiceUsers> ServiceUsers::Open(const std::string& dir, UidRange range, TakenOnHost taken) {
  ServiceUsers users(dir + "/users.json", range, std::move(taken));
  users.next_ = range.first;
  if (!PathExists(users.path_)) return users;
  SITECHAIN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(users.path_, 4 << 20));
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto corrupt = [&users](const std::string& why) {
    return DataLoss(users.path_ + " is corrupt (" + why +
                    "); it keeps which uid each service runs as: restore it from a backup");
  };
  if (!j.is_object() || !j.contains("services") || !j["services"].is_object()) {
    return corrupt("not an object with \"services\"");
  }
  for (const auto& [service, uid] : j["services"].items()) {
    if (!uid.is_number_unsigned() || uid.get<uint64_t>() >= (uint64_t{1} << 31)) {
      return corrupt("the uid of " + service);
    }
    const uid_t u = uid.get<uid_t>();
    users.uids_[service] = u;
    // Never at or below a uid already handed out from this range.
    if (u >= range.first && u <= range.last) users.next_ = std::max(users.next_, u + 1);
  }
  return users;
}

Result<ServiceUser> ServiceUsers::For(const std::string& service) {
  auto it = uids_.find(service);
  if (it == uids_.end()) {
    while (next_ >= range_.first && next_ <= range_.last && taken_ && taken_(next_)) ++next_;
    if (next_ < range_.first || next_ > range_.last) {
      return ResourceExhausted("every uid of service_uid_range " + range_.ToString() +
                               " is taken; configure a larger range");
    }
    it = uids_.emplace(service, next_++).first;
    if (Status s = Save(); !s.ok()) {
      uids_.erase(it);
      --next_;
      return s;
    }
  }
  return ServiceUser{it->second, static_cast<gid_t>(it->second)};
}

Status ServiceUsers::Save() const {
  nlohmann::json services = nlohmann::json::object();
  for (const auto& [service, uid] : uids_) services[service] = uid;
  const nlohmann::json j = {{"range", range_.ToString()}, {"services", services}};
  return WriteFileAtomic(path_, j.dump(2) + "\n", 0600);
}

}  // namespace sitechain::nlsm
