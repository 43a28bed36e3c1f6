#include "wire/noise_symmetric.hpp"

#include <sodium.h>

#include <cstring>

namespace peerup::noise {
namespace {

static_assert(crypto_hash_sha256_BYTES == hash_len);
static_assert(crypto_auth_hmacsha256_BYTES == hash_len);
static_assert(crypto_scalarmult_BYTES == dh_len);
static_assert(crypto_scalarmult_SCALARBYTES == dh_len);

// HMAC-SHA256 over the concatenation of up to two inputs, so HKDF needs no
// temporary buffer for "previous output || counter byte".
key32 hmac(const key32& key, byte_span a, byte_span b = {}) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, a.data(), a.size());
  crypto_auth_hmacsha256_update(&st, b.data(), b.size());
  key32 out;
  crypto_auth_hmacsha256_final(&st, out.data());
  sodium_memzero(&st, sizeof st);
  return out;
}

}  // namespace

std::pair<key32, key32> hkdf2(const key32& chaining_key, byte_span input_key_material) {
  key32 temp_key = hmac(chaining_key, input_key_material);
  const std::uint8_t one = 0x01;
  const std::uint8_t two = 0x02;
  key32 out1 = hmac(temp_key, {&one, 1});
  key32 out2 = hmac(temp_key, out1, {&two, 1});
  sodium_memzero(temp_key.data(), temp_key.size());
  return {out1, out2};
}

x25519_keypair x25519_keypair::generate() {
  key32 secret;
  randombytes_buf(secret.data(), secret.size());
  x25519_keypair kp = from_secret(secret);
  sodium_memzero(secret.data(), secret.size());
  return kp;
}

x25519_keypair x25519_keypair::from_secret(const key32& secret) {
  x25519_keypair kp;
  kp.secret = secret;
  crypto_scalarmult_base(kp.public_key.data(), kp.secret.data());
  return kp;
}

x25519_keypair::~x25519_keypair() { sodium_memzero(secret.data(), secret.size()); }

result<key32> dh(const x25519_keypair& local, const key32& remote_public) {
  key32 shared;
  // SECURITY: libsodium returns -1 when the output is all zeros, which happens
  // exactly for low-order remote points.
  if (crypto_scalarmult(shared.data(), local.secret.data(), remote_public.data()) != 0) {
    sodium_memzero(shared.data(), shared.size());
    return errc::invalid_key;
  }
  return shared;
}

symmetric_state::symmetric_state(std::string_view protocol_name) {
  // Names up to HASHLEN bytes are zero-padded, longer ones hashed.
  if (protocol_name.size() <= hash_len) {
    std::memcpy(h_.data(), protocol_name.data(), protocol_name.size());
  } else {
    crypto_hash_sha256(h_.data(), reinterpret_cast<const unsigned char*>(protocol_name.data()),
                       protocol_name.size());
  }
  ck_ = h_;
}

symmetric_state::~symmetric_state() {
  sodium_memzero(ck_.data(), ck_.size());
  sodium_memzero(h_.data(), h_.size());
}

symmetric_state::symmetric_state(symmetric_state&& other) noexcept
    : ck_(other.ck_), h_(other.h_), cipher_(std::move(other.cipher_)) {
  sodium_memzero(other.ck_.data(), other.ck_.size());
  sodium_memzero(other.h_.data(), other.h_.size());
}

symmetric_state& symmetric_state::operator=(symmetric_state&& other) noexcept {
  if (this != &other) {
    ck_ = other.ck_;
    h_ = other.h_;
    cipher_ = std::move(other.cipher_);
    sodium_memzero(other.ck_.data(), other.ck_.size());
    sodium_memzero(other.h_.data(), other.h_.size());
  }
  return *this;
}

void symmetric_state::mix_hash(byte_span data) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, h_.data(), h_.size());
  crypto_hash_sha256_update(&st, data.data(), data.size());
  crypto_hash_sha256_final(&st, h_.data());
}

void symmetric_state::mix_key(byte_span input_key_material) {
  auto [ck, k] = hkdf2(ck_, input_key_material);
  ck_ = ck;
  cipher_ = cipher_state(k);  // HASHLEN == 32, so no truncation is needed
  sodium_memzero(ck.data(), ck.size());
  sodium_memzero(k.data(), k.size());
}

result<void> symmetric_state::encrypt_and_hash(byte_span plaintext, bytes& out) {
  const std::size_t start = out.size();
  auto r = cipher_.encrypt_with_ad(h_, plaintext, out);
  if (!r) return r;
  mix_hash(byte_span(out).subspan(start));
  return {};
}

result<void> symmetric_state::decrypt_and_hash(byte_span ciphertext, bytes& out) {
  auto r = cipher_.decrypt_with_ad(h_, ciphertext, out);
  if (!r) return r;
  mix_hash(ciphertext);
  return {};
}

std::pair<cipher_state, cipher_state> symmetric_state::split() {
  auto [k1, k2] = hkdf2(ck_, {});
  std::pair<cipher_state, cipher_state> out{cipher_state(k1), cipher_state(k2)};
  sodium_memzero(k1.data(), k1.size());
  sodium_memzero(k2.data(), k2.size());
  return out;
}

}  // namespace peerup::noise
