#include "crypto/openssl_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <memory>
#include <string_view>

namespace peerup::openssl_keys {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

// go-libp2p's bounds: smaller RSA keys are forgeable, larger ones a DoS vector.
constexpr int min_rsa_bits = 2048;
constexpr int max_rsa_bits = 8192;
// An 8192-bit RSA signature is 1024 bytes; DER ECDSA signatures are far smaller.
constexpr std::size_t max_signature_length = 1024;
constexpr std::size_t secp256k1_compressed_length = 33;

constexpr std::array<std::string_view, 3> ecdsa_curves = {"prime256v1", "secp384r1", "secp521r1"};

// Leaves no stale entries in OpenSSL's thread-local error queue for unrelated
// code to trip over.
struct clear_errors_on_exit {
  ~clear_errors_on_exit() { ERR_clear_error(); }
};

bool public_check(EVP_PKEY* key) {
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

bool named_curve_is(EVP_PKEY* key, std::string_view wanted) {
  std::array<char, 64> name{};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name.data(), name.size(),
                                     &len) != 1) {
    return false;
  }
  return std::string_view(name.data(), len) == wanted;
}

// DER SubjectPublicKeyInfo, accepted only in its canonical encoding: other
// implementations derive peer IDs from the re-encoded key, so any other byte
// form would give us a different ID for the same key.
pkey_ptr parse_spki(byte_span der) {
  const unsigned char* p = der.data();
  pkey_ptr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != der.data() + der.size()) return nullptr;
  unsigned char* reencoded = nullptr;
  const int n = i2d_PUBKEY(key.get(), &reencoded);
  const bool canonical =
      n == static_cast<int>(der.size()) && std::memcmp(reencoded, der.data(), der.size()) == 0;
  OPENSSL_free(reencoded);
  return canonical ? std::move(key) : nullptr;
}

pkey_ptr load_rsa(byte_span der) {
  auto key = parse_spki(der);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return nullptr;
  const int bits = EVP_PKEY_get_bits(key.get());
  if (bits < min_rsa_bits || bits > max_rsa_bits) return nullptr;
  return key;
}

pkey_ptr load_ecdsa(byte_span der) {
  auto key = parse_spki(der);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) return nullptr;
  bool known_curve = false;
  for (auto curve : ecdsa_curves) known_curve = known_curve || named_curve_is(key.get(), curve);
  if (!known_curve || !public_check(key.get())) return nullptr;
  return key;
}

pkey_ptr load_secp256k1(byte_span point) {
  // Compressed SEC1 point only: go-libp2p re-encodes keys compressed before
  // deriving peer IDs, so that is the one form with a stable ID.
  if (point.size() != secp256k1_compressed_length || (point[0] != 0x02 && point[0] != 0x03)) {
    return nullptr;
  }
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  char group[] = "secp256k1";
  bytes point_copy(point.begin(), point.end());  // OSSL_PARAM wants a mutable pointer
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point_copy.data(),
                                        point_copy.size()),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) return nullptr;
  pkey_ptr key(raw);
  if (!public_check(key.get())) return nullptr;
  return key;
}

pkey_ptr load(key_type type, byte_span data) {
  switch (type) {
    case key_type::rsa: return load_rsa(data);
    case key_type::ecdsa: return load_ecdsa(data);
    case key_type::secp256k1: return load_secp256k1(data);
    default: return nullptr;
  }
}

}  // namespace

boost::system::error_code validate(key_type type, byte_span data) {
  clear_errors_on_exit guard;
  if (type != key_type::rsa && type != key_type::ecdsa && type != key_type::secp256k1) {
    return errc::unsupported_key_type;
  }
  return load(type, data) ? boost::system::error_code{} : errc::invalid_key;
}

bool verify(key_type type, byte_span data, byte_span message, byte_span signature) {
  clear_errors_on_exit guard;
  if (signature.empty() || signature.size() > max_signature_length) return false;
  auto key = load(type, data);
  if (!key) return false;
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  // RSA defaults to PKCS#1 v1.5 padding; EC keys take DER-encoded (r, s).
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

}  // namespace peerup::openssl_keys
