#include "crypto/tls_certificate.hpp"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

namespace peerup {
namespace {

using std::chrono::system_clock;

// ---------------------------------------------------------------------------
// A minimal strict-DER reader: just enough to split a certificate into its
// raw parts and to decode SignedKey. It handles single-byte tags and definite
// lengths of up to two length bytes (65535), which covers everything under
// max_tls_certificate_length; anything else is malformed.

struct der_element {
  std::uint8_t tag = 0;
  byte_span content;  // the value bytes
  byte_span whole;    // tag, length and value, as they appear in the input
};

class der_reader {
 public:
  explicit der_reader(byte_span in) : in_(in) {}

  bool at_end() const { return pos_ == in_.size(); }
  std::optional<std::uint8_t> peek_tag() const {
    if (at_end()) return std::nullopt;
    return in_[pos_];
  }

  // Reads the next element. nullopt on any encoding error, and then the
  // reader stays where it was.
  std::optional<der_element> next() {
    const std::size_t start = pos_;
    auto e = read();
    if (!e) pos_ = start;
    return e;
  }

  // The next element if it has tag `tag`.
  std::optional<der_element> expect(std::uint8_t tag) {
    if (peek_tag() != tag) return std::nullopt;
    return next();
  }

 private:
  std::optional<der_element> read() {
    const std::size_t start = pos_;
    if (in_.size() - pos_ < 2) return std::nullopt;
    const std::uint8_t tag = in_[pos_++];
    // SECURITY: high-tag-number form (low five bits all set) never occurs in
    // the structures we read; refusing it keeps every tag one byte.
    if ((tag & 0x1f) == 0x1f) return std::nullopt;
    const std::uint8_t first = in_[pos_++];
    std::size_t length = 0;
    if (first < 0x80) {
      length = first;
    } else if (first == 0x81) {
      if (pos_ >= in_.size()) return std::nullopt;
      length = in_[pos_++];
      // SECURITY: DER uses the short form below 128; a long form there is BER.
      if (length < 0x80) return std::nullopt;
    } else if (first == 0x82) {
      if (in_.size() - pos_ < 2) return std::nullopt;
      length = std::size_t{in_[pos_]} << 8 | in_[pos_ + 1];
      pos_ += 2;
      if (length < 0x100) return std::nullopt;  // SECURITY: not minimal
    } else {
      // SECURITY: 0x80 is BER's indefinite length; three or more length bytes
      // would mean 64 KiB or more, far above every bound we accept.
      return std::nullopt;
    }
    // SECURITY: the value must fit in what is left, checked before slicing.
    if (length > in_.size() - pos_) return std::nullopt;
    der_element e;
    e.tag = tag;
    e.content = in_.subspan(pos_, length);
    pos_ += length;
    e.whole = in_.subspan(start, pos_ - start);
    return e;
  }

  byte_span in_;
  std::size_t pos_ = 0;
};

// The one element of `in`, if it has tag `tag` and nothing follows it.
std::optional<der_element> sole_element(byte_span in, std::uint8_t tag) {
  der_reader r(in);
  auto e = r.expect(tag);
  if (!e || !r.at_end()) return std::nullopt;
  return e;
}

constexpr std::uint8_t der_sequence = 0x30;
constexpr std::uint8_t der_octet_string = 0x04;
constexpr std::uint8_t der_integer = 0x02;
constexpr std::uint8_t der_bit_string = 0x03;
constexpr std::uint8_t der_version_tag = 0xa0;            // [0] EXPLICIT Version
constexpr std::uint8_t der_issuer_unique_id_tag = 0x81;   // [1] IMPLICIT UniqueIdentifier
constexpr std::uint8_t der_subject_unique_id_tag = 0x82;  // [2] IMPLICIT UniqueIdentifier
constexpr std::uint8_t der_extensions_tag = 0xa3;         // [3] EXPLICIT Extensions

// An RSA-8192 signature; ECDSA and EdDSA signatures are far smaller.
constexpr std::size_t max_host_signature_length = 1024;

void append_der_length(bytes& out, std::size_t n) {
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n < 0x100) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    // Callers stay far below 64 KiB (SignedKey parts are bounded).
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  }
}

void append_der(bytes& out, std::uint8_t tag, byte_span content) {
  out.push_back(tag);
  append_der_length(out, content.size());
  append(out, content);
}

// The raw pieces of a certificate that GnuTLS does not hand out as they were
// encoded: the signed TBSCertificate and the SubjectPublicKeyInfo (the host
// key signs the SPKI bytes exactly as the peer encoded them, tls.md).
struct certificate_parts {
  byte_span tbs;   // the whole TBSCertificate element (what the self-signature covers)
  byte_span spki;  // the whole SubjectPublicKeyInfo element
};

// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
// TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer,
//   validity, subject, subjectPublicKeyInfo, [1] issuerUniqueID OPTIONAL,
//   [2] subjectUniqueID OPTIONAL, [3] extensions OPTIONAL }
result<certificate_parts> split_certificate(byte_span der) {
  auto certificate = sole_element(der, der_sequence);
  // SECURITY: nothing may follow the certificate (no smuggled second one).
  if (!certificate) return errc::tls_certificate_malformed;
  der_reader cert(certificate->content);
  auto tbs = cert.expect(der_sequence);
  auto outer_algorithm = cert.expect(der_sequence);
  auto signature_value = cert.expect(der_bit_string);
  if (!tbs || !outer_algorithm || !signature_value || !cert.at_end()) {
    return errc::tls_certificate_malformed;
  }
  der_reader fields(tbs->content);
  // Extensions exist only in v3, and the libp2p extension is mandatory.
  if (!fields.expect(der_version_tag)) return errc::tls_certificate_malformed;
  auto serial = fields.expect(der_integer);
  auto inner_algorithm = fields.expect(der_sequence);
  auto issuer = fields.expect(der_sequence);
  auto validity = fields.expect(der_sequence);
  auto subject = fields.expect(der_sequence);
  auto spki = fields.expect(der_sequence);
  if (!serial || !inner_algorithm || !issuer || !validity || !subject || !spki) {
    return errc::tls_certificate_malformed;
  }
  // RFC 5280 4.1.1.2: the two algorithm fields must be identical; otherwise
  // the signature we check is not the one the TBS claims.
  if (!std::ranges::equal(inner_algorithm->whole, outer_algorithm->whole)) {
    return errc::tls_certificate_malformed;
  }
  // tls.md: certificates MUST omit the deprecated unique IDs; we abort (MAY).
  const auto next_tag = fields.peek_tag();
  if (next_tag == der_issuer_unique_id_tag || next_tag == der_subject_unique_id_tag) {
    return errc::tls_certificate_malformed;
  }
  // Extensions are optional in X.509; without them the libp2p one is missing,
  // which the extension check reports by name.
  if (fields.peek_tag() == der_extensions_tag && !fields.next()) {
    return errc::tls_certificate_malformed;
  }
  if (!fields.at_end()) return errc::tls_certificate_malformed;
  return certificate_parts{tbs->whole, spki->whole};
}

// ---------------------------------------------------------------------------
// GnuTLS handles.

struct crt_deleter {
  void operator()(gnutls_x509_crt_int* p) const { gnutls_x509_crt_deinit(p); }
};
struct privkey_deleter {
  void operator()(gnutls_x509_privkey_int* p) const { gnutls_x509_privkey_deinit(p); }
};
struct pubkey_deleter {
  void operator()(gnutls_pubkey_st* p) const { gnutls_pubkey_deinit(p); }
};
using crt_ptr = std::unique_ptr<gnutls_x509_crt_int, crt_deleter>;
using privkey_ptr = std::unique_ptr<gnutls_x509_privkey_int, privkey_deleter>;
using pubkey_ptr = std::unique_ptr<gnutls_pubkey_st, pubkey_deleter>;

crt_ptr new_crt() {
  gnutls_x509_crt_t c = nullptr;
  if (gnutls_x509_crt_init(&c) < 0) return nullptr;
  return crt_ptr(c);
}
pubkey_ptr new_pubkey() {
  gnutls_pubkey_t k = nullptr;
  if (gnutls_pubkey_init(&k) < 0) return nullptr;
  return pubkey_ptr(k);
}

// Copies a GnuTLS-allocated datum into bytes and frees it; `secret` wipes it first.
bytes take_datum(gnutls_datum_t& d, bool secret = false) {
  bytes out(d.data, d.data + d.size);
  if (secret && d.data != nullptr) sodium_memzero(d.data, d.size);
  gnutls_free(d.data);
  d.data = nullptr;
  d.size = 0;
  return out;
}

gnutls_datum_t as_datum(byte_span b) {
  // GnuTLS takes non-const pointers for input data it does not modify.
  return {const_cast<unsigned char*>(b.data()), static_cast<unsigned int>(b.size())};
}

// OIDs of critical extensions we understand (tls.md: abort on any other).
constexpr std::string_view oid_key_usage = "2.5.29.15";
constexpr std::string_view oid_subject_alt_name = "2.5.29.17";
constexpr std::string_view oid_basic_constraints = "2.5.29.19";
constexpr std::string_view oid_ext_key_usage = "2.5.29.37";

