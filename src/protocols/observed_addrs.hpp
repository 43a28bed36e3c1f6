// Our public addresses as other peers see them (identify's observedAddr).
// Sans-I/O: callers pass `now`.
//
// An address counts as confirmed when at least `min_observers` distinct
// peers report it over direct connections, or one peer does and AutoNAT
// dialed it back. Confirmed addresses are announced (identify). Hole
// punching offers every fresh observation, confirmed first: behind a NAT
// with a single relay, the relay is the only observer, and its report is
// exactly the mapping a hole punch needs.
#pragma once

#include <chrono>
#include <optional>
#include <unordered_map>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::protocols {

struct observed_addrs_config {
  std::size_t min_observers = 2;
  // SECURITY: observers come in through identify, so the table is bounded:
  // this many observers (least recently heard from evicted first), each
  // with at most one address per IP family, and as many AutoNAT results.
  std::size_t max_observers = 256;
  std::size_t max_dialable = 32;
  std::chrono::steady_clock::duration ttl = std::chrono::minutes(30);
};

// /ip4|ip6/<ip>/tcp/<port> without /p2p, the form we track; nullopt for
// anything else (relay circuits, DNS, other transports).
std::optional<multiaddr> normalize_observed(const multiaddr& a);

class observed_addr_table {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  explicit observed_addr_table(observed_addrs_config cfg = {}) : cfg_(cfg) {}

  // `observer` saw us at `addr` on a direct connection. Returns true when
  // the confirmed set changed.
  bool record(const peer_id& observer, const multiaddr& addr, time_point now);
  // AutoNAT dialed `addr` back successfully.
  bool record_dialable(const multiaddr& addr, time_point now);
  // Drops entries older than the TTL (they already count as absent); returns
  // how many. Callers compare confirmed() with what they announced.
  std::size_t expire(time_point now);

  std::vector<multiaddr> confirmed(time_point now) const;
  // Everything fresh: confirmed first, then by number of observers.
  std::vector<multiaddr> candidates(time_point now) const;
  std::size_t observers() const { return by_observer_.size(); }

 private:
  struct observation {
    multiaddr addr;
    time_point seen;
  };
  std::size_t observer_count(const multiaddr& a, time_point now) const;
  bool fresh(time_point seen, time_point now) const { return now - seen < cfg_.ttl; }

  observed_addrs_config cfg_;
  std::unordered_map<peer_id, std::vector<observation>> by_observer_;
  std::unordered_map<multiaddr, time_point> dialable_;
};

}  // namespace peerup::protocols
