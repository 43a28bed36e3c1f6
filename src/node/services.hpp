// The daemon's services: each enabled service of the config is served as
// protocol /peerup/<name>/1.0.0 and proxied to its local TCP address, for
// peers the access policy allows (layer 2 of the access checks; the gater is
// layer 1).
#pragma once

#include <map>
#include <memory>

#include "net/host.hpp"
#include "config/authorized_keys.hpp"
#include "config/config.hpp"

namespace peerup::app {

struct service_counters {
  std::uint64_t streams = 0;  // proxied to the local service
  std::uint64_t denied = 0;   // refused: peer not authorized for it
  std::uint64_t failed = 0;   // the local service could not be reached
  std::uint64_t active = 0;
  std::uint64_t bytes_in = 0;   // from peers to the local service, counted as it flows
  std::uint64_t bytes_out = 0;  // from the local service to peers
};

// Service traffic of one peer, all services together.
struct peer_traffic {
  std::uint64_t streams = 0, bytes_in = 0, bytes_out = 0;
};

class service_registry {
 public:
  explicit service_registry(net::host& h) : host_(h) {}
  ~service_registry();
  service_registry(const service_registry&) = delete;
  service_registry& operator=(const service_registry&) = delete;

  // Serves the enabled services of `services` under `policy`, drops handlers
  // of services gone or disabled. Streams already open keep running.
  void apply(const std::map<std::string, service_config>& services,
             std::shared_ptr<const access_policy> policy);

  const std::map<std::string, service_config>& services() const { return services_; }
  service_counters counters(const std::string& name) const;
  // Every peer that opened a service stream since start (only authorized
  // peers get that far, so authorized_keys bounds the map).
  const std::map<peer_id, peer_traffic>& traffic_by_peer() const { return peers_; }

 private:
  // Before the protocol is echoed: refuses ("na") peers not authorized for
  // the service before the local service is even dialed, and refuses too when
  // the service is down; else hands the connected socket to serve() in
  // ctx.admitted.
  net::awaitable<bool> admit(std::string name, net::stream_context& ctx);
  // Pipes the admitted stream and the local socket.
  net::awaitable<void> serve(std::string name, net::stream_ptr s, net::stream_context ctx);

  net::host& host_;
  std::map<std::string, service_config> services_;
  std::map<std::string, service_counters> counters_;
  std::map<peer_id, peer_traffic> peers_;
  std::shared_ptr<const access_policy> policy_;
  // Lets handlers still running after our destruction see that we are gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Connects to a local service address (IP literal or host name).
// Contract: runs on the caller's executor; the caller bounds it with with_timeout.
net::awaitable<result<net::tcp::socket>> dial_local(const host_port& addr);

}  // namespace peerup::app
