// Noise primitives for 25519 + SHA256: the HKDF, X25519 key pairs and DH, and
// the SymmetricState object (chaining key, handshake hash, cipher state).
// Section numbers refer to the Noise Protocol Framework, revision 34.
#pragma once

#include <string_view>
#include <utility>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "wire/noise_cipher.hpp"

namespace peerup::noise {

inline constexpr std::size_t hash_len = 32;  // SHA-256
inline constexpr std::size_t dh_len = 32;    // X25519

// Noise HKDF (section 4.3) with two outputs: all that XX needs.
// SECURITY: the outputs are secrets; callers wipe them.
std::pair<key32, key32> hkdf2(const key32& chaining_key, byte_span input_key_material);

struct x25519_keypair {
  key32 secret{};
  key32 public_key{};

  static x25519_keypair generate();
  static x25519_keypair from_secret(const key32& secret);

  x25519_keypair() = default;
  ~x25519_keypair();
  x25519_keypair(const x25519_keypair&) = default;
  x25519_keypair& operator=(const x25519_keypair&) = default;
};

// X25519(local.secret, remote_public). Fails with invalid_key when the result
// is all zeros, i.e. the remote sent a low-order point that would make the
// shared secret predictable.
result<key32> dh(const x25519_keypair& local, const key32& remote_public);

class symmetric_state {
 public:
  // InitializeSymmetric (section 5.2).
  explicit symmetric_state(std::string_view protocol_name);
  ~symmetric_state();
  symmetric_state(symmetric_state&& other) noexcept;
  symmetric_state& operator=(symmetric_state&& other) noexcept;
  symmetric_state(const symmetric_state&) = delete;
  symmetric_state& operator=(const symmetric_state&) = delete;

  void mix_hash(byte_span data);
  void mix_key(byte_span input_key_material);
  // Appends EncryptAndHash(plaintext) / DecryptAndHash(ciphertext) to `out`.
  result<void> encrypt_and_hash(byte_span plaintext, bytes& out);
  result<void> decrypt_and_hash(byte_span ciphertext, bytes& out);
  // Split (section 5.2): {initiator-to-responder, responder-to-initiator}.
  std::pair<cipher_state, cipher_state> split();

  bool has_key() const { return cipher_.has_key(); }
  const key32& handshake_hash() const { return h_; }

 private:
  key32 ck_{};
  key32 h_{};
  cipher_state cipher_;
};

}  // namespace peerup::noise
