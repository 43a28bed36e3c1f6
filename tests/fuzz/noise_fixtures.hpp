// Fixed identities and X25519 keys for the Noise fuzz target and the corpus
// generator. Ed25519 signatures and X25519 are deterministic, so with these
// keys the responder's message 2 is always the same and a message 3 recorded
// by make_corpus stays valid for the fuzz target.
#pragma once

#include "crypto/keys.hpp"
#include "wire/noise_handshake.hpp"
#include "wire/noise_payload.hpp"

namespace peerup::fuzz {

inline private_key fixed_identity(std::uint8_t fill) {
  return private_key::from_seed(bytes(private_key::seed_length, fill)).value();
}

inline noise::fixed_keys fixed_noise_keys(std::uint8_t static_fill, std::uint8_t ephemeral_fill) {
  noise::fixed_keys k;
  k.static_secret.fill(static_fill);
  k.ephemeral_secret.fill(ephemeral_fill);
  return k;
}

inline private_key initiator_identity() { return fixed_identity(0x01); }
inline private_key responder_identity() { return fixed_identity(0x02); }
inline noise::fixed_keys initiator_keys() { return fixed_noise_keys(0x11, 0x12); }
inline noise::fixed_keys responder_keys() { return fixed_noise_keys(0x21, 0x22); }

// The raw XX state equivalent to a noise::handshake built with `k` (empty
// prologue), so a harness can put any payload in a correctly encrypted message.
inline noise::xx_state raw_xx(noise::xx_state::role r, const noise::fixed_keys& k) {
  return noise::xx_state(r, {}, noise::x25519_keypair::from_secret(k.static_secret),
                         noise::x25519_keypair::from_secret(k.ephemeral_secret));
}

// The payload a real peer with `identity` and static key `k` sends.
inline bytes signed_payload(const private_key& identity, const noise::fixed_keys& k,
                            std::vector<std::string> muxers) {
  noise::handshake_payload p;
  p.identity_key = identity.get_public_key().to_protobuf();
  const auto static_pub = noise::x25519_keypair::from_secret(k.static_secret).public_key;
  p.identity_sig = identity.sign(noise::static_key_signing_input(static_pub));
  p.stream_muxers = std::move(muxers);
  return noise::encode_payload(p);
}

}  // namespace peerup::fuzz
