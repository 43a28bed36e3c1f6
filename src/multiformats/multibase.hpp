// Multibase: a one-character prefix naming the base of the text that follows.
// We read base58btc ('z') and base32 lower-case ('b'), the two that peer IDs,
// CIDs and certhash values use in practice, and write base32.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::multibase {

inline constexpr char base32_prefix = 'b';
inline constexpr char base58btc_prefix = 'z';

// errc::unknown_multibase for an empty text or another prefix.
result<bytes> decode(std::string_view text);

std::string encode_base32(byte_span in);
std::string encode_base58btc(byte_span in);

}  // namespace peerup::multibase
