#include "wire/noise_cipher.hpp"

#include <openssl/evp.h>
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

// ChaCha20-Poly1305 through OpenSSL: its AVX2/AVX-512 code runs about 4x
// faster than libsodium's on our machines (bench/README.md), and this is the
// throughput hot path. The cipher is fetched once; a context per call costs
// one allocation, so each thread keeps one.
const EVP_CIPHER* chacha20_poly1305() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return cipher;
}

EVP_CIPHER_CTX* thread_context() {
  struct holder {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~holder() { EVP_CIPHER_CTX_free(ctx); }
  };
  thread_local holder h;
  return h.ctx;
}

// Encrypts (or decrypts) `len` bytes from `in` to `out` (may be equal) with
// additional data `ad`; on encrypt writes the tag, on decrypt checks it.
bool aead(bool encrypt, const key32& key, const nonce12& nonce, byte_span ad,
          const std::uint8_t* in, std::size_t len, std::uint8_t* out, std::uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = thread_context();
  int n = 0;
  if (!ctx || !chacha20_poly1305() ||
      EVP_CipherInit_ex(ctx, chacha20_poly1305(), nullptr, key.data(), nonce.data(),
                        encrypt ? 1 : 0) != 1)
    return false;
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag_size, tag) != 1) return false;
  if (!ad.empty() &&
      EVP_CipherUpdate(ctx, nullptr, &n, ad.data(), static_cast<int>(ad.size())) != 1)
    return false;
  if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, static_cast<int>(len)) != 1) return false;
  if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) return false;  // checks the tag on decrypt
  return !encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_size, tag) == 1;
}

// Seals the concatenation of `parts` (no additional data) to `out`, tag after
// it: one AEAD message, as if the parts were one buffer.
bool seal_parts(const key32& key, const nonce12& nonce, std::span<const byte_span> parts,
                std::uint8_t* out) {
  EVP_CIPHER_CTX* ctx = thread_context();
  int n = 0;
  if (!ctx || !chacha20_poly1305() ||
      EVP_CipherInit_ex(ctx, chacha20_poly1305(), nullptr, key.data(), nonce.data(), 1) != 1)
    return false;
  std::size_t off = 0;
  for (byte_span part : parts) {
    if (part.empty()) continue;
    if (EVP_CipherUpdate(ctx, out + off, &n, part.data(), static_cast<int>(part.size())) != 1)
      return false;
    off += part.size();
  }
  if (EVP_CipherFinal_ex(ctx, out + off, &n) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_size, out + off) == 1;
}

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
  // Frames are at most 64 KiB, so the int casts in aead() cannot overflow.
  if (!aead(true, k_, nonce, ad, in, len, out, out + len)) return errc::invalid_argument;
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

result<void> cipher_state::encrypt_frame_to(byte_span plaintext, std::uint8_t* out) {
  if (!has_key_) return errc::invalid_argument;
  if (plaintext.size() > max_plaintext) return errc::too_large;
  if (auto sealed = seal({}, plaintext.data(), plaintext.size(), out + frame_header_size); !sealed)
    return sealed;
  write_frame_length(plaintext.size() + tag_size, out);
  return {};
}

result<void> cipher_state::encrypt_frame_to(std::span<const byte_span> plaintext,
                                            std::uint8_t* out) {
  if (!has_key_) return errc::invalid_argument;
  std::size_t len = 0;
  for (byte_span part : plaintext) {
    // SECURITY: the sum is checked part by part, so it cannot wrap.
    if (part.size() > max_plaintext - len) return errc::too_large;
    len += part.size();
  }
  if (n_ == nonce_limit) return errc::nonce_exhausted;
  if (!seal_parts(k_, make_nonce(n_), plaintext, out + frame_header_size))
    return errc::invalid_argument;
  ++n_;
  write_frame_length(len + tag_size, out);
  return {};
}

result<std::size_t> cipher_state::decrypt_to(byte_span ciphertext_with_tag, std::uint8_t* out) {
  if (!has_key_) return errc::invalid_argument;
  if (ciphertext_with_tag.size() < tag_size) return errc::decrypt_failed;
  if (n_ == nonce_limit) return errc::nonce_exhausted;
  const std::size_t len = ciphertext_with_tag.size() - tag_size;
  const nonce12 nonce = make_nonce(n_);
  // OpenSSL writes plaintext before it checks the tag (in EVP_CipherFinal):
  // on failure the caller drops `out` and closes the connection, so no
  // unauthenticated byte is ever handed out. aead() wants a mutable tag
  // pointer for both directions; on decrypt it only reads it.
  auto* tag = const_cast<std::uint8_t*>(ciphertext_with_tag.data() + len);
  if (!aead(false, k_, nonce, {}, ciphertext_with_tag.data(), len, out, tag))
    return errc::decrypt_failed;
  ++n_;
  return len;
}

result<mutable_byte_span> cipher_state::decrypt_in_place(mutable_byte_span ciphertext_with_tag) {
  auto n = decrypt_to(ciphertext_with_tag, ciphertext_with_tag.data());
  if (!n) return n.error();
  return ciphertext_with_tag.first(*n);
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
  bytes tag(ciphertext.end() - tag_size, ciphertext.end());
  if (!aead(false, k_, nonce, ad, ciphertext.data(), len, out.data() + start, tag.data())) {
    out.resize(start);
    return errc::decrypt_failed;
  }
  ++n_;
  return {};
}

}  // namespace peerup::noise
