// libp2p Noise secure channel handshake (specs noise/README.md), sans-I/O:
// Noise_XX_25519_ChaChaPoly_SHA256, empty prologue, each side's libp2p
// identity proven by a signed NoiseHandshakePayload.
//
// The I/O driver's view. Every message travels as [2-byte BE length][message];
// the driver adds and strips that header, this class sees bare messages.
//
//   initiator                                  responder
//   1. write_message() -> msg 1: e             1. read_message(msg 1): e (any payload ignored)
//   2. read_message(msg 2): e, ee, s, es +     2. write_message() -> msg 2: e, ee, s, es
//      payload; verify the responder's            + our signed payload
//      identity signature and expected peer
//   3. write_message() -> msg 3: s, se +       3. read_message(msg 3): s, se + payload;
//      our signed payload                         verify the initiator's identity
//   4. finish() -> cipher states, remote key   4. finish() -> cipher states, remote key
//
// The initiator authenticates the responder in step 2, before it reveals its
// own identity in step 3. Any error leaves the handshake failed for good.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/keys.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/noise_cipher.hpp"
#include "wire/noise_xx.hpp"

namespace peerup::noise {

struct handshake_result {
  cipher_state send;
  cipher_state recv;
  public_key remote_key;
  peer_id remote_peer;
  std::vector<std::string> remote_muxers;  // from NoiseExtensions, in the peer's order
};

// Tests only: fixed X25519 secrets instead of fresh random ones.
struct fixed_keys {
  key32 static_secret{};
  key32 ephemeral_secret{};
};

// One host's Noise static key with the signed payload that authenticates
// it, made once and shared by all of the host's handshakes. The spec allows
// it (noise/README.md, Static Key Authentication: "a single static keypair
// may be generated when noise-libp2p is initialized and used for all
// sessions"); rust-libp2p does the same, go-libp2p makes one per session.
// It saves one X25519 base multiplication and one identity signature per
// handshake. Forward secrecy is unchanged: every session still mixes a fresh
// ephemeral key (ee, and es/se with the peer's fresh ephemeral).
// SECURITY: the secret lives in memory only (the spec says never on disk) and
// is wiped when the last handshake using it is gone.
struct local_static {
  x25519_keypair key;
  bytes payload;  // NoiseHandshakePayload: identity key, its signature of key, muxers

  // `muxers` are advertised in the payload (NoiseExtensions), in our order.
  static std::shared_ptr<const local_static> make(const private_key& identity,
                                                  std::vector<std::string> muxers);
};

class handshake {
 public:
  enum class role { initiator, responder };

  // `expected_remote`: the peer we dialed; a different authenticated peer
  // fails with peer_id_mismatch. `local_muxers` are advertised in our payload.
  // The identity key is used during construction only (to sign our static key).
  handshake(role r, const private_key& identity, std::optional<peer_id> expected_remote,
            std::vector<std::string> local_muxers = {});
  handshake(role r, const private_key& identity, std::optional<peer_id> expected_remote,
            std::vector<std::string> local_muxers, const fixed_keys& keys);
  // With the host's long-lived static key and payload (no signature made here).
  handshake(role r, std::shared_ptr<const local_static> local,
            std::optional<peer_id> expected_remote);

  // The next outgoing handshake message, without the 2-byte length prefix.
  // Errors: noise_out_of_order (not our turn, complete or failed), too_large.
  result<bytes> write_message();

  // One incoming handshake message, without its length prefix.
  // Errors: noise_out_of_order, noise_handshake_failed, decrypt_failed,
  // invalid_key (low-order point or bad identity key), bad_signature,
  // peer_id_mismatch, too_large, invalid_protobuf, unsupported_key_type.
  result<void> read_message(byte_span message);

  // True when the next step is write_message() rather than read_message().
  bool wants_write() const { return !failed_ && xx_.is_my_turn(); }
  bool is_complete() const { return !failed_ && xx_.is_complete(); }

  // Once complete: the transport cipher states and the authenticated peer.
  // Callable once. Errors: noise_out_of_order.
  result<handshake_result> finish();

 private:
  handshake(role r, const private_key& identity, std::optional<peer_id> expected_remote,
            std::vector<std::string> local_muxers, const x25519_keypair& static_key,
            std::optional<x25519_keypair> ephemeral);
  result<void> accept_remote_payload(byte_span payload);

  xx_state xx_;
  std::optional<peer_id> expected_remote_;
  // Either our own payload (per-session static key) or the shared one.
  bytes own_payload_;
  std::shared_ptr<const local_static> shared_;
  std::optional<public_key> remote_key_;
  std::optional<peer_id> remote_peer_;
  std::vector<std::string> remote_muxers_;
  bool failed_ = false;
  bool finished_ = false;
};

}  // namespace peerup::noise
