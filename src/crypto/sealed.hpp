// Sealing one small message under a short random secret, for invites that
// a relay holds without being able to read or change them (wire/invite.hpp,
// short codes).
//
// Construction (libsodium primitives only):
//   key   = BLAKE2b-256( u8 len(context) || context || secret )
//   box   = XChaCha20-Poly1305-IETF(key, nonce = 24 zero bytes, ad = context, plain)
// A zero nonce is safe because every key seals exactly one message: the
// secret is fresh random bytes per invite. The context string separates uses
// (a sealed invite cannot be opened as anything else).
//
// SECURITY: the strength is the secret's entropy (an 80-bit invite secret:
// an offline search by whoever holds the box costs 2^80 trials).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::crypto {

// Seals `plain`; the result is plain.size() + sealed_overhead bytes.
inline constexpr std::size_t sealed_overhead = 16;
bytes seal_once(byte_span secret, std::string_view context, byte_span plain);
// errc::decrypt_failed when the box was changed or the secret or context is
// not the one it was sealed with.
result<bytes> open_once(byte_span secret, std::string_view context, byte_span sealed);

// A public handle for the same secret: BLAKE2b-256(u8 len || context ||
// secret), first N bytes. Lets a relay index a sealed box without learning
// the key (a different context gives an unrelated value).
std::array<std::uint8_t, 8> derive_handle(byte_span secret, std::string_view context);

}  // namespace peerup::crypto
