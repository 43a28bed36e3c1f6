// The daemon's services: each enabled service of the config is served as
// protocol /peerup/<name>/1.0.0 and proxied to its local TCP address, for
// peers the access policy allows (layer 2 of the access checks; the gater is
// layer 1).
#pragma once

#include <map>
#include <memory>

#include "common/rate_limiter.hpp"
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

// A bandwidth limit's two buckets (in: from peers to the local service).
// Shared by every stream it bounds; a stream keeps the buckets it started
// with when a reload changes the limit.
struct rate_pair {
  std::shared_ptr<rate_limiter> in, out;
  explicit rate_pair(std::uint64_t rate)
      : in(std::make_shared<rate_limiter>(rate)), out(std::make_shared<rate_limiter>(rate)) {}
};

// How long streams waited on a limit, per direction (metrics).
struct throttled_time {
  rate_limiter::clock::duration in{}, out{};
};

class service_registry {
 public:
  explicit service_registry(net::host& h) : host_(h) {}
  ~service_registry();
  service_registry(const service_registry&) = delete;
  service_registry& operator=(const service_registry&) = delete;

  // Serves the enabled services of `services` under `policy`, drops handlers
  // of services gone or disabled. Streams already open keep running.
  // `peer_rate`: config.peer_rate_limit (0: unlimited).
  void apply(const std::map<std::string, service_config>& services,
             std::shared_ptr<const access_policy> policy, std::uint64_t peer_rate = 0);

  const std::map<std::string, service_config>& services() const { return services_; }
  service_counters counters(const std::string& name) const;
  // Every peer that opened a service stream since start (only authorized
  // peers get that far, so authorized_keys bounds the map).
  const std::map<peer_id, peer_traffic>& traffic_by_peer() const { return peers_; }
  // Bandwidth limits in force (bytes/s, 0: none) and the time streams
  // waited on them since start (limits replaced by a reload included).
  std::uint64_t peer_rate_limit() const { return peer_rate_; }
  throttled_time service_throttled(const std::string& name) const;
  throttled_time peer_throttled(const peer_id& peer) const;

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
  // Buckets by service (only for services with a rate_limit) and by peer
  // (only with a peer_rate_limit; authorized peers bound the map).
  std::map<std::string, rate_pair> service_rates_;
  std::map<peer_id, rate_pair> peer_rates_;
  std::uint64_t peer_rate_ = 0;
  // Waits of buckets a reload replaced, so the counters never go back.
  std::map<std::string, throttled_time> service_throttled_before_;
  std::map<peer_id, throttled_time> peer_throttled_before_;
  // Lets handlers still running after our destruction see that we are gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Connects to a local service address (IP literal or host name).
// Contract: runs on the caller's executor; the caller bounds it with with_timeout.
net::awaitable<result<net::tcp::socket>> dial_local(const host_port& addr);

}  // namespace peerup::app
