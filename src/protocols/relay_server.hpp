// Circuit Relay v2 server (hop protocol): reservations and circuits, with
// authentication and resource limits from wire::relay_server_state.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/rate_limiter.hpp"

#include "net/host.hpp"
#include "net/splice.hpp"
#include "wire/relay_server_state.hpp"

namespace peerup::protocols {

struct relay_server_config {
  wire::relay_limits limits;
  wire::relay_access access = wire::relay_access::closed;
  // Who may reserve and open circuits in closed mode (authorized_keys).
  std::function<bool(const peer_id&)> is_authorized;
  // Connections across networks (docs/federation.md): asked on a CONNECT
  // from a peer that is_authorized refuses in closed mode; true lets it open
  // that circuit (to a host holding a reservation here, within the usual
  // limits). Reservations never consult it. Runs on the host's executor and
  // may suspend (it may ask peer relays).
  // `ip` is the remote IP of the peer's connection (for per-IP bounds).
  std::function<net::awaitable<bool>(peer_id, std::string ip)> is_federated;
};

// The forwarded path of relay federation (docs/federation.md): circuits
// that cross two relays, for members that cannot reach the target's relay.
struct relay_forwarding {
  // Onward (the member's relay): the target's home relay (a multiaddr ending
  // in /p2p/<relay>) when our member CONNECTs to a peer holding no
  // reservation here that a federated network's relay vouched for.
  std::function<std::optional<multiaddr>(const peer_id& target)> route;
  // Inbound (the target's relay): whether the Noise-authenticated `relay` is
  // the relay of one of our peerings, which may then CONNECT on its members'
  // behalf (hop_message::forwarded_for).
  std::function<bool(const peer_id& relay)> is_peer_relay;
  // Forwarded circuits through one peer relay, both ways (0: none), and the
  // limits of each (tightened with the relay's own).
  std::size_t max_per_relay = 32;
  std::optional<wire::relay_limit> cap;
};

struct relay_stats {
  std::size_t reservations = 0;
  std::size_t circuits = 0;          // live
  std::uint64_t circuits_total = 0;  // ever bridged
  std::uint64_t bytes_relayed = 0;   // both directions, finished circuits included
  std::uint64_t rate_limit = 0;      // limits.reservation_rate (bytes/s each way, 0: none)
  // Time circuits waited on reservation rate limits, summed over circuits.
  double throttled_seconds = 0;
};

class relay_server {
 public:
  // Installs the hop handler on `h`. The host must outlive the server.
  relay_server(net::host& h, relay_server_config cfg);
  ~relay_server();
  relay_stats stats() const;
  void set_authorizer(std::function<bool(const peer_id&)> f) { cfg_.is_authorized = std::move(f); }
  void set_federated(std::function<net::awaitable<bool>(peer_id, std::string)> f) {
    cfg_.is_federated = std::move(f);
  }
  void set_forwarding(relay_forwarding f) { forwarding_ = std::move(f); }

 private:
  net::awaitable<void> serve_hop(net::stream_ptr s, net::stream_context ctx);
  net::awaitable<void> reserve(net::byte_stream& s, const net::stream_context& ctx);
  net::awaitable<void> connect(net::stream_ptr s, const net::stream_context& ctx,
                               const wire::hop_message& msg);
  // Splices an accepted circuit and releases its slot (both kinds).
  net::awaitable<void> bridge(net::byte_stream& a, net::byte_stream& b,
                              wire::connect_decision decision, net::splice_limits limits,
                              std::string what, std::string note);
  // Our member's CONNECT to a host of a federated network, forwarded to its
  // home relay `home`. Parameters by value: it outlives connect()'s locals.
  net::awaitable<void> forward_onward(net::stream_ptr s, peer_id source, std::string ip,
                                      peer_id target, multiaddr home);
  net::awaitable<void> expiry_loop();
  wire::relay_requester requester(const net::stream_context& ctx) const;
  // The buckets of `target`'s reservation (made on its first circuit).
  struct reservation_rate {
    std::shared_ptr<rate_limiter> to_target, from_target;
  };
  reservation_rate& rate_of(const peer_id& target);
  void drop_rate(const peer_id& target);

  net::host& host_;
  relay_server_config cfg_;
  relay_forwarding forwarding_;
  wire::relay_server_state state_;
  std::uint64_t circuits_total_ = 0;
  std::uint64_t bytes_relayed_ = 0;
  // Only with limits.reservation_rate; an entry goes when its peer
  // disconnects (its reservation ends), so reservations bound the map.
  std::map<peer_id, reservation_rate> rates_;
  rate_limiter::clock::duration throttled_before_{};  // of entries dropped
  net::asio::steady_timer expiry_timer_;
  // Checked by spawned coroutines after each suspension (see net::host).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::protocols
