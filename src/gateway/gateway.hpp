// The core of `peerup gateway`, shared by its SOCKS5 and DNS servers: turning
// a host name ("laptop.grewal", "home.p2p", "ssh.home.p2p", a peer ID) or a
// virtual IP into a peer, choosing the service for a port from the peer's
// service catalog, and opening the service stream over the one host (so
// libp2p connections are reused across client connections). It also owns the
// listeners on virtual IPs (one per service port of each peer the DNS server
// has answered for).
//
// It never opens an internet connection: every name either resolves to a
// peer or the request is refused.
#pragma once

#include <boost/system/result.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/host.hpp"
#include "config/gateway_config.hpp"
#include "gateway/virtual_ips.hpp"

namespace peerup::app {

struct gateway_service {
  std::string name;
  std::uint16_t port = 0;
};

struct directory_entry {
  peer_id peer;
  std::vector<multiaddr> addrs;  // how to reach it (direct, then relay circuits)
  std::string source;            // which naming tier answered, for logs
};

// What the gateway needs from naming; gateway_directory.hpp adapts the name
// resolver and the service catalog client to it, tests use fakes.
class peer_directory {
 public:
  virtual ~peer_directory() = default;
  // errc::name_not_found when no tier knows the name. `in_zone`: the name
  // came in the gateway's zone (".p2p"), so it may be of a federated network.
  virtual net::awaitable<result<directory_entry>> resolve(const std::string& name,
                                                          bool in_zone) = 0;
  virtual net::awaitable<result<std::vector<gateway_service>>> services(const peer_id& peer) = 0;
};

enum class gateway_failure {
  not_peerup_name,  // outside the zone and unknown: the gateway goes nowhere else
  unknown_name,     // inside the zone, but no naming tier knows it
  unreachable,      // the peer could not be reached
  not_allowed,      // the peer refused this gateway's peer ID
  refused,          // no service for that port or name, or the service refused
  busy,             // a local limit was reached
};

struct gateway_error {
  gateway_failure kind = gateway_failure::refused;
  std::string message;
};
template <class T>
using gateway_result = boost::system::result<T, gateway_error>;

struct gateway_target {
  peer_id peer;
  // Set for "<service>.<name>": this service, whatever the port.
  std::optional<std::string> service;
  std::string name;  // as the client wrote it, for logs
};

class gateway {
 public:
  // Contract: `h` outlives the gateway; every member runs on the host's
  // single-threaded executor.
  gateway(net::host& h, gateway_config cfg, std::shared_ptr<peer_directory> dir);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // A host name as a SOCKS client or a DNS query gives it, with or without
  // the zone suffix. Names win over services: "a.b" is first looked up as a
  // name, and only if that fails as service "a" on the peer named "b".
  net::awaitable<gateway_result<gateway_target>> lookup(const std::string& host);
  // A virtual IP handed out by the DNS server.
  gateway_result<gateway_target> lookup_ip(std::uint32_t ip) const;

  // Opens a stream to the target's service: the one it names, else the one
  // its peer's catalog lists for `port`. Bounded in time.
  net::awaitable<gateway_result<net::stream_ptr>> open(const gateway_target& t, std::uint16_t port);

  // The target's virtual IP. Also listens on it for every service port of
  // the peer's catalog (best effort: a port that cannot be bound is logged).
  net::awaitable<gateway_result<std::uint32_t>> virtual_ip(const gateway_target& t);

  // Held for the life of one proxied client connection (SOCKS or virtual
  // IP); at most max_connections exist at once.
  class slot {
   public:
    explicit slot(std::shared_ptr<std::size_t> count) : count_(std::move(count)) { ++*count_; }
    slot(slot&& o) noexcept = default;
    slot& operator=(slot&&) = delete;
    ~slot() {
      if (count_) --*count_;
    }

   private:
    std::shared_ptr<std::size_t> count_;
  };
  std::optional<slot> try_acquire();
  std::size_t active_connections() const { return *active_; }

  const gateway_config& settings() const { return cfg_; }
  net::host& host() { return host_; }
  std::size_t listener_count() const { return listeners_.size(); }
  void stop();

 private:
  struct cached_catalog {
    net::steady_clock::time_point fetched;
    std::vector<gateway_service> services;
  };

  net::awaitable<gateway_result<std::vector<gateway_service>>> catalog(const peer_id& peer,
                                                                       bool refresh);
  net::awaitable<gateway_result<std::optional<gateway_target>>> try_name(const std::string& name,
                                                                         const std::string& shown,
                                                                         bool in_zone);
  void listen_on(std::uint32_t ip, std::uint16_t port);
  net::awaitable<void> accept_loop(net::tcp::acceptor& acceptor, std::uint32_t ip,
                                   std::uint16_t port);
  net::awaitable<void> serve_virtual(net::tcp::socket socket, std::uint32_t ip, std::uint16_t port,
                                     slot held);

  net::host& host_;
  gateway_config cfg_;
  std::shared_ptr<peer_directory> dir_;
  virtual_ips ips_;
  std::map<peer_id, cached_catalog> catalogs_;
  std::map<std::pair<std::uint32_t, std::uint16_t>, std::unique_ptr<net::tcp::acceptor>> listeners_;
  std::shared_ptr<std::size_t> active_ = std::make_shared<std::size_t>(0);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// A short text for logs: "host unreachable: ..." etc.
std::string to_string(const gateway_error& e);

}  // namespace peerup::app
