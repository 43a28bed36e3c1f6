#include "wire/yamux_frame.hpp"

namespace peerup::yamux {
namespace {

void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

void put_u32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

std::uint16_t get_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace

std::array<std::uint8_t, header_size> encode(const frame_header& h) {
  std::array<std::uint8_t, header_size> out{};
  out[0] = h.version;
  out[1] = static_cast<std::uint8_t>(h.type);
  put_u16(&out[2], h.flags);
  put_u32(&out[4], h.stream_id);
  put_u32(&out[8], h.length);
  return out;
}

void encode(const frame_header& h, bytes& out) {
  const auto raw = encode(h);
  out.insert(out.end(), raw.begin(), raw.end());
}

result<frame_header> decode(byte_span in) {
  if (in.size() < header_size) return errc::truncated;
  if (in[0] != protocol_version) return errc::yamux_protocol;
  if (in[1] > static_cast<std::uint8_t>(frame_type::go_away)) return errc::yamux_protocol;
  frame_header h;
  h.version = in[0];
  h.type = static_cast<frame_type>(in[1]);
  h.flags = get_u16(&in[2]);
  h.stream_id = get_u32(&in[4]);
  h.length = get_u32(&in[8]);
  return h;
}

}  // namespace peerup::yamux
