#include "dht/key.hpp"

#include <algorithm>
#include <bit>

#include "multiformats/multihash.hpp"

namespace peerup::dht {

kad_key kad_key::of(byte_span raw) { return kad_key(sha256_digest(raw)); }

std::string kad_key::to_hex() const { return peerup::to_hex(h_); }

distance xor_distance(const kad_key& a, const kad_key& b) {
  distance out;
  for (std::size_t i = 0; i < out.d.size(); ++i) {
    out.d[i] = static_cast<std::uint8_t>(a.bytes()[i] ^ b.bytes()[i]);
  }
  return out;
}

std::size_t common_prefix_length(const kad_key& a, const kad_key& b) {
  for (std::size_t i = 0; i < a.bytes().size(); ++i) {
    auto x = static_cast<std::uint8_t>(a.bytes()[i] ^ b.bytes()[i]);
    if (x != 0) return i * 8 + static_cast<std::size_t>(std::countl_zero(x));
  }
  return key_bits;
}

kad_key key_in_bucket(const kad_key& base, std::size_t cpl, const kad_key::digest& random) {
  kad_key::digest out = random;
  if (cpl >= key_bits) return base;
  const auto& b = base.bytes();
  // 1. Copy the first `cpl` bits of base.
  std::size_t full = cpl / 8;
  for (std::size_t i = 0; i < full; ++i) out[i] = b[i];
  // 2. Bit number `cpl` differs from base; the bits after it stay random.
  std::size_t bit = cpl % 8;
  auto mask_keep = static_cast<std::uint8_t>(0xFF00U >> bit);  // the first `bit` bits
  auto flip = static_cast<std::uint8_t>(0x80U >> bit);
  auto byte = static_cast<std::uint8_t>((b[full] & mask_keep) | (out[full] & ~mask_keep & 0xFFU));
  byte = static_cast<std::uint8_t>((byte & ~flip & 0xFFU) | (~b[full] & flip & 0xFFU));
  out[full] = byte;
  return kad_key::from_digest(out);
}

bytes namespace_key(std::string_view ns) {
  const auto digest = sha256_digest(as_bytes(ns));
  // Sized first: g++ 12 warns (array-bounds) on insert after a short init list.
  bytes out(2 + digest.size());
  out[0] = 0x12;  // sha2-256
  out[1] = 0x20;  // 32 bytes
  std::copy(digest.begin(), digest.end(), out.begin() + 2);
  return out;
}

}  // namespace peerup::dht
