// The Noise HandshakeState for exactly one protocol,
// Noise_XX_25519_ChaChaPoly_SHA256, with an arbitrary prologue and payloads.
// It knows nothing of libp2p (see noise_handshake.hpp), which keeps it
// checkable against the published Noise test vectors.
//
//   XX:
//     -> e
//     <- e, ee, s, es
//     -> s, se
#pragma once

#include <optional>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "wire/noise_symmetric.hpp"

namespace peerup::noise {

inline constexpr std::string_view xx_protocol_name = "Noise_XX_25519_ChaChaPoly_SHA256";

class xx_state {
 public:
  enum class role { initiator, responder };

  // `ephemeral` is for test vectors only; normally a fresh key is generated
  // when the first message that needs it is written.
  xx_state(role r, byte_span prologue, const x25519_keypair& local_static,
           std::optional<x25519_keypair> ephemeral = std::nullopt);

  // True when the next step is writing (rather than reading) a message.
  bool is_my_turn() const;
  bool is_complete() const { return step_ == 3; }
  // Index of the next message, 0..2; 3 once complete.
  int step() const { return step_; }

  // Appends the next handshake message carrying `payload` to `out`.
  // Errors: noise_out_of_order, too_large (message would exceed max_frame).
  result<void> write_message(byte_span payload, bytes& out);

  // Processes the next incoming message and appends its payload to `payload_out`.
  // Errors: noise_out_of_order, noise_handshake_failed (wrong size),
  // invalid_key (low-order point), decrypt_failed.
  result<void> read_message(byte_span message, bytes& payload_out);

  // Valid once a static key has been received (after message 2 for the
  // initiator, message 3 for the responder).
  const key32& remote_static() const { return rs_; }
  const key32& local_static_public() const { return s_.public_key; }
  const key32& handshake_hash() const { return ss_.handshake_hash(); }

  // {send, recv} cipher states for this side. Only once complete.
  result<std::pair<cipher_state, cipher_state>> split();

 private:
  result<void> mix_dh(const x25519_keypair& local, const key32& remote);
  void fail() { step_ = failed_step; }

  static constexpr int failed_step = -1;

  role role_;
  symmetric_state ss_;
  x25519_keypair s_;
  x25519_keypair e_;
  key32 rs_{};
  key32 re_{};
  bool fixed_ephemeral_ = false;
  bool split_done_ = false;
  int step_ = 0;
};

}  // namespace peerup::noise
