#include "multiformats/base32.hpp"

namespace peerup::base32 {
namespace {

constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz234567";

int value_of(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

std::string encode(byte_span in) {
  std::string out;
  out.reserve((in.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t b : in) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(alphabet[(buffer >> bits) & 0x1f]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

result<bytes> decode(std::string_view text) {
  // SECURITY: bound the output allocation by bounding the input.
  if (text.size() > max_text_length) return errc::too_large;
  // A final group of 1, 3 or 6 characters cannot come from whole bytes.
  const std::size_t tail = text.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6) return errc::invalid_base32;
  bytes out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value_of(c);
    if (v < 0) return errc::invalid_base32;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return errc::invalid_base32;
  return out;
}

}  // namespace peerup::base32
