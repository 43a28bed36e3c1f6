// SHA-256 for the crypto layer. The implementation (libsodium) sits in
// multiformats because peer IDs need it and multiformats sits below crypto.
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.hpp"
#include "multiformats/multihash.hpp"

namespace peerup {

inline std::array<std::uint8_t, 32> sha256(byte_span in) { return sha256_digest(in); }

}  // namespace peerup
