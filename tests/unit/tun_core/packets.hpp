// Builders of IPv4/IPv6 test packets with correct lengths and checksums, so a
// test changes one field and sees the parser react to exactly that.
#pragma once

#include "common/bytes.hpp"
#include "tun/core/ip_packet.hpp"

namespace peerup::tun::test {

inline void put16(bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

// Transport header: TCP (20 bytes, flags), UDP (8), ICMP echo (8, id in ports.first).
inline bytes transport(std::uint8_t proto, std::uint16_t sport, std::uint16_t dport,
                       std::uint8_t tcp_flags = 0x02, std::size_t payload = 0) {
  bytes t;
  if (proto == ip_proto::tcp) {
    t.assign(20 + payload, 0);
    put16(t, 0, sport);
    put16(t, 2, dport);
    t[12] = 0x50;
    t[13] = tcp_flags;
  } else if (proto == ip_proto::udp) {
    t.assign(8 + payload, 0);
    put16(t, 0, sport);
    put16(t, 2, dport);
    put16(t, 4, static_cast<std::uint16_t>(t.size()));
  } else {  // ICMP/ICMPv6 echo: sport is the type, dport the id
    t.assign(8 + payload, 0);
    t[0] = static_cast<std::uint8_t>(sport);
    put16(t, 4, dport);
  }
  return t;
}

inline bytes v4_packet(const ip_address& src, const ip_address& dst, std::uint8_t proto,
                       const bytes& l4) {
  bytes b(20, 0);
  b[0] = 0x45;
  put16(b, 2, static_cast<std::uint16_t>(20 + l4.size()));
  b[8] = 64;
  b[9] = proto;
  std::copy_n(src.bytes.begin(), 4, b.begin() + 12);
  std::copy_n(dst.bytes.begin(), 4, b.begin() + 16);
  put16(b, 10, checksum_fold(checksum_add(0, b)));
  append(b, l4);
  return b;
}

inline bytes v6_packet(const ip_address& src, const ip_address& dst, std::uint8_t next,
                       const bytes& rest) {
  bytes b(40, 0);
  b[0] = 0x60;
  put16(b, 4, static_cast<std::uint16_t>(rest.size()));
  b[6] = next;
  b[7] = 64;
  std::copy_n(src.bytes.begin(), 16, b.begin() + 8);
  std::copy_n(dst.bytes.begin(), 16, b.begin() + 24);
  append(b, rest);
  return b;
}

inline ip_address ip(const char* text) { return *ip_address::parse(text); }

}  // namespace peerup::tun::test
