// The packet switch of the TUN network mode: decides, for every packet, where
// it goes or why it is dropped. Sans-I/O like wire/yamux: packets and `now`
// in, verdicts out; the device and the per-peer pump (src/tun) do the I/O.
//
// From the TUN device (this machine -> a peer), in order:
// 1. parse and validate (ip_packet.hpp)                   else drop: malformed
// 2. the source is our own address                        else drop: not_from_self
//    (no transit: we never forward what another interface routed to us)
// 3. the destination is a peer's address in the prefix    else host unreachable
//    (ICMP back into the TUN), drop: no_route
// 4. it fits the path to that peer (the MTU, or less on a path with a
//    smaller limit), at least 1280 for IPv6 (its minimum)  else packet too big
//    (ICMP back), drop: too_big
// 5. the flow is noted, so the replies pass our filter; send it to the peer.
//
// From a peer (a peer -> this machine):
// 1. parse and validate                                    else drop: malformed
// 2. the sending peer has an address                       else drop: unknown_peer
// 3. the source is the sending peer's address              else drop: spoofed
// 4. the destination is our own address                    else drop: not_for_us
//    (no transit between peers, nothing outside the prefix)
// 5. the filter allows it, or it answers a flow of ours, or it is an ICMP
//    error                                                  else drop: filtered
// 6. write it to the TUN device.
//
// SECURITY: ICMP errors we generate are rate limited (icmp_per_second, with a
// burst of the same size), so a local program cannot make us spend without
// bound; over the limit the packet is still dropped and counted.
#pragma once

#include <array>
#include <map>
#include <variant>

#include "tun/core/address_book.hpp"
#include "tun/core/filter.hpp"

namespace peerup::tun {

enum class drop_reason {
  malformed,      // not a valid IPv4/IPv6 packet
  not_from_self,  // from the TUN with a source that is not ours (transit)
  no_route,       // to an address in the prefix that no peer owns, or outside it
  too_big,        // larger than the path to the peer carries (ICMP sent)
  unknown_peer,   // from a peer without an address (not a member)
  spoofed,        // from a peer with a source that is not its address
  not_for_us,     // from a peer to an address that is not ours (transit)
  filtered,       // refused by the peer's filter
  queue_full,     // the peer's send queue or the TUN write queue was full
  no_path,        // no connection or /peerup/ip/1.0.0 stream to the peer could be opened
  count_,
};
std::string_view to_string(drop_reason r);

struct switch_counters {
  std::uint64_t to_peer_packets = 0, to_peer_bytes = 0;
  std::uint64_t to_tun_packets = 0, to_tun_bytes = 0;
  std::uint64_t icmp_sent = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(drop_reason::count_)> dropped{};
  std::uint64_t dropped_total() const;
  std::uint64_t drops(drop_reason r) const { return dropped[static_cast<std::size_t>(r)]; }
};

// IPv6's minimum link MTU (RFC 8200 5): IPv6 packets up to this size always
// pass, whatever the configured MTU, since an ICMPv6 "packet too big" below it
// is ignored by hosts.
inline constexpr std::size_t ipv6_min_mtu = 1280;

struct switch_config {
  std::uint16_t mtu = 1152;
  filter_rules default_rules = filter_rules::default_rules();
  std::map<peer_id, filter_rules, peer_less> peer_rules;  // overrides per peer
  std::uint32_t icmp_per_second = 100;
};

class packet_switch {
 public:
  packet_switch(address_book book, switch_config cfg);

  struct send_to_peer {
    peer_id peer;
  };
  struct reply_to_tun {  // an ICMP error to write into the TUN device
    bytes packet;
  };
  struct dropped {
    drop_reason why;
  };
  using tun_verdict = std::variant<send_to_peer, reply_to_tun, dropped>;

  // A packet the kernel routed into the TUN device.
  tun_verdict from_tun(byte_span packet, steady_time now);
  // A packet `peer` sent us; nullopt: write it to the TUN device.
  std::optional<drop_reason> from_peer(const peer_id& peer, byte_span packet, steady_time now);

  // The largest packet the current path to `peer` carries (0: no limit but
  // the MTU). Set by the pump when the path changes (stream or datagram).
  void set_path_limit(const peer_id& peer, std::size_t limit);
  void count_drop(drop_reason r) { ++counters_.dropped[static_cast<std::size_t>(r)]; }

  address_book& book() { return book_; }
  const address_book& book() const { return book_; }
  const switch_config& config() const { return cfg_; }
  const switch_counters& counters() const { return counters_; }
  const flow_table& flows() const { return flows_; }

 private:
  bool take_icmp_token(steady_time now);
  tun_verdict drop(drop_reason r) {
    count_drop(r);
    return dropped{r};
  }

  address_book book_;
  switch_config cfg_;
  flow_table flows_;
  std::map<peer_id, std::size_t, peer_less> path_limits_;
  switch_counters counters_;
  double icmp_tokens_ = 0;
  steady_time icmp_refill_{};
};

}  // namespace peerup::tun
