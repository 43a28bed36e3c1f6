// /peerup/federation/1.0.0 over streams (docs/federation.md; messages and
// state: wire/federation_message.hpp, wire/federation_state.hpp).
//
// A relay that serves names for one network runs one federation_service:
// - inbound: peer relays ask it for names of its network; it answers from
//   its own name registry only (never from the federation cache, never by
//   asking on), signing each record with the relay's identity key;
// - outbound: the names server hands it lookups of other networks
//   (`server.bob` asked at grewal); it answers from the cache, else asks the
//   peer relay, verifies the signed record, caches it, and falls back to a
//   stale answer when the peer relay is down;
// - a background loop refreshes names in use, pings peerings (up/down) and
//   expires the cache.
// Everything runs on the host's executor; no locks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "net/host.hpp"
#include "wire/federation_state.hpp"
#include "wire/name_registry.hpp"
#include "wire/names_message.hpp"

namespace peerup::protocols {

inline const protocol_id federation_protocol{std::string(wire::federation_protocol_id)};

struct federation_options {
  net::steady_clock::duration request_timeout = std::chrono::seconds(5);
  net::steady_clock::duration tick = std::chrono::seconds(10);  // refresh, ping, expire
  net::steady_clock::duration ping_interval = std::chrono::seconds(60);
  std::size_t max_refresh_per_tick = 32;
  // Wall-clock unix seconds, for record validity (tests move it).
  std::function<std::uint64_t()> unix_clock;
  // Steady time for the cache and buckets (tests move it).
  std::function<net::steady_clock::time_point()> clock;
};

// The relay's own registry, as the names server holds it.
using local_name_lookup =
    std::function<const wire::name_record*(const wire::dns_label& host, net::steady_clock::time_point)>;

struct federation_stats {
  std::uint64_t served = 0, refused = 0, asked = 0, cache_hits = 0, stale_answers = 0,
                bad_records = 0, unknown_ip_limited = 0;
};

class federation_service {
 public:
  // Installs the handler on `h` (which must outlive this object) and starts
  // the background loop. `state` holds our network and peerings.
  federation_service(net::host& h, const private_key& relay_key, wire::federation_state state,
                     local_name_lookup local, federation_options opts = {});
  ~federation_service();
  federation_service(const federation_service&) = delete;
  federation_service& operator=(const federation_service&) = delete;

  // A LOOKUP of `<host>.<network>` for one of our members, answered as the
  // names protocol answers (status ok with peer and addresses, not_found,
  // not_federated, or federation_unreachable with the reason in `text`).
  // Contract: on the host's executor; bounded by request_timeout; never throws.
  net::awaitable<wire::names_response> lookup(wire::dns_label network, wire::dns_label host);

  // Connections across networks (docs/federation.md): the bob relay got a
  // CONNECT from `p`, a peer not in its authorized_keys. Answers the network
  // of a peer relay that says `p` is its member (cached member_ttl), or
  // nullopt (cached negative_ttl). Asks at most max_member_asks peerings in
  // turn, each bounded by request_timeout and our outbound bucket for it.
  // Contract: on the host's executor; never throws; the caller re-checks
  // its own liveness after the co_await.
  // `ip` is the remote IP of p's connection: a peer with no cached answer
  // costs a token of that IP's bucket (unknown_connects_per_ip), and is
  // refused without asking when it is empty.
  net::awaitable<std::optional<wire::dns_label>> foreign_member(peer_id p, std::string ip);
  // The forwarded path: the peer relay to forward our member's CONNECT for
  // `target` to (federation_state::forward_route), or nullopt.
  std::optional<wire::federation_peering> forward_route(const peer_id& target) const;
  // Whether `relay` is the relay of one of our peerings (either trust
  // level: their members reach our hosts), and so may forward circuits to
  // us on its members' behalf. Answers the network.
  std::optional<wire::dns_label> peering_network_of(const peer_id& relay) const;
  // Who our members are (authorized_keys), for peer relays' MEMBER requests.
  // Without it every MEMBER request is answered not_found.
  void set_member_check(std::function<bool(const peer_id&)> f) { is_member_ = std::move(f); }

  // A config reload: see federation_state::set_peerings. On error nothing
  // changes and `why` says what was wrong.
  result<void> set_peerings(std::vector<wire::federation_peering> all, std::string* why);
  const wire::federation_state& state() const { return state_; }
  federation_stats stats() const { return stats_; }

 private:
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  wire::federation_response answer(const wire::federation_request& req, const peer_id& from);
  net::awaitable<result<wire::federation_response>> ask(wire::federation_peering peer,
                                                        wire::federation_request req);
  net::awaitable<wire::names_response> lookup_impl(wire::dns_label network,
                                                   wire::dns_label host, bool refresh);
  net::awaitable<void> loop();
  net::awaitable<void> ping(wire::federation_peering peer);
  wire::names_response from_record(const wire::name_record_body& r,
                                   const wire::federation_peering& peer, bool stale) const;
  net::steady_clock::time_point now() const;
  std::uint64_t unix_now() const;

  net::host& host_;
  private_key key_;
  wire::federation_state state_;
  local_name_lookup local_;
  std::function<bool(const peer_id&)> is_member_;
  federation_options opts_;
  federation_stats stats_;
  std::map<wire::dns_label, net::steady_clock::time_point> last_ping_;
  net::asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::protocols
