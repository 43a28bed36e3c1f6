// Addresses of the TUN network mode: each node's 10.64.x.y (and ULA IPv6)
// address is derived from its peer ID, so both ends agree with no
// coordinator (docs/network-mode.md, "Addresses").
//
// Derivation: candidate k of a peer (k = 0, 1, ...) is
//   SHA-256("peerup/ip/1.0.0 v4" || k || peer ID bytes), first 4 bytes, as a
//   host number in 1 .. size-2 of the prefix (never the network or the
//   broadcast address);
// and the IPv6 address is the /48 prefix, subnet 0, and 64 bits of
//   SHA-256("peerup/ip/1.0.0 v6" || peer ID bytes) as the interface ID.
//
// Collisions (two peers on one IPv4 candidate; in a /16 about 1 in 65,000 per
// pair) resolve deterministically: pinned addresses are placed first; then,
// round by round (k = 0, 1, ...), every peer still without an address takes
// its candidate k if it is free, in ascending order of peer ID bytes. So the
// peer with the smaller ID keeps a contested address and the other moves to
// its next candidate. Nodes that know different peer sets can still disagree;
// each peer therefore announces its own address when it opens a
// /peerup/ip/1.0.0 stream, and accept_announcement() takes it when it is one
// of that peer's own candidates (or our pin for it) and nobody else holds it.
#pragma once

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "multiformats/peer_id.hpp"
#include "tun/core/ip_packet.hpp"

namespace peerup::tun {

// Orders peer IDs by their bytes. (Not peer_id's defaulted <=>: GCC 12
// inlines its std::vector comparison into a false -Wstringop-overread.)
struct peer_less {
  bool operator()(const peer_id& a, const peer_id& b) const {
    const auto& x = a.to_bytes();
    const auto& y = b.to_bytes();
    const int c = x.empty() || y.empty()
                      ? 0
                      : std::memcmp(x.data(), y.data(), std::min(x.size(), y.size()));
    return c < 0 || (c == 0 && x.size() < y.size());
  }
};

// Candidates tried per peer before giving up (the chance that 16 candidates
// are all taken in a /16 with 1,000 peers is below 10^-30).
inline constexpr unsigned max_candidates = 16;

// Candidate `k` of `peer` in `prefix` (IPv4, length 8..30).
ip_address derive_v4(const peer_id& peer, const ip_prefix& prefix, unsigned k);
// The peer's IPv6 address in `prefix` (IPv6, length at most 64).
ip_address derive_v6(const peer_id& peer, const ip_prefix& prefix);

// The default IPv6 prefix: ULA fd70:6565:7275::/48 ("peeru" in ASCII).
ip_prefix default_prefix6();

struct member {
  peer_id peer;
  std::optional<ip_address> pin;  // IPv4 pinned in the config
};

class address_book {
 public:
  // `self` and `peers` are placed as the header describes; duplicates of a
  // pin are rejected by the config loader, and if they reach us anyway the
  // first (self, then config order) wins.
  address_book(ip_prefix prefix4, ip_prefix prefix6, const member& self,
               const std::vector<member>& peers);

  const ip_address& self_v4() const { return self_v4_; }
  const ip_address& self_v6() const { return self_v6_; }
  const ip_prefix& prefix4() const { return prefix4_; }
  const ip_prefix& prefix6() const { return prefix6_; }

  std::optional<ip_address> v4_of(const peer_id& peer) const;
  std::optional<ip_address> v6_of(const peer_id& peer) const;
  // The peer that owns `addr` (IPv4 or IPv6), if any. Our own address is not
  // a peer's.
  std::optional<peer_id> peer_at(const ip_address& addr) const;
  bool is_self(const ip_address& addr) const { return addr == self_v4_ || addr == self_v6_; }

  enum class announcement { unchanged, moved, refused };
  // `peer` says its IPv4 address is `addr`. Accepted (and the peer moved
  // there) when `addr` is in the prefix, is one of the peer's candidates or
  // our pin for it, and no other peer (nor we) holds it. A refused
  // announcement leaves the book as it was: packets from that address are
  // then dropped as spoofed.
  announcement accept_announcement(const peer_id& peer, const ip_address& addr);

  // Every peer and its IPv4 address, for status and DNS.
  const std::map<peer_id, ip_address, peer_less>& peers_v4() const { return v4_; }

 private:
  ip_prefix prefix4_, prefix6_;
  peer_id self_;
  ip_address self_v4_, self_v6_;
  std::map<peer_id, ip_address, peer_less> v4_;
  std::map<ip_address, peer_id> by_addr_;  // IPv4 and IPv6 of every peer
  std::map<peer_id, ip_address, peer_less> pins_;
};

}  // namespace peerup::tun
