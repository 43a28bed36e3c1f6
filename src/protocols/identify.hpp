// libp2p identify (/ipfs/id/1.0.0) and identify push (/ipfs/id/push/1.0.0).
//
// On every new connection we ask the peer who it is: its listen addresses
// go into the peer store, the address it saw us at is recorded (the seed of
// address discovery for hole punching), and its protocols are remembered.
#pragma once

#include <functional>

#include <unordered_map>

#include "net/host.hpp"
#include "net/signal.hpp"
#include "wire/identify_message.hpp"

namespace peerup::protocols {

inline const protocol_id identify_protocol{std::string(wire::identify_protocol_id)};
inline const protocol_id identify_push_protocol{std::string(wire::identify_push_protocol_id)};
inline constexpr std::string_view libp2p_protocol_version = "ipfs/0.1.0";

struct identify_info {
  peer_id peer;
  std::vector<multiaddr> listen_addrs;
  std::vector<std::string> protocols;
  std::optional<multiaddr> observed_addr;
  std::string agent_version;
  std::string protocol_version;
};

class identify_service {
 public:
  // Registers both handlers on `h` and identifies every new connection.
  explicit identify_service(net::host& h);
  ~identify_service();
  identify_service(const identify_service&) = delete;
  identify_service& operator=(const identify_service&) = delete;

  // The peer's answer on `conn`. Every connection is identified once, when it
  // opens (peers such as js-libp2p allow one identify stream per
  // connection); this waits for that exchange or returns its result.
  net::awaitable<result<identify_info>> identify(const net::connection_ptr& conn);
  // Sends our current identify to every connected peer (after address changes).
  void push_all();

  // Connections whose exchange is remembered: the open ones.
  std::size_t tracked_connections() const { return exchanges_.size(); }

  // Called after each successful identify (e.g. for address discovery).
  void on_identified(std::function<void(const net::connection_ptr&, const identify_info&)> f) {
    listeners_.push_back(std::move(f));
  }

 private:
  wire::identify_message build(const net::connection& conn) const;
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  net::awaitable<void> serve_push(net::stream_ptr s, net::stream_context ctx);
  result<identify_info> record(const net::connection_ptr& conn, const wire::identify_message& m);

  net::awaitable<result<identify_info>> exchange(net::connection_ptr conn);
  net::awaitable<result<identify_info>> ask(const net::connection_ptr& conn);

  struct exchange_state {
    explicit exchange_state(net::asio::any_io_executor ex) : done(ex) {}
    std::weak_ptr<net::connection> conn;
    std::optional<result<identify_info>> outcome;
    net::signal done;
  };
  std::shared_ptr<exchange_state> state_for(const net::connection_ptr& conn);

  net::host& host_;
  std::unordered_map<const net::connection*, std::shared_ptr<exchange_state>> exchanges_;
  std::vector<std::function<void(const net::connection_ptr&, const identify_info&)>> listeners_;
  // The host's close observer outlives us: it checks this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::protocols
