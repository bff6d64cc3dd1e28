#include "slsm/revocation_staleness.h"

#include <algorithm>

#include "common/time_format.h"

namespace sitechain::slsm {

Status CheckConfirmedUnrevoked(const ReleaseRecord& release, TimePoint feed_confirmed_at,
                               TimePoint now, Seconds limit) {
  const TimePoint confirmed = std::max(release.installed_at, feed_confirmed_at);
  if (now - confirmed <= limit) return Status::Ok();
  const std::string last =
      feed_confirmed_at > TimePoint{}
          ? "the store's revocation feed was last read at " + FormatTime(feed_confirmed_at)
          : "the store's revocation feed was never read to its end";
  return Unavailable(
      "the site cannot confirm with the store that " + release.name + " " + release.version +
      " is not revoked: " + last + " (installed at " + FormatTime(release.installed_at) +
      "), longer ago than revocation_staleness_limit " + std::to_string(limit.count()) +
      " s; no Cert_site for it until the site reaches its store again");
}

}  // namespace sitechain::slsm
