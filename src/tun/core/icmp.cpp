#include "tun/core/icmp.hpp"

#include <algorithm>

namespace peerup::tun {

namespace {

void put16(bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

// type, code, and the 4 bytes after the checksum (unused / MTU).
std::optional<bytes> icmp_error(const packet_info& o, std::uint8_t type, std::uint8_t code,
                                std::uint32_t rest) {
  if (o.is_icmp_error()) return std::nullopt;
  if (o.version == 4) {
    const std::size_t quoted = std::min<std::size_t>(o.packet.size(), 576 - 28);
    bytes b(28 + quoted, 0);
    b[0] = 0x45;
    put16(b, 2, static_cast<std::uint16_t>(b.size()));
    b[8] = 64;  // TTL
    b[9] = ip_proto::icmp;
    std::copy_n(o.dst.bytes.begin(), 4, b.begin() + 12);  // from the far end
    std::copy_n(o.src.bytes.begin(), 4, b.begin() + 16);
    put16(b, 10, checksum_fold(checksum_add(0, byte_span(b).first(20))));
    b[20] = type;
    b[21] = code;
    put16(b, 24, static_cast<std::uint16_t>(rest >> 16));
    put16(b, 26, static_cast<std::uint16_t>(rest));
    std::copy_n(o.packet.begin(), quoted, b.begin() + 28);
    put16(b, 22, checksum_fold(checksum_add(0, byte_span(b).subspan(20))));
    return b;
  }
  const std::size_t quoted = std::min<std::size_t>(o.packet.size(), 1280 - 48);
  const std::size_t icmp_len = 8 + quoted;
  bytes b(40 + icmp_len, 0);
  b[0] = 0x60;
  put16(b, 4, static_cast<std::uint16_t>(icmp_len));
  b[6] = ip_proto::icmpv6;
  b[7] = 64;  // hop limit
  std::copy_n(o.dst.bytes.begin(), 16, b.begin() + 8);
  std::copy_n(o.src.bytes.begin(), 16, b.begin() + 24);
  b[40] = type;
  b[41] = code;
  put16(b, 44, static_cast<std::uint16_t>(rest >> 16));
  put16(b, 46, static_cast<std::uint16_t>(rest));
  std::copy_n(o.packet.begin(), quoted, b.begin() + 48);
  // Pseudo-header: source, destination, upper-layer length, next header.
  std::uint32_t sum = checksum_add(0, byte_span(b).subspan(8, 32));
  sum = checksum_add(sum, bytes{0, 0, static_cast<std::uint8_t>(icmp_len >> 8),
                                static_cast<std::uint8_t>(icmp_len), 0, 0, 0, ip_proto::icmpv6});
  sum = checksum_add(sum, byte_span(b).subspan(40));
  put16(b, 42, checksum_fold(sum));
  return b;
}

}  // namespace

std::optional<bytes> make_packet_too_big(const packet_info& original, std::uint16_t mtu) {
  if (original.version == 4) return icmp_error(original, 3, 4, mtu);
  return icmp_error(original, 2, 0, mtu);
}

std::optional<bytes> make_host_unreachable(const packet_info& original) {
  if (original.version == 4) return icmp_error(original, 3, 1, 0);
  return icmp_error(original, 1, 3, 0);
}

}  // namespace peerup::tun
