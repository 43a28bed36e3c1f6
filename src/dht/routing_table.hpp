// The Kademlia routing table: k-buckets by common prefix length with our own
// key (libp2p specs kad-dht/README.md, "Kademlia routing table"). Sans-I/O:
// the caller says what it saw (a server-mode peer, a useful answer, a
// failure) and passes `now`; the table decides what it keeps.
//
// Policy, chosen for resistance to one party flooding the table:
//  - a full bucket keeps its old members (long-lived peers are the reliable
//    ones, as in the Kademlia paper); a newcomer replaces only a member that
//    has been silent for longer than `stale_after`, or one that failed
//    `max_failures` queries in a row (then it is removed at once);
//  - IP diversity: at most `max_per_group_per_bucket` members of one bucket and
//    `max_per_group` of the whole table share an IP group (an IPv4 /16 or an
//    IPv6 /32, as go-libp2p's peer diversity filter groups them). Peers whose
//    addresses are all non-global (loopback, RFC 1918, CGNAT, link-local,
//    ULA) are exempt: a private peer-up network lives on such addresses.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "dht/key.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::dht {

using clock = std::chrono::steady_clock;

struct routing_config {
  std::size_t k = 20;  // bucket size, the spec's replication parameter
  std::size_t max_per_group_per_bucket = 2;
  std::size_t max_per_group = 10;
  clock::duration stale_after = std::chrono::hours(1);
  unsigned max_failures = 3;
  // SECURITY: addresses kept per entry (a peer may announce dozens).
  std::size_t max_addrs = 8;
};

struct routing_entry {
  peer_id id;
  kad_key key;
  std::vector<multiaddr> addrs;
  std::optional<std::string> group;  // IP diversity group; none when exempt
  clock::time_point added;
  clock::time_point last_seen;  // last answer or inbound query from it
  unsigned failures = 0;        // consecutive failed queries
};

enum class add_outcome {
  added,              // new member
  updated,            // already a member: addresses and last_seen refreshed
  replaced_stale,     // took the place of a member silent for stale_after
  bucket_full,        // bucket full of live members: not added
  diversity_refused,  // too many members from its IP group
  self,               // our own ID
};

// The IP group of a peer for the diversity limits: "v4:a.b" (/16) or
// "v6:xxxx:xxxx" (/32) of its first global IP address; none when it has no
// global address.
std::optional<std::string> ip_group(const std::vector<multiaddr>& addrs);

class routing_table {
 public:
  routing_table(const peer_id& self, routing_config cfg = {});

  // Called for a peer known to run the DHT in server mode (identify lists the
  // protocol, or it answered a query). Clients are never added (spec).
  add_outcome add(const peer_id& id, const std::vector<multiaddr>& addrs, clock::time_point now);
  // A query to `id` got an answer.
  void on_success(const peer_id& id, clock::time_point now);
  // A query to `id` failed or timed out; after max_failures in a row it leaves.
  void on_failure(const peer_id& id);
  bool remove(const peer_id& id);

  const routing_entry* find(const peer_id& id) const;
  // Up to `n` members closest to `target`, closest first.
  std::vector<const routing_entry*> closest(const kad_key& target, std::size_t n) const;

  std::size_t size() const { return size_; }
  // Members per bucket; index = common prefix length with our key.
  std::vector<std::size_t> bucket_sizes() const;
  // The highest non-empty bucket index, or none when empty (bootstrap
  // refreshes buckets 0..this).
  std::optional<std::size_t> deepest_bucket() const;
  const kad_key& self_key() const { return self_key_; }
  const routing_config& config() const { return cfg_; }

 private:
  std::size_t bucket_of(const kad_key& k) const;
  std::size_t group_count(const std::vector<routing_entry>& bucket, const std::string& g) const;

  peer_id self_;
  kad_key self_key_;
  routing_config cfg_;
  std::array<std::vector<routing_entry>, key_bits> buckets_;
  std::size_t size_ = 0;
};

}  // namespace peerup::dht
