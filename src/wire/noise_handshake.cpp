#include "wire/noise_handshake.hpp"

#include <sodium.h>

#include <stdexcept>

#include "wire/noise_payload.hpp"

namespace peerup::noise {
namespace {

xx_state::role to_xx(handshake::role r) {
  return r == handshake::role::initiator ? xx_state::role::initiator : xx_state::role::responder;
}

x25519_keypair fresh_static_key() {
  // Idempotent and thread-safe; fails only when the OS has no randomness.
  if (sodium_init() < 0) throw std::runtime_error("libsodium initialisation failed");
  return x25519_keypair::generate();
}

bytes signed_payload(const private_key& identity, const key32& static_public,
                     std::vector<std::string> muxers) {
  handshake_payload p;
  p.identity_key = identity.get_public_key().to_protobuf();
  p.identity_sig = identity.sign(static_key_signing_input(static_public));
  p.stream_muxers = std::move(muxers);
  return encode_payload(p);
}

}  // namespace

std::shared_ptr<const local_static> local_static::make(const private_key& identity,
                                                       std::vector<std::string> muxers) {
  auto out = std::make_shared<local_static>();
  out->key = fresh_static_key();
  out->payload = signed_payload(identity, out->key.public_key, std::move(muxers));
  return out;
}

handshake::handshake(role r, std::shared_ptr<const local_static> local,
                     std::optional<peer_id> expected_remote)
    : xx_(to_xx(r), {}, local->key, std::nullopt),
      expected_remote_(std::move(expected_remote)),
      shared_(std::move(local)) {}

handshake::handshake(role r, const private_key& identity, std::optional<peer_id> expected_remote,
                     std::vector<std::string> local_muxers)
    : handshake(r, identity, std::move(expected_remote), std::move(local_muxers),
                fresh_static_key(), std::nullopt) {}

handshake::handshake(role r, const private_key& identity, std::optional<peer_id> expected_remote,
                     std::vector<std::string> local_muxers, const fixed_keys& keys)
    : handshake(r, identity, std::move(expected_remote), std::move(local_muxers),
                x25519_keypair::from_secret(keys.static_secret),
                x25519_keypair::from_secret(keys.ephemeral_secret)) {}

handshake::handshake(role r, const private_key& identity, std::optional<peer_id> expected_remote,
                     std::vector<std::string> local_muxers, const x25519_keypair& static_key,
                     std::optional<x25519_keypair> ephemeral)
    : xx_(to_xx(r), {}, static_key, std::move(ephemeral)),
      expected_remote_(std::move(expected_remote)) {
  // Signing now means the handshake holds no reference to the identity key.
  own_payload_ = signed_payload(identity, static_key.public_key, std::move(local_muxers));
}

result<bytes> handshake::write_message() {
  if (failed_ || !xx_.is_my_turn()) return errc::noise_out_of_order;
  // Message 1 is sent before any key exists, so it carries no payload: the
  // spec puts the identity only in messages that are encrypted.
  const bytes& local_payload = shared_ ? shared_->payload : own_payload_;
  const byte_span payload = xx_.step() == 0 ? byte_span{} : byte_span{local_payload};
  bytes out;
  if (auto r = xx_.write_message(payload, out); !r) {
    failed_ = true;
    return r.error();
  }
  return out;
}

result<void> handshake::read_message(byte_span message) {
  if (failed_ || xx_.is_complete() || xx_.is_my_turn()) return errc::noise_out_of_order;
  const int step = xx_.step();
  bytes payload;
  if (auto r = xx_.read_message(message, payload); !r) {
    failed_ = true;
    return r;
  }
  // A payload in message 1 is unauthenticated and unencrypted; the spec
  // forbids sending one, and we neither trust nor keep it.
  if (step == 0) return {};
  if (auto r = accept_remote_payload(payload); !r) {
    failed_ = true;
    return r;
  }
  return {};
}

// 1. decode the payload  2. decode the identity key  3. check it signed the
// static key we just received  4. derive the peer ID and compare to the dialed one.
result<void> handshake::accept_remote_payload(byte_span payload) {
  auto decoded = decode_payload(payload);
  if (!decoded) return decoded.error();
  auto key = public_key::from_protobuf(decoded->identity_key);
  if (!key) return key.error();
  const key32& remote_static = xx_.remote_static();
  if (!key->verify(static_key_signing_input(remote_static), decoded->identity_sig))
    return errc::bad_signature;
  peer_id peer = key->to_peer_id();
  if (expected_remote_ && *expected_remote_ != peer) return errc::peer_id_mismatch;
  remote_key_ = std::move(*key);
  remote_peer_ = std::move(peer);
  remote_muxers_ = std::move(decoded->stream_muxers);
  return {};
}

result<handshake_result> handshake::finish() {
  if (!is_complete() || finished_ || !remote_key_ || !remote_peer_) return errc::noise_out_of_order;
  auto ciphers = xx_.split();
  if (!ciphers) return ciphers.error();
  finished_ = true;
  return handshake_result{std::move(ciphers->first), std::move(ciphers->second),
                          std::move(*remote_key_), std::move(*remote_peer_),
                          std::move(remote_muxers_)};
}

}  // namespace peerup::noise
