#include "crypto/keys.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "crypto/openssl_keys.hpp"
#include "multiformats/multihash.hpp"
#include "multiformats/varint.hpp"

namespace peerup {
namespace {

constexpr std::uint8_t type_tag = 0x08;  // field 1, varint
constexpr std::uint8_t data_tag = 0x12;  // field 2, length-delimited

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();  // no safe way to continue without a CSPRNG
}

bytes encode_key_message(key_type type, byte_span data) {
  bytes out;
  out.reserve(data.size() + 8);
  out.push_back(type_tag);
  varint::encode(static_cast<std::uint8_t>(type), out);
  out.push_back(data_tag);
  varint::encode(data.size(), out);
  append(out, data);
  return out;
}

struct key_message {
  std::uint64_t type;
  byte_span data;
};

// The spec requires deterministic encoding (fields in tag order, minimal
// varints, both present, nothing else). We accept exactly that, so a key has
// one byte form and one peer ID.
result<key_message> decode_key_message(byte_span in) {
  if (in.size() < 2 || in[0] != type_tag) return errc::invalid_protobuf;
  auto type = varint::decode(in.subspan(1));
  if (!type) return errc::invalid_protobuf;
  in = in.subspan(1 + type->length);
  if (in.empty() || in[0] != data_tag) return errc::invalid_protobuf;
  auto length = varint::decode(in.subspan(1));
  if (!length) return errc::invalid_protobuf;
  in = in.subspan(1 + length->length);
  // SECURITY: the declared length must be exactly the rest of the input.
  if (length->value != in.size()) return errc::invalid_protobuf;
  return key_message{type->value, in};
}

result<key_type> known_type(std::uint64_t v) {
  if (v > static_cast<std::uint64_t>(key_type::ecdsa)) return errc::unsupported_key_type;
  return static_cast<key_type>(v);
}

}  // namespace

// --- public_key ---

result<public_key> public_key::from_protobuf(byte_span in) {
  // SECURITY: bound before parsing; Data is only viewed, never copied, until validated.
  if (in.size() > max_protobuf_length) return errc::too_large;
  auto msg = decode_key_message(in);
  if (!msg) return msg.error();
  auto type = known_type(msg->type);
  if (!type) return type.error();
  return from_raw(*type, msg->data);
}

result<public_key> public_key::from_raw(key_type type, byte_span data) {
  if (data.size() > max_protobuf_length) return errc::too_large;
  switch (type) {
    case key_type::ed25519:
      if (data.size() != crypto_sign_PUBLICKEYBYTES) return errc::invalid_key;
      break;
    case key_type::rsa:
    case key_type::ecdsa:
    case key_type::secp256k1:
      if (auto ec = openssl_keys::validate(type, data)) return ec;
      break;
    default: return errc::unsupported_key_type;
  }
  return public_key(type, bytes(data.begin(), data.end()));
}

public_key public_key::ed25519(std::span<const std::uint8_t, 32> raw) {
  return public_key(key_type::ed25519, bytes(raw.begin(), raw.end()));
}

result<public_key> public_key::from_peer_id(const peer_id& id) {
  auto embedded = id.embedded_public_key();
  if (!embedded) return errc::invalid_key;
  return from_protobuf(*embedded);
}

bytes public_key::to_protobuf() const { return encode_key_message(type_, data_); }

peer_id public_key::to_peer_id() const { return peer_id::from_public_key(to_protobuf()); }

bool public_key::verify(byte_span message, byte_span signature) const {
  if (type_ != key_type::ed25519) return openssl_keys::verify(type_, data_, message, signature);
  if (signature.size() != crypto_sign_BYTES || data_.size() != crypto_sign_PUBLICKEYBYTES) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     data_.data()) == 0;
}

// --- private_key ---

private_key::private_key(const std::array<std::uint8_t, 64>& secret)
    : secret_(secret),
      public_(public_key::ed25519(std::span<const std::uint8_t, 32>(secret.data() + 32, 32))) {}

private_key::~private_key() { sodium_memzero(secret_.data(), secret_.size()); }

private_key private_key::generate() {
  ensure_sodium();
  std::array<std::uint8_t, 32> pk{};
  std::array<std::uint8_t, 64> sk{};
  crypto_sign_keypair(pk.data(), sk.data());
  private_key key(sk);
  sodium_memzero(sk.data(), sk.size());
  return key;
}

result<private_key> private_key::from_seed(byte_span seed32) {
  if (seed32.size() != seed_length) return errc::invalid_key;
  ensure_sodium();
  std::array<std::uint8_t, 32> pk{};
  std::array<std::uint8_t, 64> sk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed32.data());
  private_key key(sk);
  sodium_memzero(sk.data(), sk.size());
  return key;
}

result<private_key> private_key::from_protobuf(byte_span in) {
  if (in.size() > public_key::max_protobuf_length) return errc::too_large;
  auto msg = decode_key_message(in);
  if (!msg) return msg.error();
  if (msg->type != static_cast<std::uint64_t>(key_type::ed25519)) {
    return errc::unsupported_key_type;
  }
  const byte_span data = msg->data;
  if (data.size() != 64 && data.size() != 96) return errc::invalid_key;
  const byte_span stored_public = data.subspan(32, 32);
  // Legacy 96-byte form repeats the public key; both copies must agree.
  if (data.size() == 96 && !std::ranges::equal(stored_public, data.subspan(64, 32))) {
    return errc::invalid_key;
  }
  auto key = from_seed(data.first(seed_length));
  if (!key) return key.error();
  if (!std::ranges::equal(key->public_.raw(), stored_public)) return errc::invalid_key;
  return key;
}

bytes private_key::to_protobuf() const { return encode_key_message(key_type::ed25519, secret_); }

bytes private_key::sign(byte_span message) const {
  bytes signature(crypto_sign_BYTES);
  crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(), secret_.data());
  return signature;
}

}  // namespace peerup
