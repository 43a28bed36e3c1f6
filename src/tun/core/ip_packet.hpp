// IPv4 and IPv6 header parsing for the TUN network mode (docs/network-mode.md).
//
// Sans-I/O: a packet read from the TUN device or received from a peer goes in,
// what the filter and the address book need comes out (version, addresses,
// transport protocol, ports, ICMP type). Nothing is copied.
//
// Policy: a packet is valid when its fixed header is complete, the version is
// 4 or 6, the IPv4 header length (IHL) is 5..15 words and inside the packet,
// the IPv4 header checksum is right, and the length field covers exactly the
// bytes we got (a TUN read and a /peerup/ip/1.0.0 frame both carry exactly one
// packet, so extra or missing bytes mean corruption or a forged length).
// IPv6 jumbograms (payload length 0) are refused: our MTU is far below 64 KiB.
// Transport ports are read when the first 4 bytes of the TCP/UDP header are
// present in a first fragment; a later fragment has no ports, and the filter
// treats it as a packet of that protocol without ports.
#pragma once

#include <array>
#include <compare>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::tun {

// IANA protocol numbers the filter and ICMP code use.
namespace ip_proto {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t icmpv6 = 58;
}  // namespace ip_proto

// An IPv4 or IPv6 address, network byte order. IPv4 uses bytes 0-3 and
// leaves the rest zero, so comparing two addresses compares version too.
struct ip_address {
  std::uint8_t version = 4;
  std::array<std::uint8_t, 16> bytes{};

  static ip_address v4(std::uint32_t host_order);
  static ip_address v6(const std::array<std::uint8_t, 16>& b);
  // "10.64.1.2" or "fd70:6565:7275::1"; nullopt for anything else.
  static std::optional<ip_address> parse(std::string_view text);
  std::uint32_t v4_value() const;  // host order; only for version 4
  byte_span span() const { return {bytes.data(), version == 4 ? 4u : 16u}; }
  std::string to_string() const;
  // Written out: GCC 12's defaulted <=> over std::array trips a false
  // -Wstringop-overread in std::lexicographical_compare_three_way.
  friend std::strong_ordering operator<=>(const ip_address& a, const ip_address& b) {
    if (a.version != b.version) return a.version <=> b.version;
    return std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) <=> 0;
  }
  friend bool operator==(const ip_address& a, const ip_address& b) {
    return a.version == b.version && std::memcmp(a.bytes.data(), b.bytes.data(), 16) == 0;
  }
};

// An IPv4 or IPv6 network ("10.64.0.0/16", "fd70:6565:7275::/48"): host bits
// must be zero.
struct ip_prefix {
  ip_address base;
  unsigned length = 0;
  static std::optional<ip_prefix> parse(std::string_view text);
  bool contains(const ip_address& a) const;
  std::string to_string() const;
  friend bool operator==(const ip_prefix&, const ip_prefix&) = default;
};

// What the switch and the filter read from one packet; `packet` points into
// the caller's buffer.
struct packet_info {
  std::uint8_t version = 0;        // 4 or 6
  ip_address src, dst;
  std::uint8_t protocol = 0;       // transport: after any IPv6 extension headers
  std::size_t header_length = 0;   // IP header (+ IPv6 extension headers)
  std::size_t total_length = 0;    // == the packet's size
  bool later_fragment = false;     // a fragment other than the first: no transport header
  std::optional<std::uint16_t> src_port, dst_port;  // TCP and UDP
  std::uint8_t tcp_flags = 0;                       // when the TCP header has them
  std::optional<std::uint8_t> icmp_type;            // ICMP and ICMPv6
  std::optional<std::uint16_t> icmp_id;             // echo request/reply identifier
  byte_span packet;

  bool is_icmp() const { return protocol == ip_proto::icmp || protocol == ip_proto::icmpv6; }
  // ICMP echo request (v4 8, v6 128).
  bool is_echo_request() const;
  // ICMP echo reply (v4 0, v6 129).
  bool is_echo_reply() const;
  // ICMP errors (unreachable, packet too big, time exceeded, parameter
  // problem): they answer a packet we sent, and PMTU discovery needs them.
  bool is_icmp_error() const;
};

// SECURITY: IPv6 extension headers are walked at most this many deep; a
// longer chain is refused rather than followed.
inline constexpr int max_extension_headers = 8;

// Validates `packet` as one whole IPv4 or IPv6 packet. Errors:
// tun_packet_too_short, tun_packet_version, tun_packet_header_length,
// tun_packet_length_mismatch, tun_packet_checksum, tun_packet_extension_headers.
result<packet_info> parse_packet(byte_span packet);

// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
std::uint32_t checksum_add(std::uint32_t sum, byte_span data);
std::uint16_t checksum_fold(std::uint32_t sum);

}  // namespace peerup::tun
