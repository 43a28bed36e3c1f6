// RFC 4648 base32, lower-case alphabet, no padding: multibase 'b', the default
// text form of CIDs (and so of CIDv1 peer IDs).
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::base32 {

inline constexpr std::size_t max_text_length = 4096;

std::string encode(byte_span in);

// Accepts lower-case only (upper-case is a different multibase, 'B').
// Rejects padding, impossible lengths and non-zero trailing bits, so every
// byte string has exactly one accepted text form.
result<bytes> decode(std::string_view text);

}  // namespace peerup::base32
