#include "tun/core/framing.hpp"

#include "multiformats/varint.hpp"

namespace peerup::tun {

bytes encode_hello(const hello& h) {
  bytes out{0x00, hello_version};
  append(out, h.v4.span());
  append(out, h.v6.span());
  out.push_back(static_cast<std::uint8_t>(h.mtu >> 8));
  out.push_back(static_cast<std::uint8_t>(h.mtu));
  return out;
}

bool is_control(byte_span payload) { return !payload.empty() && payload[0] == 0x00; }

result<hello> decode_hello(byte_span p) {
  // SECURITY: fixed size checked before any field is read.
  if (p.size() < hello_size || p[0] != 0x00 || p[1] < hello_version) return errc::tun_frame_invalid;
  hello h;
  std::uint32_t v4 = 0;
  for (int i = 0; i < 4; ++i) v4 = v4 << 8 | p[2 + i];
  h.v4 = ip_address::v4(v4);
  std::array<std::uint8_t, 16> v6{};
  std::copy(p.begin() + 6, p.begin() + 22, v6.begin());
  h.v6 = ip_address::v6(v6);
  h.mtu = static_cast<std::uint16_t>(p[22] << 8 | p[23]);
  if (h.mtu < 576) return errc::tun_frame_invalid;
  return h;
}

void append_frame(bytes& out, byte_span payload) {
  varint::encode(payload.size(), out);
  append(out, payload);
}

result<std::optional<frame_view>> next_frame(byte_span in) {
  auto len = varint::decode(in);
  if (!len) {
    // Three bytes carry up to 2^21-1, above max_frame: a longer prefix is bad.
    if (len.error() == errc::truncated && in.size() < 3) return std::optional<frame_view>{};
    return errc::tun_frame_invalid;
  }
  // SECURITY: bounded before anything is buffered for the frame.
  if (len->value == 0 || len->value > max_frame) return errc::tun_frame_invalid;
  const std::size_t need = len->length + static_cast<std::size_t>(len->value);
  if (in.size() < need) return std::optional<frame_view>{};
  return std::optional<frame_view>{
      frame_view{in.subspan(len->length, static_cast<std::size_t>(len->value)), need}};
}

}  // namespace peerup::tun
