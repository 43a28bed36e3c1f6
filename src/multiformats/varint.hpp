// Unsigned varint as specified by multiformats/unsigned-varint: LEB128,
// at most 9 bytes (63 bits), minimally encoded.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::varint {

inline constexpr std::size_t max_length = 9;

void encode(std::uint64_t value, bytes& out);
bytes encode(std::uint64_t value);
std::size_t encoded_size(std::uint64_t value);

struct decoded {
  std::uint64_t value;
  std::size_t length;  // bytes consumed
};

// Decodes one varint from the front of `in`.
// Returns errc::truncated if `in` ends before the last byte (more input may
// complete it), errc::varint_overflow or errc::varint_not_minimal otherwise.
result<decoded> decode(byte_span in);

}  // namespace peerup::varint
