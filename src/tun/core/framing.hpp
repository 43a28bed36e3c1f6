// The /peerup/ip/1.0.0 framing (docs/network-mode.md, "Wire format").
//
// On a stream each frame is uvarint(length) || payload, length 1..65535.
// A payload is either one whole IP packet (first nibble 4 or 6) or a control
// message whose first byte is 0x00. The only control message today is the
// hello, which the opener of a stream sends first:
//
//   0x00 | version (1) | IPv4 address (4) | IPv6 address (16) | MTU (2, big endian)
//
// It announces the sender's own addresses (address_book::accept_announcement)
// and the largest packet it will send. The stream is one-way: each peer sends
// on the stream it opened and reads the streams the other side opened.
// Over QUIC datagrams a payload travels alone, with no length prefix.
#pragma once

#include <optional>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "tun/core/ip_packet.hpp"

namespace peerup::tun {

inline constexpr std::string_view ip_protocol_id = "/peerup/ip/1.0.0";
// SECURITY: the largest frame a peer may announce; an IP packet cannot be
// longer (the IPv4 total length and IPv6 payload length are 16 bits).
inline constexpr std::size_t max_frame = 65535;
inline constexpr std::uint8_t hello_version = 1;
inline constexpr std::size_t hello_size = 24;

struct hello {
  ip_address v4, v6;
  std::uint16_t mtu = 0;
  friend bool operator==(const hello&, const hello&) = default;
};

bytes encode_hello(const hello& h);
// tun_frame_invalid unless `payload` is a version-1 hello with an IPv4 and an
// IPv6 address (later versions may append fields, which are ignored).
result<hello> decode_hello(byte_span payload);
bool is_control(byte_span payload);

// Appends uvarint(payload.size()) || payload. payload: 1..max_frame bytes.
void append_frame(bytes& out, byte_span payload);

struct frame_view {
  byte_span payload;  // points into the input
  std::size_t consumed = 0;
};
// The first complete frame at the front of `in`; nullopt when more bytes are
// needed. tun_frame_invalid for a zero or oversized length, or a length
// prefix longer than three bytes.
result<std::optional<frame_view>> next_frame(byte_span in);

}  // namespace peerup::tun
