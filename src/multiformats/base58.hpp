// base58btc (the Bitcoin alphabet), used for the canonical peer ID text form
// and for multibase 'z'.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::base58 {

// Base58 conversion is quadratic; peer IDs and multiaddr values are far shorter.
inline constexpr std::size_t max_text_length = 1024;

std::string encode(byte_span in);

// errc::invalid_base58 for a character outside the alphabet,
// errc::too_large for text longer than max_text_length.
result<bytes> decode(std::string_view text);

}  // namespace peerup::base58
