#include "tun/core/ip_packet.hpp"

#include <arpa/inet.h>

#include <bit>
#include <charconv>
#include <cstring>

namespace peerup::tun {

namespace {

std::uint16_t be16(byte_span p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

// Reads the transport header that starts at `at`: ports for TCP/UDP, type and
// echo ID for ICMP. Absent fields stay empty when the packet ends early; the
// filter then sees a packet without ports, which no port rule matches.
void read_transport(packet_info& info, std::size_t at) {
  const byte_span p = info.packet;
  if (info.later_fragment || at > p.size()) return;
  const std::size_t left = p.size() - at;
  if (info.protocol == ip_proto::tcp || info.protocol == ip_proto::udp) {
    if (left < 4) return;
    info.src_port = be16(p, at);
    info.dst_port = be16(p, at + 2);
    if (info.protocol == ip_proto::tcp && left >= 14) info.tcp_flags = p[at + 13];
  } else if (info.is_icmp()) {
    if (left < 1) return;
    info.icmp_type = p[at];
    if ((info.is_echo_request() || info.is_echo_reply()) && left >= 6)
      info.icmp_id = be16(p, at + 4);
  }
}

result<packet_info> parse_v4(byte_span p) {
  packet_info info;
  info.version = 4;
  info.packet = p;
  // SECURITY: the fixed header must be there before any field is read.
  if (p.size() < 20) return errc::tun_packet_too_short;
  const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
  // SECURITY: IHL counts 32-bit words, 5..15; it must not point past the end.
  if (ihl < 20 || ihl > p.size()) return errc::tun_packet_header_length;
  const std::size_t total = be16(p, 2);
  if (total != p.size()) return errc::tun_packet_length_mismatch;
  if (checksum_fold(checksum_add(0, p.first(ihl))) != 0) return errc::tun_packet_checksum;
  const std::uint16_t frag = be16(p, 6);
  info.later_fragment = (frag & 0x1fff) != 0;
  info.protocol = p[9];
  std::uint32_t s = 0, d = 0;
  for (int i = 0; i < 4; ++i) {
    s = s << 8 | p[12 + i];
    d = d << 8 | p[16 + i];
  }
  info.src = ip_address::v4(s);
  info.dst = ip_address::v4(d);
  info.header_length = ihl;
  info.total_length = total;
  read_transport(info, ihl);
  return info;
}

result<packet_info> parse_v6(byte_span p) {
  packet_info info;
  info.version = 6;
  info.packet = p;
  if (p.size() < 40) return errc::tun_packet_too_short;
  const std::size_t payload = be16(p, 4);
  // SECURITY: payload length 0 is a jumbogram (RFC 2675) or a lie; either
  // way it does not describe the bytes we hold.
  if (payload + 40 != p.size()) return errc::tun_packet_length_mismatch;
  std::array<std::uint8_t, 16> s{}, d{};
  std::copy(p.begin() + 8, p.begin() + 24, s.begin());
  std::copy(p.begin() + 24, p.begin() + 40, d.begin());
  info.src = ip_address::v6(s);
  info.dst = ip_address::v6(d);
  info.total_length = p.size();
  std::uint8_t next = p[6];
  std::size_t at = 40;
  // Walk hop-by-hop (0), routing (43), fragment (44) and destination options
  // (60) to the transport header.
  for (int depth = 0;; ++depth) {
    if (next != 0 && next != 43 && next != 44 && next != 60) break;
    // SECURITY: bounded walk; each header must fit inside the packet.
    if (depth >= max_extension_headers) return errc::tun_packet_extension_headers;
    if (at + 8 > p.size()) return errc::tun_packet_extension_headers;
    const std::uint8_t following = p[at];
    std::size_t len = 0;
    if (next == 44) {
      len = 8;
      if ((be16(p, at + 2) & 0xfff8) != 0) info.later_fragment = true;
    } else {
      len = (static_cast<std::size_t>(p[at + 1]) + 1) * 8;
    }
    if (at + len > p.size()) return errc::tun_packet_extension_headers;
    at += len;
    next = following;
  }
  info.protocol = next;
  info.header_length = at;
  read_transport(info, at);
  return info;
}

}  // namespace

ip_address ip_address::v4(std::uint32_t v) {
  ip_address a;
  a.version = 4;
  a.bytes[0] = static_cast<std::uint8_t>(v >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(v >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(v >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(v);
  return a;
}

ip_address ip_address::v6(const std::array<std::uint8_t, 16>& b) {
  ip_address a;
  a.version = 6;
  a.bytes = b;
  return a;
}

std::uint32_t ip_address::v4_value() const {
  return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
         std::uint32_t{bytes[2]} << 8 | bytes[3];
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
  // SECURITY: inet_pton needs a NUL-terminated copy; anything longer than
  // the longest IPv6 text form is not an address.
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  ip_address a;
  if (s.find(':') == std::string::npos) {
    if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.version = 4;
  } else {
    if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.version = 6;
  }
  return a;
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(version == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<ip_prefix> ip_prefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto base = ip_address::parse(text.substr(0, slash));
  if (!base) return std::nullopt;
  const auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty())
    return std::nullopt;
  if (len > (base->version == 4 ? 32u : 128u)) return std::nullopt;
  ip_prefix p{*base, len};
  // Host bits must be zero, so "10.64.1.0/16" is a typo, not 10.64.0.0/16.
  for (unsigned bit = len; bit < (base->version == 4 ? 32u : 128u); ++bit)
    if (base->bytes[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  return p;
}

bool ip_prefix::contains(const ip_address& a) const {
  if (a.version != base.version) return false;
  for (unsigned bit = 0; bit < length; ++bit) {
    const std::uint8_t m = static_cast<std::uint8_t>(0x80 >> (bit % 8));
    if ((a.bytes[bit / 8] & m) != (base.bytes[bit / 8] & m)) return false;
  }
  return true;
}

std::string ip_prefix::to_string() const { return base.to_string() + "/" + std::to_string(length); }

bool packet_info::is_echo_request() const {
  return icmp_type && ((protocol == ip_proto::icmp && *icmp_type == 8) ||
                       (protocol == ip_proto::icmpv6 && *icmp_type == 128));
}

bool packet_info::is_echo_reply() const {
  return icmp_type && ((protocol == ip_proto::icmp && *icmp_type == 0) ||
                       (protocol == ip_proto::icmpv6 && *icmp_type == 129));
}

bool packet_info::is_icmp_error() const {
  if (!icmp_type) return false;
  if (protocol == ip_proto::icmp) return *icmp_type == 3 || *icmp_type == 11 || *icmp_type == 12;
  if (protocol == ip_proto::icmpv6) return *icmp_type >= 1 && *icmp_type <= 4;
  return false;
}

result<packet_info> parse_packet(byte_span packet) {
  if (packet.empty()) return errc::tun_packet_too_short;
  switch (packet[0] >> 4) {
    case 4: return parse_v4(packet);
    case 6: return parse_v6(packet);
    default: return errc::tun_packet_version;
  }
}

std::uint32_t checksum_add(std::uint32_t sum, byte_span data) {
  // One's-complement sums do not depend on byte order (RFC 1071 2(B)): add
  // native 32-bit words into 64 bits (no carry is lost below 2^32 words),
  // fold to 16 bits, then swap into network order. 64 KiB segments pass
  // through here once per TSO split and GRO merge.
  const std::uint8_t* d = data.data();
  const std::size_t n = data.size();
  std::uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, d + i, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
  }
  for (; i + 2 <= n; i += 2) {
    std::uint16_t w = 0;
    std::memcpy(&w, d + i, 2);
    acc += w;
  }
  if (i < n) {
    // A last odd byte is the high (first) byte of a big-endian word.
    if constexpr (std::endian::native == std::endian::little)
      acc += d[i];
    else
      acc += static_cast<std::uint64_t>(d[i]) << 8;
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  std::uint32_t folded = static_cast<std::uint32_t>(acc);
  if constexpr (std::endian::native == std::endian::little)
    folded = ((folded & 0xff) << 8) | (folded >> 8);
  sum += folded;
  // Fold as we go so a caller adding many chunks cannot overflow 32 bits.
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

std::uint16_t checksum_fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

}  // namespace peerup::tun
