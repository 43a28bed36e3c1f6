// Multihash (multiformats/multihash): <varint code><varint length><digest>.
// Peer IDs only ever use identity and sha2-256, so those are the codes we accept.
#pragma once

#include <array>
#include <compare>
#include <cstdint>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup {

// SHA-256 (libsodium). Lives here so peer IDs need no dependency on the crypto
// layer; crypto/sha256.hpp re-exports it as peerup::sha256.
std::array<std::uint8_t, 32> sha256_digest(byte_span in);

struct multihash {
  static constexpr std::uint64_t identity = 0x00;
  static constexpr std::uint64_t sha2_256 = 0x12;
  // Identity digests carry a whole public key protobuf; Ed25519 and secp256k1
  // keys need under 42 bytes, so anything much longer is not a key.
  static constexpr std::size_t max_identity_length = 128;

  std::uint64_t code = identity;
  bytes digest;

  // The whole input must be one multihash: no trailing bytes.
  // errc::unknown_multihash, errc::multihash_length, errc::truncated, errc::too_large.
  static result<multihash> decode(byte_span in);
  static multihash of_sha256(byte_span data);
  static multihash of_identity(byte_span data);

  bytes encode() const;

  friend bool operator==(const multihash&, const multihash&) = default;
};

}  // namespace peerup
