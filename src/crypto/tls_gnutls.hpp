// GnuTLS glue for the libp2p TLS handshake (tls.md), for transports that run
// TLS 1.3 through GnuTLS (QUIC on ngtcp2's GnuTLS backend). The certificate
// logic stays in tls_certificate.hpp; this only moves bytes between it and a
// gnutls_session_t. No I/O, no global state: ngtcp2 owns the session's user
// pointer (gnutls_session_get_ptr is its ngtcp2_crypto_conn_ref), so the
// transport keeps the verified key in its own connection object.
//
// Use (the transport, per connection):
//   1. once per host identity: auto creds = gnutls_tls_credentials::make(id);
//   2. gnutls_init(&s, GNUTLS_SERVER or GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA);
//      set the transport's priority string (TLS 1.3 only: ...:-VERS-ALL:+VERS-TLS1.3);
//   3. configure_libp2p_session(s, creds, role): credentials, client
//      certificate required (server), ALPN "libp2p" mandatory, no SNI;
//   4. gnutls_session_set_verify_function(s, cb), where cb finds its
//      connection (through ngtcp2's conn_ref) and calls
//      verify_gnutls_peer(s, now), keeps the key, compares the peer ID with
//      the dialed one, and returns 0 to go on or GNUTLS_E_CERTIFICATE_ERROR
//      to abort (GnuTLS then sends a bad_certificate alert).
#pragma once

#include <gnutls/gnutls.h>

#include <chrono>
#include <memory>

#include "common/error.hpp"
#include "crypto/keys.hpp"
#include "crypto/tls_certificate.hpp"

namespace peerup {

// Certificate credentials holding one tls_identity. Movable, not copyable;
// must outlive every session configured with it (GnuTLS keeps a pointer).
class gnutls_tls_credentials {
 public:
  // errc::tls_certificate_generation when GnuTLS refuses the certificate or key.
  static result<gnutls_tls_credentials> make(const tls_identity& identity);

  gnutls_certificate_credentials_t get() const { return creds_.get(); }

 private:
  struct deleter {
    void operator()(gnutls_certificate_credentials_st* c) const;
  };
  explicit gnutls_tls_credentials(gnutls_certificate_credentials_t c) : creds_(c) {}
  std::unique_ptr<gnutls_certificate_credentials_st, deleter> creds_;
};

enum class tls_role { client, server };

// Step 3 above. Sets no priority string and no verify function (steps 2, 4).
// errc::tls_certificate_generation if GnuTLS refuses a setting.
result<void> configure_libp2p_session(gnutls_session_t session,
                                      const gnutls_tls_credentials& credentials, tls_role role);

// From inside the verify callback (or after the handshake): the certificate
// chain the peer sent, checked with verify_tls_certificate_chain. Returns the
// peer's host public key. errc::tls_certificate_chain when the peer sent no
// certificate or more than one.
result<public_key> verify_gnutls_peer(gnutls_session_t session,
                                      std::chrono::system_clock::time_point now);

}  // namespace peerup
