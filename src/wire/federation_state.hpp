// Sans-I/O core of relay federation (docs/federation.md): the peerings a
// relay has, who may ask whom (trust levels), the checks a signed name record
// must pass, the cache of answers from peer relays (fresh, then stale while a
// peer relay is down), the refresh list, and per-peer-relay token buckets.
// The I/O layer asks this class and writes what it says; it reads no clock
// (steady `now` for the cache and buckets, unix seconds for record validity).
//
// Policy:
// - A relay answers a federation LOOKUP from its own registry only, never
//   from this cache and never by asking another relay: loops cannot form.
// - Trust is read from our side. full: we answer them and ask them. one_way:
//   we answer them (their members reach our hosts) and never ask them.
// - A record counts only when signed by the peer ID configured for its
//   network, for the network and host that were asked.
// SECURITY: the cache holds at most max_cache names (the one expiring first
// is evicted); lookups per peer relay are bounded by a bucket each way.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/federation_message.hpp"

namespace peerup::wire {

enum class federation_trust { full, one_way };
std::string_view to_string(federation_trust t);
// "full" or "one_way"; errc::invalid_argument otherwise.
result<federation_trust> parse_federation_trust(std::string_view text);

struct federation_peering {
  dns_label network;
  multiaddr relay;  // ends in /p2p/<relay_peer>
  peer_id relay_peer;
  federation_trust trust = federation_trust::full;

  // errc::invalid_argument when `relay` has no /p2p/ component.
  static result<federation_peering> make(dns_label network, multiaddr relay,
                                         federation_trust trust);
  bool operator==(const federation_peering&) const = default;
};

struct federation_limits {
  std::chrono::seconds cache_ttl{300};    // fresh time of a positive answer
  std::chrono::seconds stale_ttl{3600};   // served past fresh while the peer is down
  std::chrono::seconds negative_ttl{30};  // "not registered" answers
  std::size_t max_cache = 4096;
  std::uint32_t lookups_per_second = 20;  // per peer relay and direction, burst x2
  std::chrono::seconds clock_skew{60};    // allowed between relays' wall clocks
  // Connections across networks: how long a "yes, a member of N" from a
  // peer relay lets that peer open circuits here without asking again (also
  // how long a removal from N's authorized_keys takes to reach us), and how
  // many peer relays one CONNECT from an unknown peer may cause us to ask.
  std::chrono::seconds member_ttl{120};  // relay.yaml federation.member_ttl, 10 to 3600
  std::size_t max_member_asks = 8;
  // SECURITY: CONNECTs from peers we have no cached answer for, per remote
  // IP and minute (burst the same): each costs a round of MEMBER asks, so
  // fresh peer IDs from one address cannot drain the peerings' buckets.
  std::uint32_t unknown_connects_per_ip = 10;
  std::size_t max_ip_buckets = 4096;
  // The forwarded path: circuits through one peer relay (both ways
  // together; 0: no forwarded circuits), and each forwarded circuit's
  // duration and data per direction (0: none beyond the relay's limits).
  std::size_t max_forwarded = 32;
  std::chrono::seconds forwarded_duration{3600};
  std::uint64_t forwarded_data = std::uint64_t{1} << 30;
};

class federation_state {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  federation_state(dns_label own_network, federation_limits limits);

  // errc::invalid_argument (with `why` set) for our own network, or a
  // network or relay peer ID that another peering already has.
  result<void> add_peering(federation_peering p, std::string* why = nullptr);
  // Drops the peering, its cache entries and its state; false when absent.
  bool remove_peering(const dns_label& network);
  // Replaces every peering (a config reload). Peerings that are unchanged
  // keep their cache and state; the others start empty. The same checks as
  // add_peering; on error nothing changes.
  result<void> set_peerings(std::vector<federation_peering> all, std::string* why = nullptr);

  const federation_peering* peering(const dns_label& network) const;
  const federation_peering* peering_of(const peer_id& relay) const;
  std::vector<federation_peering> peerings() const;
  const dns_label& own_network() const { return own_; }
  const federation_limits& limits() const { return limits_; }

  // Outbound: may our members resolve `<host>.<network>` through its relay?
  // errc::federation_not_peered, errc::federation_not_trusted (one_way).
  result<const federation_peering*> may_ask(const dns_label& network) const;

  // Inbound: what to answer `from` (the Noise-authenticated peer of the
  // stream) before looking at our registry. ok means: answer from the
  // registry. Counts against `from`'s bucket.
  federation_status check_request(const peer_id& from, const federation_request& req,
                                  time_point now);

