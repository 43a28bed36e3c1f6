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
// Records (GET_VALUE/PUT_VALUE): one record type, the signed peer record of
// wire/peer_record.hpp under peer_record_key(peer), validated by
// dht::record_store. A node publishes its own record at every refresh and
// when its addresses change (publish_soon); find_peer_record resolves a peer
// ID to the addresses its owner signed.
//
// The routing table survives restarts through export_table/import_table
// (the daemon keeps them in <config dir>/dht_peers, dht/table_file.hpp).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dht/lookup.hpp"
#include "dht/provider_store.hpp"
#include "dht/record_store.hpp"
#include "dht/routing_table.hpp"
#include "dht/table_file.hpp"
#include "net/host.hpp"
#include "wire/kad_message.hpp"
#include "wire/peer_record.hpp"

namespace peerup::protocols {

struct kad_config {
  // "/peerup/kad/1.0.0": a private peer-up DHT. "/ipfs/kad/1.0.0" joins Amino.
  std::string protocol{wire::kad_peerup_protocol_id};
  bool server = true;
  dht::routing_config routing;
  dht::lookup_config lookup;
  dht::provider_limits providers;
  dht::record_limits records;
  // SECURITY: an inbound stream serves at most this many requests, each
  // within `request_timeout` of the previous answer.
  std::size_t max_requests_per_stream = 64;
  net::steady_clock::duration request_timeout = std::chrono::seconds(10);
  // SECURITY: inbound requests per peer, a token bucket over all its
  // streams: `request_burst` at once, refilled at `requests_per_second`. A
  // lookup asks one server once or twice, so only a flood hits this.
  double requests_per_second = 20;
  double request_burst = 100;
  std::size_t max_rate_peers = 4096;  // peers tracked; the idlest is forgotten first
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
  std::uint64_t rate_limited = 0;      // inbound requests refused by the per-peer limit
  std::uint64_t records_stored = 0;    // PUT_VALUE records stored or replaced
  std::uint64_t records_published = 0; // servers that took our peer record at the last publish
  std::uint64_t records_corrected = 0; // servers that took a newer record after our GET_VALUE
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
  const dht::record_store& records() const { return records_; }
  const kad_stats& stats() const { return stats_; }
  const kad_config& config() const { return cfg_; }

  // A bootstrap peer: added like add_server, and added again whenever the
  // routing table runs empty (a bootstrap peer that was down comes back).
  void add_bootstrap(const peer_id& id, const std::vector<multiaddr>& addrs);
  // True for peers the DHT talks to: bootstrap peers, table members, and
  // peers a lookup is asking right now. A gater that admits only known
  // peers lets these through (the DHT grants them nothing else).
  bool expects(const peer_id& id) const;

  // The table's members and their addresses, closest to us first, to be
  // written to disk; import_table adds such entries back as servers (through
  // the table's own limits) and returns how many it took.
  std::vector<dht::table_entry> export_table() const;
  std::size_t import_table(const std::vector<dht::table_entry>& entries);

  // Starts the refresh loop: bootstrap now and every `interval`, then
  // publish our peer record (when set_self_addrs was called). stop() ends it.
  void start(std::chrono::seconds interval);
  void stop();
  // Publishes our peer record at the next turn of the refresh loop (our
  // addresses changed: a reservation was made or lost).
  void publish_soon();
  // A key we provide (ADD_PROVIDER) at every turn of the refresh loop, e.g.
  // dht::namespace_key(dht::relay_namespace) on a relay.
  void provide_always(bytes key) { provided_.push_back(std::move(key)); }
  // What our peer record lists; the record is published only once this is set.
  void set_self_addrs(std::function<std::vector<multiaddr>()> f) { self_addrs_ = std::move(f); }

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
  // PUT_VALUE of `value` under `key` on the k closest servers (and in our own
  // store when we are a server); returns how many servers took it. A value
  // our own validator refuses is not sent (returns 0).
  net::awaitable<std::size_t> put_value(bytes key, bytes value);
  // GET_VALUE lookup: the valid record with the highest seq among those the
  // servers hold (the lookup stops after `quorum` valid answers). Then the
  // spec's correction step, in the background: the best record is PUT to the
  // servers that answered with an older or invalid one, and to the closest
  // that had none (dht::correction_targets; kad_stats::records_corrected).
  net::awaitable<std::optional<bytes>> get_value(bytes key, std::size_t quorum = 3);
  // Signs and publishes our peer record with `addrs` (seq: unix microseconds).
  net::awaitable<std::size_t> publish_peer_record(std::vector<multiaddr> addrs);
  // The peer record `id` signed, found through the DHT.
  net::awaitable<std::optional<wire::peer_record>> find_peer_record(peer_id id);

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
  // Takes one token of `from`'s bucket; false when it is empty.
  bool admit(const peer_id& from, net::steady_clock::time_point now);
  void forget_asking(const peer_id& id);
  net::awaitable<void> refresh_loop(std::chrono::seconds interval);
  // PUT_VALUE of `value` to each of `to`, one after the other (bounded: at
  // most k peers, each within the request timeout).
  net::awaitable<void> send_corrections(std::vector<dht::lookup_peer> to, bytes key, bytes value);

  net::host& host_;
  kad_config cfg_;
  protocol_id proto_;
  dht::routing_table table_;
  dht::provider_store providers_;
  dht::record_store records_;
  kad_stats stats_;
  struct bucket {
    double tokens = 0;
    net::steady_clock::time_point last;
  };
  std::map<peer_id, bucket> rate_;
  std::map<peer_id, unsigned> asking_;  // targets of requests in flight, with their count
  std::vector<std::pair<peer_id, std::vector<multiaddr>>> bootstrap_;
  std::function<std::vector<multiaddr>()> self_addrs_;
  std::vector<bytes> provided_;
  std::unique_ptr<net::asio::steady_timer> timer_;
  bool running_ = false;
  bool publish_pending_ = false;
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
