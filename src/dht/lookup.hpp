// The iterative lookup (libp2p specs kad-dht/README.md, "Peer routing"), as a
// sans-I/O state machine. The driver:
//   1. asks next(now) for peers to query (at most alpha in flight) and sends
//      each a request (FIND_NODE, GET_PROVIDERS or GET_VALUE; the machine does
//      not care which);
//   2. reports each answer with on_response(peer, closer peers) or a failure
//      with on_failure(peer); a request older than `request_timeout` counts as
//      failed at the next call to next(now);
//   3. stops when done(): the k closest peers seen have all answered, or no
//      candidate is left. result() is those peers, closest first.
// A GET_VALUE or GET_PROVIDERS driver may also stop early once it has what it
// needs (a quorum of values, enough providers).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <vector>

#include "dht/key.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::dht {

struct lookup_config {
  std::size_t k = 20;      // answers wanted from the closest peers
  std::size_t alpha = 10;  // requests in flight (go and js default)
  std::chrono::steady_clock::duration request_timeout = std::chrono::seconds(10);
  // SECURITY: candidates kept; farther ones are forgotten, so peers that answer
  // with many far-away contacts cannot grow the lookup without bound.
  std::size_t max_candidates = 200;
};

struct lookup_peer {
  peer_id id;
  std::vector<multiaddr> addrs;
};

struct lookup_stats {
  std::size_t requests = 0;   // requests handed out by next()
  std::size_t responses = 0;  // answers received
  std::size_t failures = 0;   // failures and timeouts
};

class lookup {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // `seeds` come from the routing table. `self` is never queried or returned.
  lookup(const kad_key& target, const peer_id& self, const std::vector<lookup_peer>& seeds,
         lookup_config cfg = {});

  // Peers to query now; each is marked in flight.
  std::vector<lookup_peer> next(time_point now);
  // An answer from `from`, with the closer peers it named. Answers from peers
  // not in flight (late, after a timeout, or never asked) are ignored.
  void on_response(const peer_id& from, const std::vector<lookup_peer>& closer);
  void on_failure(const peer_id& from);

  bool done() const;
  std::size_t in_flight() const { return in_flight_; }
  // The k closest peers that answered, closest first.
  std::vector<lookup_peer> result() const;
  const lookup_stats& stats() const { return stats_; }
  // Hops to the closest peer that answered: the seeds are hop 1, a peer first
  // learned from a hop-h peer's answer is hop h+1. 0 when none answered.
  std::size_t hops() const;
  const kad_key& target() const { return target_; }

 private:
  enum class state { waiting, in_flight, answered, failed };
  struct candidate {
    lookup_peer peer;
    state st = state::waiting;
    std::size_t hop = 1;
    time_point sent{};
  };
  void add(const lookup_peer& p, std::size_t hop);
  candidate* find(const peer_id& id);

  kad_key target_;
  peer_id self_;
  lookup_config cfg_;
  std::map<distance, candidate> candidates_;  // closest first
  std::size_t in_flight_ = 0;
  lookup_stats stats_;
};

}  // namespace peerup::dht
