// One-time sealing; see sealed.hpp for the construction.
#include "crypto/sealed.hpp"

#include <sodium.h>

#include <algorithm>

namespace peerup::crypto {
namespace {

std::array<std::uint8_t, 32> derive(byte_span secret, std::string_view context) {
  // SECURITY: the context is a constant of ours (at most 255 bytes, checked
  // here so its length byte cannot wrap into the secret).
  bytes in;
  in.reserve(1 + context.size() + secret.size());
  in.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(context.size(), 255)));
  in.insert(in.end(), context.begin(), context.begin() + std::min<std::size_t>(context.size(), 255));
  in.insert(in.end(), secret.begin(), secret.end());
  std::array<std::uint8_t, 32> out{};
  crypto_generichash(out.data(), out.size(), in.data(), in.size(), nullptr, 0);
  sodium_memzero(in.data(), in.size());
  return out;
}

}  // namespace

bytes seal_once(byte_span secret, std::string_view context, byte_span plain) {
  static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == sealed_overhead);
  auto key = derive(secret, context);
  const std::array<std::uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  bytes out(plain.size() + sealed_overhead);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data(), &n, plain.data(), plain.size(),
      reinterpret_cast<const unsigned char*>(context.data()), context.size(), nullptr,
      nonce.data(), key.data());
  sodium_memzero(key.data(), key.size());
  out.resize(n);
  return out;
}

result<bytes> open_once(byte_span secret, std::string_view context, byte_span sealed) {
  if (sealed.size() < sealed_overhead) return make_error_code(errc::decrypt_failed);
  auto key = derive(secret, context);
  const std::array<std::uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  bytes out(sealed.size() - sealed_overhead);
  unsigned long long n = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      out.data(), &n, nullptr, sealed.data(), sealed.size(),
      reinterpret_cast<const unsigned char*>(context.data()), context.size(), nonce.data(),
      key.data());
  sodium_memzero(key.data(), key.size());
  if (rc != 0) return make_error_code(errc::decrypt_failed);
  out.resize(n);
  return out;
}

std::array<std::uint8_t, 8> derive_handle(byte_span secret, std::string_view context) {
  const auto full = derive(secret, context);
  std::array<std::uint8_t, 8> out{};
  std::copy_n(full.begin(), out.size(), out.begin());
  return out;
}

}  // namespace peerup::crypto