// Accepted certificate keys: what TLS 1.3 can sign CertificateVerify with
// (RFC 8446 4.2.3), RSA bounded like host keys.
constexpr unsigned min_rsa_bits = 2048;
constexpr unsigned max_rsa_bits = 8192;

bool certificate_key_accepted(gnutls_pubkey_t key) {
  unsigned bits = 0;
  const int pk = gnutls_pubkey_get_pk_algorithm(key, &bits);
  switch (pk) {
    case GNUTLS_PK_ECDSA: {
      gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
      if (gnutls_pubkey_export_ecc_raw2(key, &curve, nullptr, nullptr, 0) < 0) return false;
      return curve == GNUTLS_ECC_CURVE_SECP256R1 || curve == GNUTLS_ECC_CURVE_SECP384R1 ||
             curve == GNUTLS_ECC_CURVE_SECP521R1;
    }
    case GNUTLS_PK_EDDSA_ED25519:
    case GNUTLS_PK_EDDSA_ED448: return true;
    case GNUTLS_PK_RSA:
    case GNUTLS_PK_RSA_PSS: return bits >= min_rsa_bits && bits <= max_rsa_bits;
    default: return false;
  }
}

time_t to_time_t(system_clock::time_point t) { return system_clock::to_time_t(t); }

}  // namespace

// ---------------------------------------------------------------------------

tls_identity::~tls_identity() {
  if (!private_key_der.empty()) sodium_memzero(private_key_der.data(), private_key_der.size());
}

bytes tls_signature_message(byte_span spki_der) {
  bytes out(libp2p_tls_signature_prefix.begin(), libp2p_tls_signature_prefix.end());
  append(out, spki_der);
  return out;
}

bytes encode_signed_key(byte_span public_key_protobuf, byte_span signature) {
  bytes inner;
  append_der(inner, der_octet_string, public_key_protobuf);
  append_der(inner, der_octet_string, signature);
  bytes out;
  append_der(out, der_sequence, inner);
  return out;
}

result<signed_key> decode_signed_key(byte_span der) {
  // SECURITY: bounded before any parsing.
  if (der.size() > max_signed_key_length) return errc::too_large;
  auto sequence = sole_element(der, der_sequence);
  // SECURITY: exactly one SEQUENCE, nothing after it.
  if (!sequence) return errc::tls_extension_malformed;
  der_reader fields(sequence->content);
  auto key = fields.expect(der_octet_string);
  auto signature = fields.expect(der_octet_string);
  // SECURITY: exactly two OCTET STRINGs; a constructed (BER) OCTET STRING has
  // tag 0x24 and fails expect().
  if (!key || !signature || !fields.at_end()) return errc::tls_extension_malformed;
  // SECURITY: each part within what a valid host key can produce.
  if (key->content.empty() || key->content.size() > public_key::max_protobuf_length ||
      signature->content.empty() || signature->content.size() > max_host_signature_length) {
    return errc::tls_extension_malformed;
  }
  return signed_key{bytes(key->content.begin(), key->content.end()),
                    bytes(signature->content.begin(), signature->content.end())};
}

