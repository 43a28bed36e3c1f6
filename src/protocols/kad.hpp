// The Kademlia DHT over the host (libp2p specs kad-dht/README.md): the
// stream handler a server-mode node installs, and the client side that runs
// lookups (src/dht/lookup) with real requests.
//
// Modes (spec, "Client and server mode"): a server advertises the protocol
// (identify lists the handlers the host has) and answers; a client neither
// advertises nor answers, and is never put into routing tables. Only peers
// that answered one of our queries, or that list the protocol in identify,
// enter our table.
//
// Not yet here: GET_VALUE/PUT_VALUE records (a GET_VALUE is answered with
// closer peers only; a PUT_VALUE is refused by resetting the stream), and the
// persistence of the routing table across restarts.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dht/lookup.hpp"
#include "dht/provider_store.hpp"
#include "dht/routing_table.hpp"
#include "net/host.hpp"
#include "wire/kad_message.hpp"

namespace peerup::protocols {

struct kad_config {
  // "/peerup/kad/1.0.0": a private peer-up DHT. "/ipfs/kad/1.0.0" joins Amino.
  std::string protocol{wire::kad_peerup_protocol_id};
  bool server = true;
  dht::routing_config routing;
  dht::lookup_config lookup;
  dht::provider_limits providers;
  // SECURITY: an inbound stream serves at most this many requests, each
  // within `request_timeout` of the previous answer.
  std::size_t max_requests_per_stream = 64;
  net::steady_clock::duration request_timeout = std::chrono::seconds(10);
  // A closed network answers only the peers this accepts (e.g. authorized
  // keys); empty: everyone.
  std::function<bool(const peer_id&)> may_query;
};

struct kad_stats {
  std::uint64_t requests_served = 0;   // inbound requests answered
  std::uint64_t requests_refused = 0;  // inbound requests refused (closed network, PUT_VALUE, bad)
  std::uint64_t requests_sent = 0;     // outbound requests
  std::uint64_t requests_failed = 0;   // outbound requests that failed or timed out
  std::uint64_t lookups = 0;
};

// The outcome of one lookup, for status and benchmarks.
struct kad_lookup_result {
  std::vector<dht::lookup_peer> closest;  // the k closest that answered
  dht::lookup_stats stats;
  std::size_t hops = 0;
};

class kad_node {
 public:
  // Installs the handler when cfg.server. The host must outlive the node.
  kad_node(net::host& h, kad_config cfg);
  ~kad_node();
  kad_node(const kad_node&) = delete;
  kad_node& operator=(const kad_node&) = delete;

  // Switches between server and client mode (AutoNAT's verdict decides).
  void set_server(bool on);
  bool server() const { return cfg_.server; }

  // A DHT server we were told about (bootstrap peers from the config).
  void add_server(const peer_id& id, const std::vector<multiaddr>& addrs);
  const dht::routing_table& table() const { return table_; }
  const dht::provider_store& providers() const { return providers_; }
  const kad_stats& stats() const { return stats_; }

  // The spec's bootstrap: a lookup of our own ID, then of a random key in
  // each bucket up to the deepest non-empty one.
  // Contract (all coroutines below): run on the host's executor; never fail
  // as a whole; a peer that does not answer only shortens the result.
  net::awaitable<void> bootstrap();
  // FIND_NODE lookup: the k closest servers to `key` (hashed with SHA-256).
  net::awaitable<kad_lookup_result> closest_peers(bytes key);
  // Addresses of `id`, from the table or a lookup; empty when not found.
  net::awaitable<std::vector<multiaddr>> find_peer(peer_id id);
  // ADD_PROVIDER for `key` (a multihash) on the k closest servers; returns
  // how many of them took the request.
  net::awaitable<std::size_t> provide(bytes key);
  // GET_PROVIDERS lookup; stops once `want` providers are known.
  net::awaitable<std::vector<dht::provider>> find_providers(bytes key, std::size_t want);

 private:
  struct lookup_run;
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  // The answer to one request, or nothing (ADD_PROVIDER has no answer).
  std::optional<wire::kad_message> answer(const wire::kad_message& req, const peer_id& from);
  std::vector<wire::kad_peer> closer_peers(const dht::kad_key& target, const peer_id& asker) const;
  // Runs `req` as a lookup toward `target`; `on_answer` sees every answer and
  // returns true to stop early.
  net::awaitable<kad_lookup_result> run_lookup(
      dht::kad_key target, wire::kad_message req,
      std::function<bool(const peer_id&, const wire::kad_message&)> on_answer);
  void note_server(const peer_id& id, const std::vector<multiaddr>& addrs);

  net::host& host_;
  kad_config cfg_;
  protocol_id proto_;
  dht::routing_table table_;
  dht::provider_store providers_;
  kad_stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// One request/response exchange with `to` (dialing its addresses if needed).
// ADD_PROVIDER is sent without waiting for an answer (none comes) and yields
// an empty message. Fails with the dial, stream or decode error, or
// errc::timeout after `timeout`.
net::awaitable<result<wire::kad_message>> kad_request(net::host& h, protocol_id proto,
                                                      dht::lookup_peer to, wire::kad_message req,
                                                      net::steady_clock::duration timeout);

}  // namespace peerup::protocols
