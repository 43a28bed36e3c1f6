// Noise CipherState for ChaChaPoly (ChaCha20-Poly1305 IETF, 96-bit nonce) and
// the libp2p noise framing: every Noise message rides in a frame of
// [2-byte big-endian length][message], message <= 65535 bytes.
//
// This is the throughput hot path: encryption writes straight into the
// caller's output buffer and decryption works in place, so a frame costs no
// heap allocation once the caller's buffers have capacity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::noise {

inline constexpr std::string_view protocol_id = "/noise";
inline constexpr std::size_t frame_header_size = 2;
inline constexpr std::size_t max_frame = 65535;  // largest Noise message (spec)
inline constexpr std::size_t tag_size = 16;      // Poly1305 tag
inline constexpr std::size_t max_plaintext = max_frame - tag_size;
inline constexpr std::size_t key_size = 32;

using key32 = std::array<std::uint8_t, key_size>;

inline void write_frame_length(std::size_t n, std::uint8_t* out) {
  out[0] = static_cast<std::uint8_t>(n >> 8);
  out[1] = static_cast<std::uint8_t>(n);
}

// Length of the Noise message that follows a 2-byte frame header.
inline std::size_t read_frame_length(std::span<const std::uint8_t, frame_header_size> header) {
  return (std::size_t{header[0]} << 8) | header[1];
}

class cipher_state {
 public:
  cipher_state() = default;  // no key: handshake messages pass through in clear
  explicit cipher_state(const key32& key);
  ~cipher_state();
  cipher_state(cipher_state&& other) noexcept;
  cipher_state& operator=(cipher_state&& other) noexcept;
  cipher_state(const cipher_state&) = delete;
  cipher_state& operator=(const cipher_state&) = delete;

  bool has_key() const { return has_key_; }
  std::uint64_t nonce() const { return n_; }

  // Appends [2-byte BE length][ciphertext || tag] to `out`. Allocates only if
  // `out` lacks capacity. `plaintext` must not alias `out`, and must be at most
  // max_plaintext bytes (the caller chunks larger writes). Note: growing `out`
  // zero-fills before encrypting; encrypt_frame_in_place avoids even that.
  // Errors: too_large, nonce_exhausted (2^64-1 frames sent: close the
  // connection), invalid_argument (no key). On error `out` is unchanged.
  result<void> encrypt_frame(byte_span plaintext, bytes& out);

  // Seals a frame the caller laid out itself: frame = [2 spare bytes]
  // [plaintext][16 spare bytes]. Fills in the length and encrypts in place, for
  // callers that read plaintext straight into their send buffer.
  result<void> encrypt_frame_in_place(mutable_byte_span frame);

  // Writes the whole frame [2-byte BE length][ciphertext || tag] to `out`,
  // which must have frame_size(plaintext.size()) bytes and may not overlap
  // `plaintext`. For send buffers that are never zero-filled first.
  result<void> encrypt_frame_to(byte_span plaintext, std::uint8_t* out);
  // The same for a plaintext given in pieces (their concatenation, at most
  // max_plaintext bytes in all): a Yamux header and the payload it frames are
  // sealed straight from where they lie, with no copy into one buffer first.
  result<void> encrypt_frame_to(std::span<const byte_span> plaintext, std::uint8_t* out);
  static constexpr std::size_t frame_size(std::size_t plaintext_len) {
    return frame_header_size + plaintext_len + tag_size;
  }

  // Decrypts one Noise transport message (ciphertext || tag, no length header)
  // in place and returns the plaintext, a prefix of the same buffer.
  // The nonce advances only on success. On failure the buffer holds
  // unauthenticated bytes that must not be used, and the connection must be
  // closed.
  // Errors: decrypt_failed (bad tag or shorter than a tag), nonce_exhausted,
  // invalid_argument (no key).
  result<mutable_byte_span> decrypt_in_place(mutable_byte_span ciphertext_with_tag);
  // The same, writing the plaintext (ciphertext_with_tag.size() - tag_size
  // bytes) to `out` instead: saves a copy when the caller's read buffer can
  // take a whole frame. On failure `out` holds bytes that must not be used.
  result<std::size_t> decrypt_to(byte_span ciphertext_with_tag, std::uint8_t* out);

  // Noise EncryptWithAd / DecryptWithAd for handshake payloads. Without a key
  // these copy the input unchanged, as the Noise spec requires.
  result<void> encrypt_with_ad(byte_span ad, byte_span plaintext, bytes& out);
  result<void> decrypt_with_ad(byte_span ad, byte_span ciphertext, bytes& out);

  // Tests only: lets nonce exhaustion be reached without 2^64 messages.
  void set_nonce_for_testing(std::uint64_t n) { n_ = n; }

 private:
  result<void> seal(byte_span ad, const std::uint8_t* in, std::size_t len, std::uint8_t* out);
  void wipe() noexcept;

  key32 k_{};
  std::uint64_t n_ = 0;
  bool has_key_ = false;
};

}  // namespace peerup::noise
