#include "multiformats/varint.hpp"

namespace peerup::varint {

void encode(std::uint64_t value, bytes& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

bytes encode(std::uint64_t value) {
  bytes out;
  encode(value, out);
  return out;
}

std::size_t encoded_size(std::uint64_t value) {
  std::size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

result<decoded> decode(byte_span in) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    // SECURITY: the spec caps varints at 9 bytes; reject before shifting past 63 bits.
    if (i >= max_length) return errc::varint_overflow;
    const std::uint8_t b = in[i];
    value |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0) return errc::varint_not_minimal;
      return decoded{value, i + 1};
    }
  }
  if (in.size() >= max_length) return errc::varint_overflow;
  return errc::truncated;
}

}  // namespace peerup::varint
