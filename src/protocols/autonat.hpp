// AutoNAT v1 (/libp2p/autonat/1.0.0, specs autonat/autonat-v1.md) over the
// host: a server that dials requesters back (the relay runs one for its
// authorized peers), and the client request.
#pragma once

#include <functional>

#include "net/host.hpp"
#include "protocols/autonat_policy.hpp"
#include "wire/autonat_message.hpp"

namespace peerup::protocols {

inline const protocol_id autonat_protocol{std::string(wire::autonat_protocol_id)};

struct autonat_server_config {
  autonat_server_limits limits;
  // Who may ask (the relay: its authorized peers). Empty: everyone.
  std::function<bool(const peer_id&)> may_ask;
  net::steady_clock::duration dial_timeout = std::chrono::seconds(15);
  net::steady_clock::duration message_timeout = std::chrono::seconds(10);
  // SECURITY: dial-backs in flight at once; more requests are refused.
  std::size_t max_concurrent = 8;
};

struct autonat_server_stats {
  std::uint64_t requests = 0, dialed_ok = 0, dial_errors = 0, refused = 0;
};

class autonat_server {
 public:
  // Installs the handler on `h`. The host must outlive the server.
  autonat_server(net::host& h, autonat_server_config cfg);
  ~autonat_server();
  autonat_server(const autonat_server&) = delete;
  autonat_server& operator=(const autonat_server&) = delete;
  const autonat_server_stats& stats() const { return stats_; }

 private:
  // 1. refuse relayed connections, peers not allowed, and over-limit requests
  // 2. read DIAL; the peer ID in it must be the requester's
  // 3. dial back (new connection, fresh port) the observed address and the
  //    requested ones on the observed IP, one after the other
  // 4. answer OK with the address that worked, or E_DIAL_ERROR
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  net::awaitable<wire::autonat_message> handle(net::byte_stream& s, const net::stream_context& ctx);

  net::host& host_;
  autonat_server_config cfg_;
  autonat_rate_limiter limiter_;
  std::size_t in_flight_ = 0;
  autonat_server_stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

struct autonat_answer {
  autonat_verdict verdict = autonat_verdict::no_verdict;
  std::optional<multiaddr> addr;  // the address the server reached
  std::string text;               // the server's status text or status
};

// Asks the server on `conn` to dial `addrs` back.
// 1. open an autonat stream, send DIAL with our peer ID and `addrs`
// 2. read the DIAL_RESPONSE (bounded by `timeout`) and map its status
// Contract: runs on the host's executor. Fails only when the exchange
// itself failed; a refusal is an answer with no_verdict.
net::awaitable<result<autonat_answer>> autonat_ask(
    net::host& h, const net::connection_ptr& conn, const std::vector<multiaddr>& addrs,
    net::steady_clock::duration timeout = std::chrono::seconds(30));

}  // namespace peerup::protocols
