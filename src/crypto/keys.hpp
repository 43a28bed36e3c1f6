// libp2p identity keys (specs peer-ids): the PublicKey/PrivateKey protobufs,
// signature verification for every key type, and Ed25519 signing.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup {

enum class key_type : std::uint8_t { rsa = 0, ed25519 = 1, secp256k1 = 2, ecdsa = 3 };

class public_key {
 public:
  // An 8192-bit RSA SubjectPublicKeyInfo is about 1.1 KB; nothing valid is larger.
  static constexpr std::size_t max_protobuf_length = 2048;

  // Parses a PublicKey protobuf. Only the canonical encoding (Type then Data,
  // minimal varints, nothing else) is accepted, so re-encoding gives back the
  // same bytes and the same peer ID. Data is checked for its type:
  // Ed25519 32 bytes, secp256k1 a 33-byte compressed point, RSA (2048..8192
  // bits) and ECDSA DER SubjectPublicKeyInfo.
  // errc::invalid_protobuf, errc::too_large, errc::unsupported_key_type, errc::invalid_key.
  static result<public_key> from_protobuf(byte_span in);
  // Validates `data` as the Data field of a key of type `type`.
  static result<public_key> from_raw(key_type type, byte_span data);
  static public_key ed25519(std::span<const std::uint8_t, 32> raw);
  // The key inlined in an identity-multihash peer ID (Ed25519, secp256k1).
  // errc::invalid_key when the ID is a hash and does not carry the key.
  static result<public_key> from_peer_id(const peer_id& id);

  key_type type() const { return type_; }
  const bytes& raw() const { return data_; }  // the protobuf Data field
  bytes to_protobuf() const;
  peer_id to_peer_id() const;
  // Per the spec's signing rules for the key type. False on any malformed signature.
  bool verify(byte_span message, byte_span signature) const;

  friend bool operator==(const public_key&, const public_key&) = default;

 private:
  public_key(key_type type, bytes data) : type_(type), data_(std::move(data)) {}
  key_type type_;
  bytes data_;
};

// An Ed25519 private key (the only type we sign with). The secret is wiped
// when the object is destroyed.
class private_key {
 public:
  static constexpr std::size_t seed_length = 32;

  static private_key generate();
  static result<private_key> from_seed(byte_span seed32);
  // PrivateKey protobuf with Type Ed25519 and Data = seed || public key
  // (64 bytes) or the legacy seed || public key || public key (96 bytes).
  // The embedded public key must match the one derived from the seed.
  static result<private_key> from_protobuf(byte_span in);

  private_key(const private_key&) = default;
  private_key& operator=(const private_key&) = default;
  ~private_key();

  // Contains the secret: the caller must protect (and ideally wipe) it.
  bytes to_protobuf() const;
  const public_key& get_public_key() const { return public_; }
  peer_id to_peer_id() const { return public_.to_peer_id(); }
  bytes sign(byte_span message) const;  // 64-byte Ed25519 signature

 private:
  explicit private_key(const std::array<std::uint8_t, 64>& secret);
  std::array<std::uint8_t, 64> secret_;  // libsodium layout: seed || public key
  public_key public_;
};

}  // namespace peerup
