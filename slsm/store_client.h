#pragma once
// The site manager's client of the app store, over TLS (the store's server certificate must
// chain to the store root the site was configured with). Implements SiteService's
// ReleaseSource; RevocationFollower (revocation_follower.h) uses its channel for the feed.
// Thread-safe.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "sitechain/v1/store.grpc.pb.h"
#include "slsm/site_service.h"

namespace sitechain::slsm {

class StoreClient final : public ReleaseSource {
 public:
  // `address`: host:port of the store; store_root_pem: the root its TLS certificate chains to.
  StoreClient(const std::string& address, const std::string& store_root_pem,
              Seconds download_timeout = Seconds(600));

  Status Download(const std::string& name, const std::string& version,
                  const std::function<Status(const ReleaseHeader&)>& on_header,
                  const std::function<Status(std::span<const uint8_t>)>& on_chunk) override;

  v1::Store::Stub& stub() { return *stub_; }
  const std::string& address() const { return address_; }

 private:
  const std::string address_;
  const Seconds download_timeout_;
  std::unique_ptr<v1::Store::Stub> stub_;
};

}  // namespace sitechain::slsm
