// The gateway's peer_directory over the real naming layer: the name resolver
// (local names, relay-scoped names, peer IDs) and /peerup/services/1.0.0.
#pragma once

#include "gateway/gateway.hpp"
#include "naming/resolver.hpp"

namespace peerup::app {

class resolver_directory final : public peer_directory {
 public:
  // Contract: `h` and `cfg` outlive it; runs on the host's executor.
  resolver_directory(net::host& h, const config& cfg, resolver_options opts = {})
      : host_(h), resolver_(h, cfg, std::move(opts)) {}

  net::awaitable<result<directory_entry>> resolve(const std::string& name, bool in_zone) override;
  net::awaitable<result<std::vector<gateway_service>>> services(const peer_id& peer) override;
  // The resolver's lookups, cache hits and relay queries (the gateway's /metrics).
  name_resolver::stats statistics() const { return resolver_.statistics(); }

 private:
  net::host& host_;
  name_resolver resolver_;
};

}  // namespace peerup::app
