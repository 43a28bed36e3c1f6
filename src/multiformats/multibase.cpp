#include "multiformats/multibase.hpp"

#include "multiformats/base32.hpp"
#include "multiformats/base58.hpp"

namespace peerup::multibase {
namespace {

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t max_base64_length = 4096;

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Unpadded; like base32, rejects impossible lengths and stray trailing bits.
result<bytes> decode_base64url(std::string_view text) {
  // SECURITY: bound the output allocation by bounding the input.
  if (text.size() > max_base64_length) return errc::too_large;
  if (text.size() % 4 == 1) return errc::invalid_base64;
  bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return errc::invalid_base64;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return errc::invalid_base64;
  return out;
}

}  // namespace

result<bytes> decode(std::string_view text) {
  if (text.empty()) return errc::unknown_multibase;
  switch (text.front()) {
    case base32_prefix: return base32::decode(text.substr(1));
    case base58btc_prefix: return base58::decode(text.substr(1));
    case base64url_prefix: return decode_base64url(text.substr(1));
    default: return errc::unknown_multibase;
  }
}

std::string encode_base32(byte_span in) { return base32_prefix + base32::encode(in); }

std::string encode_base58btc(byte_span in) { return base58btc_prefix + base58::encode(in); }

}  // namespace peerup::multibase

namespace peerup::multibase {

std::string encode_base64url(byte_span in) {
  std::string out(1, base64url_prefix);
  out.reserve(1 + (in.size() * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t b : in) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(base64url_alphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(base64url_alphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;
}

}  // namespace peerup::multibase