  // An answer to our LOOKUP of `<host>.<network>`: the record must be signed
  // by that network's relay, name that network and host, and be valid at
  // `now_unix`. errc::federation_not_peered, federation_record_signer,
  // federation_wrong_network, federation_malformed_message (other host),
  // federation_record_expired, or open_name_record's errors.
  result<name_record_body> verify_record(const dns_label& network, const dns_label& host,
                                         byte_span envelope, std::uint64_t now_unix) const;

  // Cache. An answer is `fresh` until min(cache_ttl, the record's time left),
  // then `stale` for stale_ttl; "not registered" is fresh for negative_ttl
  // and never stale.
  enum class freshness { fresh, stale };
  struct cached_answer {
    std::optional<name_record_body> record;  // nullopt: not registered
    freshness state = freshness::fresh;
  };
  // Marks the entry used (for refresh). nullopt when absent or too old.
  std::optional<cached_answer> cached(const dns_label& network, const dns_label& host,
                                      time_point now);
  // Stores a verified record; ignored when the network is not a peering.
  void store(const name_record_body& record, time_point now, std::uint64_t now_unix);
  void store_not_found(const dns_label& network, const dns_label& host, time_point now);

  // Before asking a peer relay: false when our outbound bucket for it is empty.
  bool take_outbound_token(const dns_label& network, time_point now);
  // Positive entries used within cache_ttl whose fresh time is half gone:
  // ask them again so a working set never goes cold.
  std::vector<std::pair<dns_label, dns_label>> due_for_refresh(time_point now) const;
  // Drops entries past their stale time; returns how many.
  std::size_t expire(time_point now);
  std::size_t cache_size() const { return cache_.size(); }

  // Connections across networks (MEMBER requests). A peer that a peer relay
  // confirmed is cached as a member of that network for member_ttl; a peer
  // no peer relay claimed is cached as a stranger for negative_ttl. A
  // peering that changes or goes drops its members at once, and every
  // change of peerings forgets the strangers (a new peering may claim them).
  // SECURITY: at most max_cache entries; the one expiring first is evicted.
  struct member_answer {
    std::optional<dns_label> network;  // nullopt: a stranger
  };
  std::optional<member_answer> cached_member(const peer_id& p, time_point now) const;
  void store_member(const peer_id& p, std::optional<dns_label> network, time_point now);
  std::size_t member_cache_size() const { return members_.size(); }
  // The peerings to ask about an unknown peer: those up first, at most
  // max_member_asks.
  std::vector<federation_peering> member_ask_order() const;
  // Before asking about an unknown peer that CONNECTed from `ip`: false when
  // that IP's bucket (unknown_connects_per_ip a minute) is empty.
  // SECURITY: at most max_ip_buckets IPs; the one idle longest goes first.
  bool take_unknown_ip_token(std::string_view ip, time_point now);
  std::size_t ip_bucket_count() const { return ip_buckets_.size(); }

  // The forwarded path (docs/federation.md): the peering to forward a
  // member's CONNECT for `target` to: a network our members may reach (trust
  // full) whose relay signed a record for that peer ID that we hold (fresh
  // or stale). nullptr otherwise.
  const federation_peering* forward_route(const peer_id& target, time_point now) const;

  // Peering state for `peerup relay federation list`.
  void mark_up(const dns_label& network, time_point now);
  void mark_down(const dns_label& network, std::string why);
  struct peering_status {
    bool up = false;  // the last exchange succeeded
    std::optional<time_point> last_ok;
    std::string last_error;
    std::size_t names_known = 0;  // cache entries with a record
  };
  std::optional<peering_status> status(const dns_label& network) const;
  // "network bob unreachable (relay /ip4/...): <why>"
  std::string unreachable_message(const dns_label& network, std::string_view why) const;

 private:
  struct bucket {
    double tokens = 0;
    std::optional<time_point> last;
  };
  struct peer_entry {
    federation_peering peering;
    bucket inbound, outbound;
    bool up = false;
    std::optional<time_point> last_ok;
    std::string last_error;
  };
  struct cache_entry {
    std::optional<name_record_body> record;
    time_point stored;
    time_point fresh_until;
    time_point stale_until;
    time_point last_used;
  };
  using cache_key = std::pair<dns_label, dns_label>;  // network, host

  result<void> check_new(const federation_peering& p, const std::map<dns_label, peer_entry>& in,
                         std::string* why) const;
  bool take(bucket& b, time_point now) const;
  void put(cache_key key, cache_entry e, time_point now);
  void drop_network(const dns_label& network);

  dns_label own_;
  federation_limits limits_;
  std::map<dns_label, peer_entry> peers_;
  std::map<cache_key, cache_entry> cache_;
  struct member_entry {
    std::optional<dns_label> network;
    time_point until;
  };
  std::map<peer_id, member_entry> members_;
  std::map<std::string, bucket, std::less<>> ip_buckets_;
};

}  // namespace peerup::wire
