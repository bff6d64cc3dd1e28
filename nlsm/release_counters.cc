#include "nlsm/release_counters.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/files.h"

namespace sitechain::nlsm {
namespace {

constexpr int kFormat = 1;

}  // namespace

ReleaseCounters::ReleaseCounters(std::string dir)
    : path_(std::move(dir) + "/release-counters.json") {}

Status ReleaseCounters::Load() {
  highest_.clear();
  if (!PathExists(path_)) return Status::Ok();
  SITECHAIN_ASSIGN_OR_RETURN(const std::string text, ReadSmallFile(path_));
  const auto unreadable = [this](const std::string& why) {
    return DataLoss(path_ + ": " + why +
                    "; the node refuses to start rather than forget the highest release it ran "
                    "of each service (rule 7). Restore the file from a backup; removing it "
                    "lets this node run older releases again");
  };
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object() || j.value("format", 0) != kFormat || !j.contains("highest") ||
        !j.at("highest").is_object()) {
      return unreadable("not a release counter file of format " + std::to_string(kFormat));
    }
    for (const auto& [name, counter] : j.at("highest").items()) {
      if (!counter.is_number_unsigned()) {
        return unreadable("the counter of " + name + " is not a non-negative integer");
      }
      highest_[name] = counter.get<uint64_t>();
    }
  } catch (const nlohmann::json::exception& e) {
    return unreadable(std::string("does not parse: ") + e.what());
  }
  return Status::Ok();
}

std::optional<uint64_t> ReleaseCounters::Highest(const std::string& name) const {
  auto it = highest_.find(name);
  if (it == highest_.end()) return std::nullopt;
  return it->second;
}

Status ReleaseCounters::Record(const std::string& name, uint64_t counter) {
  auto it = highest_.find(name);
  if (it != highest_.end() && it->second >= counter) return Status::Ok();
  highest_[name] = counter;
  nlohmann::json highest = nlohmann::json::object();
  for (const auto& [n, c] : highest_) highest[n] = c;
  const nlohmann::json j = {{"format", kFormat}, {"highest", std::move(highest)}};
  return WriteFileAtomic(path_, j.dump(2) + "\n", 0600);
}

}  // namespace sitechain::nlsm
