#include "crypto/tls_gnutls.hpp"

#include <gnutls/x509.h>

#include <array>

namespace peerup {

void gnutls_tls_credentials::deleter::operator()(gnutls_certificate_credentials_st* c) const {
  gnutls_certificate_free_credentials(c);
}

result<gnutls_tls_credentials> gnutls_tls_credentials::make(const tls_identity& identity) {
  gnutls_certificate_credentials_t raw = nullptr;
  if (gnutls_certificate_allocate_credentials(&raw) < 0) return errc::tls_certificate_generation;
  gnutls_tls_credentials creds(raw);
  // GnuTLS takes non-const pointers for input it only reads.
  const gnutls_datum_t cert = {const_cast<unsigned char*>(identity.certificate_der.data()),
                               static_cast<unsigned>(identity.certificate_der.size())};
  const gnutls_datum_t key = {const_cast<unsigned char*>(identity.private_key_der.data()),
                              static_cast<unsigned>(identity.private_key_der.size())};
  // Also checks that the key belongs to the certificate.
  if (gnutls_certificate_set_x509_key_mem2(creds.get(), &cert, &key, GNUTLS_X509_FMT_DER, nullptr,
                                           GNUTLS_PKCS_PLAIN) < 0) {
    return errc::tls_certificate_generation;
  }
  return creds;
}

result<void> configure_libp2p_session(gnutls_session_t session,
                                      const gnutls_tls_credentials& credentials, tls_role role) {
  if (gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials.get()) < 0) {
    return errc::tls_certificate_generation;
  }
  // tls.md: servers MUST require client authentication.
  if (role == tls_role::server) gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
  // tls.md: ALPN "libp2p"; the server aborts when the client offers nothing
  // it supports, the client when the server selects nothing.
  const gnutls_datum_t alpn = {
      reinterpret_cast<unsigned char*>(const_cast<char*>(libp2p_tls_alpn.data())),
      static_cast<unsigned>(libp2p_tls_alpn.size())};
  if (gnutls_alpn_set_protocols(session, &alpn, 1, GNUTLS_ALPN_MANDATORY) < 0) {
    return errc::tls_certificate_generation;
  }
  // No SNI: a client never calls gnutls_server_name_set (tls.md "Future
  // Extensibility"), and a GnuTLS server ignores the name unless asked.
  return {};
}

result<public_key> verify_gnutls_peer(gnutls_session_t session,
                                      std::chrono::system_clock::time_point now) {
  if (gnutls_certificate_type_get2(session, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509) {
    return errc::tls_certificate_chain;  // raw public keys or nothing at all
  }
  unsigned count = 0;
  const gnutls_datum_t* list = gnutls_certificate_get_peers(session, &count);
  // SECURITY: tls.md allows exactly one certificate; longer chains are
  // refused before any of them is parsed.
  if (list == nullptr || count != 1) return errc::tls_certificate_chain;
  const std::array<byte_span, 1> chain = {byte_span(list[0].data, list[0].size)};
  return verify_tls_certificate_chain(chain, now);
}

}  // namespace peerup
