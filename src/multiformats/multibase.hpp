// Multibase: a one-character prefix naming the base of the text that follows.
// We read base58btc ('z'), base32 lower-case ('b') and base64url ('u'): the
// ones peer IDs, CIDs and multiaddr certhash values use in practice.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::multibase {

inline constexpr char base32_prefix = 'b';
inline constexpr char base58btc_prefix = 'z';
inline constexpr char base64url_prefix = 'u';

// errc::unknown_multibase for an empty text or another prefix.
result<bytes> decode(std::string_view text);

std::string encode_base32(byte_span in);
std::string encode_base58btc(byte_span in);
// RFC 4648 section 5 alphabet, no padding (how go-libp2p writes certhash).
std::string encode_base64url(byte_span in);

}  // namespace peerup::multibase
