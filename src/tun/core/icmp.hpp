// ICMP errors the TUN switch sends back into the TUN device: "fragmentation
// needed" / "packet too big" for a packet larger than the path carries, and
// "host unreachable" for an address in the prefix that no peer owns.
//
// The error quotes the start of the offending packet (RFC 1812 4.3.2.3: up
// to 576 bytes in all for IPv4; RFC 4443 2.4: up to 1280 for IPv6), comes
// from the packet's destination address (the far end of the tunnel), and is
// never sent about an ICMP error (RFC 1122 3.2.2, RFC 4443 2.4 e).
#pragma once

#include <optional>

#include "common/bytes.hpp"
#include "tun/core/ip_packet.hpp"

namespace peerup::tun {

// ICMPv4 3/4 with next-hop MTU `mtu`, or ICMPv6 2/0 with MTU `mtu`.
// nullopt when `original` is itself an ICMP error.
std::optional<bytes> make_packet_too_big(const packet_info& original, std::uint16_t mtu);
// ICMPv4 3/1 or ICMPv6 1/3. nullopt for an ICMP error.
std::optional<bytes> make_host_unreachable(const packet_info& original);

}  // namespace peerup::tun