// Steps, in order (each failure names its check):
//   1. size bound, then our strict DER split (TBS, SPKI, no unique IDs, v3);
//   2. GnuTLS parses the certificate; version 3;
//   3. validity window against `now`;
//   4. certificate key type and size;
//   5. self-signature over the TBS bytes with the certificate key;
//   6. extensions: exactly one libp2p extension, no unknown critical one;
//   7. SignedKey decode, host key parse, host signature over prefix || SPKI.
result<public_key> verify_tls_certificate(byte_span certificate_der, system_clock::time_point now) {
  // 1.
  // SECURITY: refuse oversized input before GnuTLS sees it.
  if (certificate_der.size() > max_tls_certificate_length) return errc::tls_certificate_too_large;
  auto parts = split_certificate(certificate_der);
  if (!parts) return parts.error();

  // 2.
  crt_ptr crt = new_crt();
  if (!crt) return errc::resource_limit;
  const gnutls_datum_t der = as_datum(certificate_der);
  if (gnutls_x509_crt_import(crt.get(), &der, GNUTLS_X509_FMT_DER) < 0) {
    return errc::tls_certificate_malformed;
  }
  if (gnutls_x509_crt_get_version(crt.get()) != 3) return errc::tls_certificate_malformed;

  // 3.
  const time_t not_before = gnutls_x509_crt_get_activation_time(crt.get());
  const time_t not_after = gnutls_x509_crt_get_expiration_time(crt.get());
  if (not_before == static_cast<time_t>(-1) || not_after == static_cast<time_t>(-1)) {
    return errc::tls_certificate_malformed;
  }
  const time_t t = to_time_t(now);
  if (t < not_before) return errc::tls_certificate_not_yet_valid;
  if (t > not_after) return errc::tls_certificate_expired;

  // 4.
  pubkey_ptr cert_key = new_pubkey();
  if (!cert_key) return errc::resource_limit;
  if (gnutls_pubkey_import_x509(cert_key.get(), crt.get(), 0) < 0) {
    return errc::tls_certificate_key_refused;
  }
  if (!certificate_key_accepted(cert_key.get())) return errc::tls_certificate_key_refused;

  // 5. gnutls_pubkey_verify_data2 refuses algorithms GnuTLS deems insecure
  // (SHA-1, MD5) and algorithms that do not match the key.
  const int sign_algorithm = gnutls_x509_crt_get_signature_algorithm(crt.get());
  if (sign_algorithm <= GNUTLS_SIGN_UNKNOWN) return errc::tls_certificate_bad_self_signature;
  // SECURITY: the signature is inside a certificate already bounded above.
  std::array<char, max_tls_certificate_length> signature{};
  std::size_t signature_size = signature.size();
  if (gnutls_x509_crt_get_signature(crt.get(), signature.data(), &signature_size) < 0) {
    return errc::tls_certificate_malformed;
  }
  const gnutls_datum_t tbs = as_datum(parts->tbs);
  const gnutls_datum_t self_signature = {reinterpret_cast<unsigned char*>(signature.data()),
                                         static_cast<unsigned int>(signature_size)};
  if (gnutls_pubkey_verify_data2(cert_key.get(),
                                 static_cast<gnutls_sign_algorithm_t>(sign_algorithm), 0, &tbs,
                                 &self_signature) < 0) {
    return errc::tls_certificate_bad_self_signature;
  }

  // 6.
  std::optional<unsigned> libp2p_index;
  for (unsigned i = 0;; ++i) {
    std::array<char, 128> oid{};
    std::size_t oid_size = oid.size();
    unsigned critical = 0;
    const int rc =
        gnutls_x509_crt_get_extension_info(crt.get(), i, oid.data(), &oid_size, &critical);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    if (rc < 0) return errc::tls_certificate_malformed;  // includes an OID over 127 characters
    // SECURITY: bounded number of extensions.
    if (i >= max_tls_extensions) return errc::tls_certificate_malformed;
    const std::string_view name(oid.data(), strnlen(oid.data(), oid.size()));
    if (name == libp2p_tls_extension_oid) {
      if (libp2p_index) return errc::tls_extension_malformed;  // RFC 5280: at most once
      libp2p_index = i;
      continue;
    }
    if (critical == 0) continue;  // tls.md: ignore non-critical unknown extensions
    if (name == oid_key_usage) {
      // The certificate key signs the TLS CertificateVerify.
      unsigned usage = 0;
      if (gnutls_x509_crt_get_key_usage(crt.get(), &usage, nullptr) < 0 ||
          (usage & GNUTLS_KEY_DIGITAL_SIGNATURE) == 0) {
        return errc::tls_unknown_critical_extension;
      }
      continue;
    }
    // Constraints on names and CA use say nothing about a libp2p peer, which
    // is identified by the extension alone.
    if (name == oid_basic_constraints || name == oid_ext_key_usage ||
        name == oid_subject_alt_name) {
      continue;
    }
    return errc::tls_unknown_critical_extension;
  }
  if (!libp2p_index) return errc::tls_extension_missing;

  // 7.
  gnutls_datum_t extension{};
  if (gnutls_x509_crt_get_extension_data2(crt.get(), *libp2p_index, &extension) < 0) {
    return errc::tls_extension_malformed;
  }
  const bytes extension_value = take_datum(extension);
  auto signed_key = decode_signed_key(extension_value);
  if (!signed_key) {
    return signed_key.error() == errc::too_large ? errc::tls_extension_malformed
                                                 : signed_key.error();
  }
  auto host_key = public_key::from_protobuf(signed_key->public_key);
  if (!host_key) return errc::tls_host_key_refused;
  if (!host_key->verify(tls_signature_message(parts->spki), signed_key->signature)) {
    return errc::tls_host_signature_invalid;
  }
  return *std::move(host_key);
}

result<public_key> verify_tls_certificate(byte_span certificate_der, system_clock::time_point now,
                                          const peer_id& expected) {
  auto key = verify_tls_certificate(certificate_der, now);
  if (!key) return key.error();
  if (key->to_peer_id() != expected) return errc::peer_id_mismatch;
  return key;
}

