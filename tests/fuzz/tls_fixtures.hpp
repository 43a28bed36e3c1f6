// A fixed certificate key for fuzz_tls_certificate and the corpus generator.
// Mutating a whole certificate breaks its self-signature, so nearly every
// input would stop at that check. The harness's third mode therefore takes a
// TBSCertificate and signs it with this key: whatever the fuzzer changes in
// the extensions, validity or names, the certificate still reaches the
// extension and SignedKey checks. The seeds carry this key's SPKI, and the
// libp2p extension in them is signed over it by fuzz::initiator_identity().
// A test key with no other use; never use it for anything real.
#pragma once

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <string_view>

#include "common/bytes.hpp"

namespace peerup::fuzz {

// SEC1 ECPrivateKey DER, P-256 (openssl genpkey -algorithm EC).
inline constexpr std::string_view tls_fixed_cert_key_hex =
    "30770201010420a5cd140ecec1826ddf93a950038e25b9ef1243fe348ffb8608732ef2f87f43f4a00a06082a8648"
    "ce3d030107a14403420004e691d3d6a09a0469de1b111251c90cca91144b47cce8ee19309ffb4d2cf13421a56754"
    "0df73ce6b16912804a7b50a6467ad304df1345c788178eec1fe4ba439e";

inline bytes tls_hex(std::string_view hex) {
  bytes out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

// The fixed key as a GnuTLS x509 private key (nullptr on failure); the
// caller deinits it.
inline gnutls_x509_privkey_t tls_fixed_cert_key() {
  static const bytes der = tls_hex(tls_fixed_cert_key_hex);
  gnutls_x509_privkey_t key = nullptr;
  if (gnutls_x509_privkey_init(&key) < 0) return nullptr;
  const gnutls_datum_t d = {const_cast<unsigned char*>(der.data()),
                            static_cast<unsigned>(der.size())};
  if (gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_DER) < 0) {
    gnutls_x509_privkey_deinit(key);
    return nullptr;
  }
  return key;
}

inline void tls_append_der(bytes& out, std::uint8_t tag, byte_span content) {
  out.push_back(tag);
  const std::size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n < 0x100) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  }
  append(out, content);
}

// Certificate ::= SEQUENCE { tbs, ecdsa-with-SHA256, BIT STRING signature },
// signed with the fixed key. Empty on failure (or a TBS over 64 KiB).
inline bytes tls_sign_tbs(byte_span tbs) {
  static const bytes ecdsa_with_sha256 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                          0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
  // Parsed once and kept for the life of the process (still reachable, so no
  // leak report).
  static const gnutls_privkey_t key = [] {
    gnutls_privkey_t k = nullptr;
    gnutls_x509_privkey_t x509 = tls_fixed_cert_key();
    if (x509 == nullptr || gnutls_privkey_init(&k) < 0) return gnutls_privkey_t{};
    if (gnutls_privkey_import_x509(k, x509, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
      gnutls_x509_privkey_deinit(x509);
      gnutls_privkey_deinit(k);
      return gnutls_privkey_t{};
    }
    return k;
  }();
  if (key == nullptr || tbs.size() > 0xffff) return {};
  const gnutls_datum_t data = {const_cast<unsigned char*>(tbs.data()),
                               static_cast<unsigned>(tbs.size())};
  gnutls_datum_t sig{};
  if (gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0, &data, &sig) < 0) return {};
  bytes bits = {0x00};  // no unused bits
  append(bits, byte_span(sig.data, sig.size));
  gnutls_free(sig.data);
  bytes body(tbs.begin(), tbs.end());
  append(body, ecdsa_with_sha256);
  tls_append_der(body, 0x03, bits);
  bytes out;
  tls_append_der(out, 0x30, body);
  return out;
}

}  // namespace peerup::fuzz
