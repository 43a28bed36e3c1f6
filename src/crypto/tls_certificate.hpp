// The libp2p TLS 1.3 certificate (libp2p specs tls/tls.md), sans-I/O: build our
// self-signed certificate and check a peer's. The TLS handshake itself (ALPN
// "libp2p", client certificates required, no SNI) belongs to the transport;
// src/crypto/tls_gnutls.hpp plugs these two functions into a GnuTLS session.
//
// The certificate is signed by a fresh certificate key, not by the host key
// (tls.md: arbitrary host key types, unrelated keys). The host key vouches for
// the certificate key through the libp2p Public Key Extension
// (OID 1.3.6.1.4.1.53594.1.1):
//
//   SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }
//
// publicKey is the host's PublicKey protobuf; signature is the host key's
// signature over "libp2p-tls-handshake:" || the certificate's
// SubjectPublicKeyInfo (DER, exactly as it appears in the certificate).
//
// Policy of verify_tls_certificate (what tls.md requires, plus our bounds):
// - one certificate (the chain overload), at most max_tls_certificate_length
//   bytes, strict DER X.509 v3, no issuerUniqueID/subjectUniqueID;
// - NotBefore <= now <= NotAfter;
// - certificate key: ECDSA P-256/P-384/P-521, Ed25519, Ed448, or RSA
//   (PKCS#1 or PSS) of 2048..8192 bits; the self-signature verifies with it
//   under a signature algorithm GnuTLS considers secure (no SHA-1, no MD5);
// - exactly one libp2p extension, critical or not (go leaves it non-critical,
//   rust and js mark it critical); any other critical extension must be one we
//   understand: basicConstraints, extKeyUsage, or keyUsage that allows
//   digitalSignature;
// - SignedKey is strict DER with nothing after it; the host key is a PublicKey
//   protobuf public_key accepts (Ed25519, secp256k1, ECDSA, RSA 2048..8192);
// - the SignedKey signature verifies with the host key.
// Our certificates: an ECDSA P-256 certificate key with ecdsa-with-SHA256, as
// go-, rust- and js-libp2p make them, so every implementation can check them;
// valid from one hour before `now` (clock skew) for 100 years, like go and js;
// the libp2p extension is the only extension (js-libp2p reads extensions[0])
// and is non-critical, as go sends it.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/keys.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup {

// SECURITY: bounds on untrusted certificate bytes. A certificate with an
// 8192-bit RSA host key (1.1 KB protobuf + 1 KB signature) and an 8192-bit RSA
// certificate key (1.1 KB key + 1 KB self-signature) stays under 5 KB.
inline constexpr std::size_t max_tls_certificate_length = 8 * 1024;
// SignedKey: a 2048-byte PublicKey protobuf (public_key::max_protobuf_length)
// plus a 1024-byte signature (RSA-8192), with DER headers.
inline constexpr std::size_t max_signed_key_length = 3 * 1024 + 16;
// A certificate with more extensions than this is refused unread.
inline constexpr std::size_t max_tls_extensions = 32;

inline constexpr std::string_view libp2p_tls_extension_oid = "1.3.6.1.4.1.53594.1.1";
inline constexpr std::string_view libp2p_tls_signature_prefix = "libp2p-tls-handshake:";
// ALPN protocol of the libp2p TLS handshake (tls.md "ALPN").
inline constexpr std::string_view libp2p_tls_alpn = "libp2p";

// A certificate and its fresh key for one host identity (tls.md: the
// certificate key is not the host key). private_key_der can impersonate the
// host for the certificate's lifetime: it is wiped on destruction, and callers
// must not log or persist it.
struct tls_identity {
  bytes certificate_der;  // self-signed X.509 v3 carrying the libp2p extension
  bytes private_key_der;  // unencrypted PKCS#8 DER of the certificate key

  tls_identity() = default;
  tls_identity(bytes certificate, bytes key)
      : certificate_der(std::move(certificate)), private_key_der(std::move(key)) {}
  tls_identity(const tls_identity&) = default;
  tls_identity(tls_identity&&) noexcept = default;
  tls_identity& operator=(const tls_identity&) = default;
  tls_identity& operator=(tls_identity&&) noexcept = default;
  ~tls_identity();
};

// Generates a certificate key and a certificate for `host_key`, valid from
// now - 1 h to now + 100 years. errc::tls_certificate_generation if GnuTLS
// fails (no entropy, out of memory).
result<tls_identity> make_tls_identity(const private_key& host_key,
                                       std::chrono::system_clock::time_point now);

// Verifies a peer's certificate as tls.md requires (policy above) and returns
// the peer's host public key; the peer ID is its to_peer_id(). Errors name the
// check that failed: errc::tls_certificate_too_large, tls_certificate_malformed,
// tls_certificate_not_yet_valid, tls_certificate_expired,
// tls_certificate_key_refused, tls_certificate_bad_self_signature,
// tls_extension_missing, tls_extension_malformed, tls_unknown_critical_extension,
// tls_host_key_refused, tls_host_signature_invalid; errc::resource_limit when
// GnuTLS cannot allocate.
result<public_key> verify_tls_certificate(byte_span certificate_der,
                                          std::chrono::system_clock::time_point now);
// As above, for a dialer that knows whom it dialed: errc::peer_id_mismatch
// when the certificate is valid but authenticates another peer.
result<public_key> verify_tls_certificate(byte_span certificate_der,
                                          std::chrono::system_clock::time_point now,
                                          const peer_id& expected);
// The chain a TLS peer sent: errc::tls_certificate_chain unless it holds
// exactly one certificate (tls.md), then verify_tls_certificate.
result<public_key> verify_tls_certificate_chain(std::span<const byte_span> chain,
                                                std::chrono::system_clock::time_point now);

// The SignedKey codec, exposed for tests and the fuzzer.
struct signed_key {
  bytes public_key;  // PublicKey protobuf of the host key
  bytes signature;   // host key signature over prefix || SubjectPublicKeyInfo
};
// Strict DER: definite minimal lengths, nothing after the SEQUENCE, at most
// max_signed_key_length bytes. errc::too_large, errc::tls_extension_malformed.
result<signed_key> decode_signed_key(byte_span der);
bytes encode_signed_key(byte_span public_key_protobuf, byte_span signature);

// The message the host key signs: libp2p_tls_signature_prefix || spki_der.
bytes tls_signature_message(byte_span spki_der);

}  // namespace peerup