result<public_key> verify_tls_certificate_chain(std::span<const byte_span> chain,
                                                system_clock::time_point now) {
  if (chain.size() != 1) return errc::tls_certificate_chain;
  return verify_tls_certificate(chain.front(), now);
}

// Steps:
//   1. a fresh ECDSA P-256 certificate key (never the host key, tls.md);
//   2. the X.509 v3 fields: random positive serial, subject serialNumber,
//      validity now - 1 h .. now + 100 years;
//   3. SignedKey: the host key signs prefix || the certificate's SPKI;
//   4. the extension (non-critical, the only one), then the self-signature;
//   5. export certificate and PKCS#8 key, and check the result with
//      verify_tls_certificate so we never send a certificate we would refuse.
result<tls_identity> make_tls_identity(const private_key& host_key, system_clock::time_point now) {
  constexpr auto validity_margin = std::chrono::hours(1);
  constexpr auto validity = std::chrono::hours(24 * 365 * 100);

  // 1.
  gnutls_x509_privkey_t raw_key = nullptr;
  if (gnutls_x509_privkey_init(&raw_key) < 0) return errc::tls_certificate_generation;
  privkey_ptr key(raw_key);
  if (gnutls_x509_privkey_generate(key.get(), GNUTLS_PK_ECDSA,
                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
    return errc::tls_certificate_generation;
  }

  // 2.
  crt_ptr crt = new_crt();
  if (!crt) return errc::tls_certificate_generation;
  std::array<std::uint8_t, 16> serial{};
  if (gnutls_rnd(GNUTLS_RND_NONCE, serial.data(), serial.size()) < 0) {
    return errc::tls_certificate_generation;
  }
  // Positive (top bit clear) and minimal (first byte nonzero), RFC 5280 4.1.2.2.
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7f) | 0x01);
  const std::string serial_text = to_hex(serial);
  if (gnutls_x509_crt_set_version(crt.get(), 3) < 0 ||
      gnutls_x509_crt_set_serial(crt.get(), serial.data(), serial.size()) < 0 ||
      gnutls_x509_crt_set_dn_by_oid(crt.get(), "2.5.4.5", 0, serial_text.data(),
                                    static_cast<unsigned>(serial_text.size())) < 0 ||
      gnutls_x509_crt_set_activation_time(crt.get(), to_time_t(now - validity_margin)) < 0 ||
      gnutls_x509_crt_set_expiration_time(crt.get(), to_time_t(now + validity)) < 0 ||
      gnutls_x509_crt_set_key(crt.get(), key.get()) < 0) {
    return errc::tls_certificate_generation;
  }

  // 3.
  pubkey_ptr cert_public = new_pubkey();
  if (!cert_public || gnutls_pubkey_import_x509(cert_public.get(), crt.get(), 0) < 0) {
    return errc::tls_certificate_generation;
  }
  gnutls_datum_t spki_datum{};
  if (gnutls_pubkey_export2(cert_public.get(), GNUTLS_X509_FMT_DER, &spki_datum) < 0) {
    return errc::tls_certificate_generation;
  }
  const bytes spki = take_datum(spki_datum);
  const bytes extension = encode_signed_key(host_key.get_public_key().to_protobuf(),
                                            host_key.sign(tls_signature_message(spki)));

  // 4.
  if (gnutls_x509_crt_set_extension_by_oid(crt.get(), std::string(libp2p_tls_extension_oid).c_str(),
                                           extension.data(), extension.size(), 0) < 0 ||
      gnutls_x509_crt_sign2(crt.get(), crt.get(), key.get(), GNUTLS_DIG_SHA256, 0) < 0) {
    return errc::tls_certificate_generation;
  }

  // 5.
  gnutls_datum_t cert_datum{};
  if (gnutls_x509_crt_export2(crt.get(), GNUTLS_X509_FMT_DER, &cert_datum) < 0) {
    return errc::tls_certificate_generation;
  }
  gnutls_datum_t key_datum{};
  if (gnutls_x509_privkey_export2_pkcs8(key.get(), GNUTLS_X509_FMT_DER, nullptr, GNUTLS_PKCS_PLAIN,
                                        &key_datum) < 0) {
    gnutls_free(cert_datum.data);
    return errc::tls_certificate_generation;
  }
  tls_identity identity(take_datum(cert_datum), take_datum(key_datum, /*secret=*/true));
  auto check = verify_tls_certificate(identity.certificate_der, now);
  if (!check || *check != host_key.get_public_key()) return errc::tls_certificate_generation;
  return identity;
}

}  // namespace peerup
