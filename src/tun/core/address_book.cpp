#include "tun/core/address_book.hpp"

#include <algorithm>
#include <set>

#include "crypto/sha256.hpp"

namespace peerup::tun {

namespace {

std::array<std::uint8_t, 32> hash(std::string_view label, std::optional<std::uint8_t> k,
                                  const peer_id& peer) {
  bytes in(label.begin(), label.end());
  if (k) in.push_back(*k);
  append(in, peer.to_bytes());
  return sha256(in);
}

}  // namespace

ip_address derive_v4(const peer_id& peer, const ip_prefix& prefix, unsigned k) {
  const auto h = hash("peerup/ip/1.0.0 v4", static_cast<std::uint8_t>(k), peer);
  const std::uint32_t r = std::uint32_t{h[0]} << 24 | std::uint32_t{h[1]} << 16 |
                          std::uint32_t{h[2]} << 8 | h[3];
  const std::uint64_t size = std::uint64_t{1} << (32 - prefix.length);
  // Host numbers 1 .. size-2: not the network, not the broadcast address.
  const std::uint32_t host = static_cast<std::uint32_t>(1 + r % (size - 2));
  return ip_address::v4(prefix.base.v4_value() + host);
}

ip_address derive_v6(const peer_id& peer, const ip_prefix& prefix) {
  const auto h = hash("peerup/ip/1.0.0 v6", std::nullopt, peer);
  auto b = prefix.base.bytes;
  // Interface ID: the low 64 bits; the subnet bits between the prefix and
  // /64 stay as the prefix has them (zero).
  for (int i = 0; i < 8; ++i) b[8 + i] = h[i];
  // Never the all-zero interface ID (the subnet-router anycast address).
  if (std::all_of(b.begin() + 8, b.end(), [](std::uint8_t x) { return x == 0; })) b[15] = 1;
  return ip_address::v6(b);
}

ip_prefix default_prefix6() { return *ip_prefix::parse("fd70:6565:7275::/48"); }

address_book::address_book(ip_prefix prefix4, ip_prefix prefix6, const member& self,
                           const std::vector<member>& peers)
    : prefix4_(prefix4), prefix6_(prefix6), self_(self.peer) {
  std::set<ip_address> taken;
  std::map<peer_id, ip_address, peer_less> placed;
  // 1. pins first: self, then the peers in config order
  auto pin = [&](const member& m) {
    if (m.pin && prefix4_.contains(*m.pin) && taken.insert(*m.pin).second) {
      placed.emplace(m.peer, *m.pin);
      pins_.emplace(m.peer, *m.pin);
    }
  };
  pin(self);
  for (const auto& m : peers) pin(m);
  // 2. the rest round by round, in ascending order of peer ID bytes
  std::vector<peer_id> order{self.peer};
  for (const auto& m : peers) order.push_back(m.peer);
  std::sort(order.begin(), order.end(), peer_less{});
  order.erase(std::unique(order.begin(), order.end()), order.end());
  for (unsigned k = 0; k < max_candidates; ++k)
    for (const auto& p : order) {
      if (placed.count(p)) continue;
      const auto c = derive_v4(p, prefix4_, k);
      if (taken.insert(c).second) placed.emplace(p, c);
    }
  // A peer without an address after max_candidates rounds stays unreachable
  // (vanishingly unlikely; see max_candidates).
  for (const auto& [p, a] : placed) {
    if (p == self_) {
      self_v4_ = a;
      continue;
    }
    v4_.emplace(p, a);
    by_addr_.emplace(a, p);
    by_addr_.emplace(derive_v6(p, prefix6_), p);
  }
  self_v6_ = derive_v6(self_, prefix6_);
}

std::optional<ip_address> address_book::v4_of(const peer_id& peer) const {
  auto it = v4_.find(peer);
  if (it == v4_.end()) return std::nullopt;
  return it->second;
}

std::optional<ip_address> address_book::v6_of(const peer_id& peer) const {
  if (!v4_.count(peer)) return std::nullopt;
  return derive_v6(peer, prefix6_);
}

std::optional<peer_id> address_book::peer_at(const ip_address& addr) const {
  auto it = by_addr_.find(addr);
  if (it == by_addr_.end()) return std::nullopt;
  return it->second;
}

address_book::announcement address_book::accept_announcement(const peer_id& peer,
                                                             const ip_address& addr) {
  auto current = v4_.find(peer);
  if (current == v4_.end()) return announcement::refused;  // not a member
  if (current->second == addr) return announcement::unchanged;
  if (!prefix4_.contains(addr) || addr == self_v4_) return announcement::refused;
  // SECURITY: a peer may only take an address that is provably its own (a
  // candidate derived from its peer ID) or that we pinned for it, so an
  // authorized peer cannot claim an address meant for another.
  bool own = false;
  auto pin = pins_.find(peer);
  if (pin != pins_.end()) {
    own = pin->second == addr;
  } else {
    for (unsigned k = 0; k < max_candidates && !own; ++k) own = derive_v4(peer, prefix4_, k) == addr;
  }
  if (!own) return announcement::refused;
  auto holder = by_addr_.find(addr);
  if (holder != by_addr_.end() && holder->second != peer) return announcement::refused;
  by_addr_.erase(current->second);
  current->second = addr;
  by_addr_.emplace(addr, peer);
  return announcement::moved;
}

}  // namespace peerup::tun
