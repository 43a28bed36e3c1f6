// The GnuTLS glue (crypto/tls_gnutls.hpp) in real TLS 1.3 handshakes between
// two GnuTLS sessions joined by in-memory pipes: mutual authentication with
// libp2p certificates, ALPN "libp2p", client certificates required, and a
// verify callback that aborts the handshake.
#include "crypto/tls_gnutls.hpp"

#include <gnutls/gnutls.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <string>

namespace peerup {
namespace {

using std::chrono::system_clock;

const system_clock::time_point now = system_clock::time_point(std::chrono::seconds(1780272000));

// One direction of the connection.
using pipe = std::deque<std::uint8_t>;

// What the verify callback found; reached through the session's user pointer
// (a transport on ngtcp2 uses its conn_ref instead).
struct endpoint {
  gnutls_session_t session = nullptr;
  pipe* in = nullptr;
  pipe* out = nullptr;
  system_clock::time_point verify_at = now;
  std::optional<result<public_key>> peer;
  int handshake_rc = GNUTLS_E_AGAIN;

  ~endpoint() {
    if (session != nullptr) gnutls_deinit(session);
  }
};

ssize_t push(gnutls_transport_ptr_t p, const void* data, size_t size) {
  auto* e = static_cast<endpoint*>(p);
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  e->out->insert(e->out->end(), bytes, bytes + size);
  return static_cast<ssize_t>(size);
}

ssize_t pull(gnutls_transport_ptr_t p, void* data, size_t size) {
  auto* e = static_cast<endpoint*>(p);
  if (e->in->empty()) {
    gnutls_transport_set_errno(e->session, EAGAIN);
    return -1;
  }
  const size_t n = std::min(size, e->in->size());
  std::copy_n(e->in->begin(), n, static_cast<std::uint8_t*>(data));
  e->in->erase(e->in->begin(), e->in->begin() + static_cast<std::ptrdiff_t>(n));
  return static_cast<ssize_t>(n);
}

int pull_timeout(gnutls_transport_ptr_t p, unsigned) {
  return static_cast<endpoint*>(p)->in->empty() ? 0 : 1;
}

int verify_callback(gnutls_session_t session) {
  auto* e = static_cast<endpoint*>(gnutls_session_get_ptr(session));
  e->peer = verify_gnutls_peer(session, e->verify_at);
  return e->peer->has_value() ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

void open(endpoint& e, tls_role role, gnutls_certificate_credentials_t raw_creds,
          const gnutls_tls_credentials* creds, pipe& in, pipe& out) {
  ASSERT_GE(gnutls_init(&e.session, role == tls_role::server ? GNUTLS_SERVER : GNUTLS_CLIENT), 0);
  ASSERT_GE(gnutls_priority_set_direct(e.session, "NORMAL:-VERS-ALL:+VERS-TLS1.3", nullptr), 0);
  if (creds != nullptr) {
    ASSERT_TRUE(configure_libp2p_session(e.session, *creds, role));
  } else {
    // A client with no certificate at all, otherwise set up the same way.
    ASSERT_GE(gnutls_credentials_set(e.session, GNUTLS_CRD_CERTIFICATE, raw_creds), 0);
    const gnutls_datum_t alpn = {reinterpret_cast<unsigned char*>(const_cast<char*>("libp2p")), 6};
    ASSERT_GE(gnutls_alpn_set_protocols(e.session, &alpn, 1, GNUTLS_ALPN_MANDATORY), 0);
  }
  gnutls_session_set_ptr(e.session, &e);
  gnutls_session_set_verify_function(e.session, verify_callback);
  e.in = &in;
  e.out = &out;
  gnutls_transport_set_ptr(e.session, &e);
  gnutls_transport_set_push_function(e.session, push);
  gnutls_transport_set_pull_function(e.session, pull);
  gnutls_transport_set_pull_timeout_function(e.session, pull_timeout);
}

// Runs both handshakes until neither makes progress (bounded).
void run(endpoint& client, endpoint& server) {
  for (int round = 0; round < 50; ++round) {
    for (endpoint* e : {&client, &server}) {
      if (e->handshake_rc == GNUTLS_E_AGAIN || e->handshake_rc == GNUTLS_E_INTERRUPTED) {
        e->handshake_rc = gnutls_handshake(e->session);
      }
    }
    if (client.handshake_rc != GNUTLS_E_AGAIN && server.handshake_rc != GNUTLS_E_AGAIN) return;
    if (client.in->empty() && server.in->empty()) return;  // stuck: both wait for input
  }
}

std::string alpn_of(gnutls_session_t s) {
  gnutls_datum_t p{};
  if (gnutls_alpn_get_selected_protocol(s, &p) < 0) return "";
  return std::string(reinterpret_cast<const char*>(p.data), p.size);
}

struct host {
  private_key key;
  tls_identity identity;
  gnutls_tls_credentials creds;

  explicit host(std::uint8_t seed)
      : key(private_key::from_seed(bytes(32, seed)).value()),
        identity(make_tls_identity(key, now).value()),
        creds(gnutls_tls_credentials::make(identity).value()) {}
};

TEST(tls_gnutls, mutual_handshake_authenticates_both_hosts) {
  host a(1), b(2);
  pipe to_server, to_client;
  endpoint client, server;
  open(client, tls_role::client, nullptr, &a.creds, to_client, to_server);
  open(server, tls_role::server, nullptr, &b.creds, to_server, to_client);
  run(client, server);
  ASSERT_EQ(client.handshake_rc, 0) << gnutls_strerror(client.handshake_rc);
  ASSERT_EQ(server.handshake_rc, 0) << gnutls_strerror(server.handshake_rc);
  ASSERT_TRUE(client.peer && client.peer->has_value());
  ASSERT_TRUE(server.peer && server.peer->has_value());
  EXPECT_EQ(client.peer->value().to_peer_id(), b.key.to_peer_id());
  EXPECT_EQ(server.peer->value().to_peer_id(), a.key.to_peer_id());
  EXPECT_EQ(alpn_of(client.session), "libp2p");
  EXPECT_EQ(alpn_of(server.session), "libp2p");
  EXPECT_EQ(gnutls_protocol_get_version(client.session), GNUTLS_TLS1_3);
}

TEST(tls_gnutls, server_requires_a_client_certificate) {
  host b(2);
  gnutls_certificate_credentials_t empty = nullptr;
  ASSERT_GE(gnutls_certificate_allocate_credentials(&empty), 0);
  pipe to_server, to_client;
  {
    endpoint client, server;
    open(client, tls_role::client, empty, nullptr, to_client, to_server);
    open(server, tls_role::server, nullptr, &b.creds, to_server, to_client);
    run(client, server);
    EXPECT_LT(server.handshake_rc, 0);
    EXPECT_NE(server.handshake_rc, GNUTLS_E_AGAIN);
    EXPECT_FALSE(server.peer && server.peer->has_value());
  }
  gnutls_certificate_free_credentials(empty);
}

TEST(tls_gnutls, verify_failure_aborts_the_handshake_with_the_reason) {
  host a(1), b(2);
  pipe to_server, to_client;
  endpoint client, server;
  open(client, tls_role::client, nullptr, &a.creds, to_client, to_server);
  open(server, tls_role::server, nullptr, &b.creds, to_server, to_client);
  client.verify_at = now + std::chrono::hours(24 * 365 * 101);  // server certificate expired
  run(client, server);
  EXPECT_LT(client.handshake_rc, 0);
  EXPECT_NE(client.handshake_rc, GNUTLS_E_AGAIN);
  ASSERT_TRUE(client.peer.has_value());
  ASSERT_FALSE(client.peer->has_value());
  EXPECT_EQ(client.peer->error(), errc::tls_certificate_expired);
  EXPECT_NE(server.handshake_rc, 0);  // the server never completes
}

TEST(tls_gnutls, server_aborts_when_the_client_offers_no_libp2p_alpn) {
  host a(1), b(2);
  // The client's ALPN list replaced after configure_libp2p_session: with
  // "libp2p" (the control) the handshake completes, with "h2" the server
  // aborts. (GnuTLS 3.7.9 reports GNUTLS_E_UNEXPECTED_PACKET_LENGTH there, not
  // GNUTLS_E_NO_APPLICATION_PROTOCOL, and sends no alert; the client is left
  // waiting, which a transport ends with its handshake timeout.)
  for (const std::string offered : {"libp2p", "h2"}) {
    SCOPED_TRACE(offered);
    pipe to_server, to_client;
    endpoint client, server;
    open(client, tls_role::client, nullptr, &a.creds, to_client, to_server);
    open(server, tls_role::server, nullptr, &b.creds, to_server, to_client);
    const gnutls_datum_t alpn = {
        reinterpret_cast<unsigned char*>(const_cast<char*>(offered.data())),
        static_cast<unsigned>(offered.size())};
    ASSERT_GE(gnutls_alpn_set_protocols(client.session, &alpn, 1, 0), 0);
    run(client, server);
    if (offered == "libp2p") {
      EXPECT_EQ(server.handshake_rc, 0) << gnutls_strerror(server.handshake_rc);
      EXPECT_EQ(client.handshake_rc, 0) << gnutls_strerror(client.handshake_rc);
    } else {
      EXPECT_LT(server.handshake_rc, 0);
      EXPECT_NE(server.handshake_rc, GNUTLS_E_AGAIN);
      EXPECT_NE(client.handshake_rc, 0);
      EXPECT_FALSE(server.peer.has_value());  // aborted before any certificate
    }
  }
}

TEST(tls_gnutls, credentials_refuse_a_key_that_is_not_the_certificates) {
  const auto key = private_key::from_seed(bytes(32, 3)).value();
  auto one = make_tls_identity(key, now).value();
  auto two = make_tls_identity(key, now).value();
  tls_identity mixed(one.certificate_der, two.private_key_der);
  auto creds = gnutls_tls_credentials::make(mixed);
  ASSERT_FALSE(creds);
  EXPECT_EQ(creds.error(), errc::tls_certificate_generation);
}

}  // namespace
}  // namespace peerup
