// Yamux frame header (hashicorp/yamux spec.md, libp2p/specs yamux/README.md):
//   version u8 | type u8 | flags u16 | stream id u32 | length u32, big endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::yamux {

inline constexpr std::size_t header_size = 12;
inline constexpr std::uint8_t protocol_version = 0;
// Every stream starts with this window on both sides (spec "Flow Control").
inline constexpr std::uint32_t default_window = 256 * 1024;

enum class frame_type : std::uint8_t { data = 0, window_update = 1, ping = 2, go_away = 3 };

namespace flag {
inline constexpr std::uint16_t syn = 0x1;
inline constexpr std::uint16_t ack = 0x2;
inline constexpr std::uint16_t fin = 0x4;
inline constexpr std::uint16_t rst = 0x8;
}  // namespace flag

// Codes carried in the length field of a Go Away frame.
namespace go_away_code {
inline constexpr std::uint32_t normal = 0;
inline constexpr std::uint32_t protocol_error = 1;
inline constexpr std::uint32_t internal_error = 2;
}  // namespace go_away_code

struct frame_header {
  std::uint8_t version = protocol_version;
  frame_type type = frame_type::data;
  std::uint16_t flags = 0;
  std::uint32_t stream_id = 0;
  // Data: payload bytes that follow. Window update: window delta.
  // Ping: opaque value. Go Away: error code.
  std::uint32_t length = 0;

  bool has(std::uint16_t f) const { return (flags & f) == f; }
  friend bool operator==(const frame_header&, const frame_header&) = default;
};

std::array<std::uint8_t, header_size> encode(const frame_header& h);
// Appends the 12 header bytes to `out` (no payload).
void encode(const frame_header& h, bytes& out);

// Decodes the first 12 bytes of `in`. errc::truncated if fewer are given;
// errc::yamux_protocol for a version or type this implementation does not know.
result<frame_header> decode(byte_span in);

}  // namespace peerup::yamux
