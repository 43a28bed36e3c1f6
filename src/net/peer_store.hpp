// What we know about other peers: addresses (from config, identify and
// dials), public keys, supported protocols and agent. Bounded per peer and in
// total, because identify lets any peer push data into it.
//
// Policy (close to go-libp2p's peerstore and its pstoremanager):
// - a connected peer's entry stays while it is connected (the host reports
//   connected() and disconnected());
// - at its disconnect its protocols and agent go (identify learns them
//   again on every connection), its addresses and observed address stay
//   for disconnected_ttl (go-libp2p's RecentlyConnectedAddrTTL), so it can
//   be redialed; an entry with nothing left goes at once;
// - a peer known only from a dial, kad or a resolver (never connected)
//   counts as disconnected from the moment it was added;
// - kept peers (keep(): addresses from our configuration) never go;
// - when the table is full, a new peer takes the place of the least
//   recently used disconnected peer; only when every entry is connected or
//   kept is the new one not recorded.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::net {

struct peer_info {
  std::vector<multiaddr> addrs;
  std::vector<std::string> protocols;
  std::string agent_version;
  std::optional<multiaddr> observed_addr;  // how this peer saw us
};

class peer_store {
 public:
  using clock = std::chrono::steady_clock;

  static constexpr std::size_t max_addrs_per_peer = 32;
  static constexpr std::size_t max_protocols_per_peer = 128;
  // SECURITY: identify, kad and dials let remote peers create entries: at
  // most this many. Past it the least recently used disconnected peer makes
  // room (a flood of new peers cannot lock out the ones that follow, nor
  // push out a connected or configured one).
  static constexpr std::size_t max_peers = 10000;
  // How long a disconnected peer's addresses stay (go-libp2p's
  // RecentlyConnectedAddrTTL): long enough to redial it, short enough that
  // a relay whose crowd left forgets it.
  static constexpr clock::duration disconnected_ttl = std::chrono::minutes(10);

  // `now` is the clock of the TTL and of "least recently used" (tests pass
  // their own).
  explicit peer_store(std::function<clock::time_point()> now = clock::now);
  // idle_ points into peers_: no copies.
  peer_store(const peer_store&) = delete;
  peer_store& operator=(const peer_store&) = delete;

  // The host's view of connections: called when a peer's first connection
  // opens and when its last one closes (repeats are harmless).
  void connected(const peer_id& p);
  void disconnected(const peer_id& p);
  // Never evicted nor expired: peers from our configuration (e.g. TUN
  // network members), so a bound of their own. False when the table is full
  // of connected and kept peers.
  bool keep(const peer_id& p);

  void add_addr(const peer_id& p, const multiaddr& a);
  void add_addrs(const peer_id& p, const std::vector<multiaddr>& addrs);
  // Protocols and agent are recorded for connected peers only (identify).
  void set_protocols(const peer_id& p, std::vector<std::string> protocols);
  void set_agent(const peer_id& p, std::string agent);
  void set_observed_addr(const peer_id& p, multiaddr a);
  const peer_info* find(const peer_id& p) const;
  std::vector<multiaddr> addrs(const peer_id& p) const;

  // Drops disconnected peers unused for disconnected_ttl; returns how many.
  // The host calls it from its idle loop; a new peer in a full table too.
  std::size_t expire();
  std::size_t size() const { return peers_.size(); }
  // Entries of connected peers.
  std::size_t connected_count() const { return connected_; }

 private:
  struct entry {
    peer_info info;
    bool connected = false;
    bool kept = false;
    clock::time_point used{};  // last connect, disconnect or write while disconnected
    // Position in idle_ while neither connected nor kept.
    std::list<const peer_id*>::iterator idle_pos{};
  };
  using table = std::unordered_map<peer_id, entry>;

  // The entry of `p`, made (evicting if full) when absent; null when the
  // table is full of connected and kept peers.
  entry* slot(const peer_id& p);
  // A write to an idle peer counts as a use: it goes to the back of idle_.
  void touch(entry& e);
  void make_idle(table::iterator it);
  void erase(table::iterator it);

  std::function<clock::time_point()> now_;
  table peers_;
  // Disconnected, unkept peers, least recently used first: the eviction
  // order and (their `used` ascending) the expiry order. The pointers are
  // the table's keys (unordered_map nodes do not move).
  std::list<const peer_id*> idle_;
  std::size_t connected_ = 0;
};

}  // namespace peerup::net
