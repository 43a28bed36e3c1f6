// Byte containers used across every layer. uint8_t (not std::byte) because
// libsodium, OpenSSL and asio all speak unsigned char.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace peerup {

using bytes = std::vector<std::uint8_t>;
using byte_span = std::span<const std::uint8_t>;
using mutable_byte_span = std::span<std::uint8_t>;

inline byte_span as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view as_string_view(byte_span b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline void append(bytes& out, byte_span in) { out.insert(out.end(), in.begin(), in.end()); }

std::string to_hex(byte_span b);

}  // namespace peerup
