// A libp2p peer ID: the multihash of a public key protobuf (specs peer-ids).
// Always valid: the only ways to get one check the multihash.
#pragma once

#include <compare>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup {

class peer_id {
 public:
  // Keys whose protobuf is at most this long are inlined (identity multihash).
  static constexpr std::size_t max_inline_key_length = 42;
  // The multicodec of a peer ID inside a CID.
  static constexpr std::uint64_t libp2p_key_codec = 0x72;

  // `multihash_bytes` must be one identity or sha2-256 multihash.
  static result<peer_id> from_bytes(byte_span multihash_bytes);
  // `public_key_protobuf` is a serialized PublicKey message; the caller
  // vouches for it (crypto::public_key::to_peer_id is the checked path).
  static peer_id from_public_key(byte_span public_key_protobuf);
  // Accepts base58btc multihash ("12D3KooW...", "Qm...", "16Uiu2...") or a
  // multibase CIDv1 with codec libp2p-key ("bafz..."). errc::invalid_peer_id otherwise.
  static result<peer_id> parse(std::string_view text);

  std::string to_string() const;      // base58btc, the canonical form
  std::string to_cid_string() const;  // base32 CIDv1, libp2p-key
  const bytes& to_bytes() const { return multihash_; }
  // The PublicKey protobuf for identity-multihash IDs (Ed25519, secp256k1).
  std::optional<bytes> embedded_public_key() const;

  friend bool operator==(const peer_id&, const peer_id&) = default;
  friend auto operator<=>(const peer_id&, const peer_id&) = default;

 private:
  explicit peer_id(bytes multihash) : multihash_(std::move(multihash)) {}
  bytes multihash_;
};

}  // namespace peerup

template <>
struct std::hash<peerup::peer_id> {
  std::size_t operator()(const peerup::peer_id& id) const noexcept;
};
