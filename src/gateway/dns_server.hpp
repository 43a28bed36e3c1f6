// The gateway's DNS server: authoritative for its zone (default "p2p"),
// never recursive, over UDP and TCP on one address. A name in the zone that
// resolves to a peer gets the peer's virtual IP (and the gateway starts
// listening on it); unknown names get NXDOMAIN, names outside the zone
// REFUSED. Malformed queries get FORMERR or are dropped; queries beyond the
// configured rate are dropped.
#pragma once

#include <array>
#include <functional>
#include <optional>

#include <memory>

#include "gateway/dns_zone.hpp"
#include "gateway/gateway.hpp"
#include "gateway/token_bucket.hpp"

namespace peerup::app {

class dns_server {
 public:
  // SECURITY: what clients can make the server hold at once.
  static constexpr std::size_t max_lookups_in_flight = 256;
  static constexpr std::size_t max_tcp_connections = 32;
  static constexpr std::size_t max_queries_per_tcp_connection = 1000;
  static constexpr auto tcp_idle_timeout = std::chrono::seconds(10);

  // Binds UDP and TCP on addr:port (port 0: one free port for both). Throws
  // std::system_error when it cannot.
  // Contract: `gw` outlives the server; runs on the gateway host's executor.
  dns_server(gateway& gw, const net::asio::ip::address& addr, std::uint16_t port);
  ~dns_server();
  dns_server(const dns_server&) = delete;
  dns_server& operator=(const dns_server&) = delete;

  std::uint16_t port() const { return udp_.local_endpoint().port(); }
  // Network mode (docs/network-mode.md): a peer with an address on the TUN
  // network is answered with that address (A, host order) and, when the
  // network has IPv6, its IPv6 address (AAAA) instead of a virtual IP; `of`
  // returns nullopt for peers that have none.
  struct network_address {
    std::uint32_t v4 = 0;
    std::optional<std::array<std::uint8_t, 16>> v6;
  };
  using network_address_fn = std::function<std::optional<network_address>(const peer_id&)>;
  void use_network_addresses(network_address_fn of) { network_address_ = std::move(of); }
  void start();
  void stop();

  struct counters {
    std::uint64_t answered = 0;
    std::uint64_t malformed = 0;  // dropped: not even a header, or a response
    std::uint64_t rate_limited = 0;
    std::uint64_t overloaded = 0;  // dropped: too many lookups in flight
  };
  const counters& stats() const { return stats_; }

 private:
  net::awaitable<void> udp_loop();
  net::awaitable<void> udp_lookup(wire::dns::query q, std::string host,
                                  net::asio::ip::udp::endpoint from);
  net::awaitable<void> tcp_accept_loop();
  net::awaitable<void> serve_tcp(net::tcp::socket socket);
  // The answer for a name in the zone, once looked up.
  net::awaitable<wire::dns::answer> look_up(const wire::dns::query& q, const std::string& host);
  void send_udp(const bytes& msg, const net::asio::ip::udp::endpoint& to);
  bool admit();

  gateway& gw_;
  dns_zone_settings zone_;
  network_address_fn network_address_;
  net::asio::ip::udp::socket udp_;
  net::tcp::acceptor tcp_;
  token_bucket bucket_;
  std::size_t in_flight_ = 0;
  std::size_t tcp_connections_ = 0;
  counters stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::app
