#pragma once
// The revocation staleness limit (SiteOptions::revocation_staleness_limit). Revocation reaches
// the site through the store's feed; while the store cannot be reached, the site cannot know
// what was revoked meanwhile. A release counts as confirmed unrevoked at the later of its
// install (the store serves no revoked release) and the last time the revocation follower read
// the feed to its end; longer than the limit after that, no Cert_site is issued for it. The
// revocation bound while the store is away is then limit + Cert_site lifetime + clock skew.

#include "common/clock.h"
#include "common/status.h"
#include "slsm/records.h"

namespace sitechain::slsm {

// OK if `release` was confirmed within `limit` before `now`; UNAVAILABLE otherwise, with the
// times and what to do (a node retries with its backoff).
Status CheckConfirmedUnrevoked(const ReleaseRecord& release, TimePoint feed_confirmed_at,
                               TimePoint now, Seconds limit);

}  // namespace sitechain::slsm
