#include "wire/noise_cipher.hpp"

#include <sodium.h>

#include <cstring>
#include <limits>

namespace peerup::noise {
namespace {

static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == key_size);
static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == tag_size);
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);

// Noise ChaChaPoly nonce: 32 zero bits, then the counter as 64-bit little endian.
using nonce12 = std::array<std::uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES>;
nonce12 make_nonce(std::uint64_t n) {
  nonce12 out{};
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return out;
}

// 2^64-1 is reserved by the Noise spec: using it would be a nonce the peer
// must reject, and wrapping to 0 would reuse a nonce.
constexpr std::uint64_t nonce_limit = std::numeric_limits<std::uint64_t>::max();

}  // namespace

cipher_state::cipher_state(const key32& key) : k_(key), has_key_(true) {}

cipher_state::~cipher_state() { wipe(); }

cipher_state::cipher_state(cipher_state&& other) noexcept
    : k_(other.k_), n_(other.n_), has_key_(other.has_key_) {
  other.wipe();
}

cipher_state& cipher_state::operator=(cipher_state&& other) noexcept {
  if (this != &other) {
    k_ = other.k_;
    n_ = other.n_;
    has_key_ = other.has_key_;
    other.wipe();
  }
  return *this;
}

void cipher_state::wipe() noexcept {
  sodium_memzero(k_.data(), k_.size());
  n_ = 0;
  has_key_ = false;
}

result<void> cipher_state::seal(byte_span ad, const std::uint8_t* in, std::size_t len,
                                std::uint8_t* out) {
  if (n_ == nonce_limit) return errc::nonce_exhausted;
  const nonce12 nonce = make_nonce(n_);
  // In-place (out == in) is supported: the stream cipher XORs byte by byte and
  // the tag is computed over the ciphertext afterwards.
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + len, nullptr, in, len, ad.data(),
                                                     ad.size(), nullptr, nonce.data(), k_.data());
  ++n_;
  return {};
}

result<void> cipher_state::encrypt_frame(byte_span plaintext, bytes& out) {
  if (!has_key_) return errc::invalid_argument;
  if (plaintext.size() > max_plaintext) return errc::too_large;
  const std::size_t start = out.size();
  const std::size_t len = plaintext.size();
  out.resize(start + frame_header_size + len + tag_size);
  std::uint8_t* frame = out.data() + start;
  auto sealed = seal({}, plaintext.data(), len, frame + frame_header_size);
  if (!sealed) {
    out.resize(start);
    return sealed;
  }
  write_frame_length(len + tag_size, frame);
  return {};
}

result<void> cipher_state::encrypt_frame_in_place(mutable_byte_span frame) {
  if (!has_key_ || frame.size() < frame_header_size + tag_size) return errc::invalid_argument;
  const std::size_t len = frame.size() - frame_header_size - tag_size;
  if (len > max_plaintext) return errc::too_large;
  std::uint8_t* body = frame.data() + frame_header_size;
  auto sealed = seal({}, body, len, body);
  if (!sealed) return sealed;
  write_frame_length(len + tag_size, frame.data());
  return {};
}

result<mutable_byte_span> cipher_state::decrypt_in_place(mutable_byte_span ciphertext_with_tag) {
  if (!has_key_) return errc::invalid_argument;
  if (ciphertext_with_tag.size() < tag_size) return errc::decrypt_failed;
  if (n_ == nonce_limit) return errc::nonce_exhausted;
  const std::size_t len = ciphertext_with_tag.size() - tag_size;
  std::uint8_t* data = ciphertext_with_tag.data();
  const nonce12 nonce = make_nonce(n_);
  // libsodium checks the tag before it writes any plaintext, so decrypting in
  // place never exposes unauthenticated bytes.
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(data, nullptr, data, len, data + len,
                                                         nullptr, 0, nonce.data(), k_.data()) != 0)
    return errc::decrypt_failed;
  ++n_;
  return ciphertext_with_tag.first(len);
}

result<void> cipher_state::encrypt_with_ad(byte_span ad, byte_span plaintext, bytes& out) {
  if (!has_key_) {
    append(out, plaintext);
    return {};
  }
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + tag_size);
  auto sealed = seal(ad, plaintext.data(), plaintext.size(), out.data() + start);
  if (!sealed) out.resize(start);
  return sealed;
}

result<void> cipher_state::decrypt_with_ad(byte_span ad, byte_span ciphertext, bytes& out) {
  if (!has_key_) {
    append(out, ciphertext);
    return {};
  }
  if (ciphertext.size() < tag_size) return errc::decrypt_failed;
  if (n_ == nonce_limit) return errc::nonce_exhausted;
  const std::size_t len = ciphertext.size() - tag_size;
  const std::size_t start = out.size();
  out.resize(start + len);
  const nonce12 nonce = make_nonce(n_);
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
          out.data() + start, nullptr, ciphertext.data(), len, ciphertext.data() + len, ad.data(),
          ad.size(), nonce.data(), k_.data()) != 0) {
    out.resize(start);
    return errc::decrypt_failed;
  }
  ++n_;
  return {};
}

}  // namespace peerup::noise
