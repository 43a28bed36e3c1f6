// The QUIC datagram path (src/quic): what an unauthenticated sender reaches
// with one UDP datagram. Each input is
//   1. routed: destination_cid and accepts_initial must not crash, and a
//      connection ID is never longer than QUIC allows;
//   2. offered to a listener: make_retry answers it as under a flood, and if
//      it passes accepts_initial, connection::accept (which checks Retry
//      tokens) runs the server's Initial processing on it;
//   3. fed to both ends of an established connection (handshake done at
//      start-up through in-memory datagrams): neither may close, because no
//      forged datagram can pass packet protection.
// Keys are random per process, so past the header this explores the
// rejection paths (bad header protection, bad AEAD tag, unknown CIDs), which
// are the ones an attacker without keys can reach.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <deque>
#include <memory>

#include "fuzz_common.hpp"
#include "quic/connection.hpp"

using namespace peerup;
using namespace peerup::quic;

namespace {

address v4(std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address::from(reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
}

struct pair_state {
  tls_context_ptr tls;
  std::unique_ptr<connection> client;
  std::unique_ptr<connection> server;
  time_point now = time_point(std::chrono::seconds(1000));
};

tls_context_ptr make_tls() {
  auto key = private_key::generate();
  auto id = make_tls_identity(key, std::chrono::system_clock::now());
  FUZZ_CHECK(id);
  auto ctx = tls_context::make(*id);
  FUZZ_CHECK(ctx);
  return *ctx;
}

// Drives a handshake to completion through in-memory datagrams.
pair_state& established() {
  static pair_state* p = [] {
    auto* s = new pair_state;
    s->tls = make_tls();
    config cfg;
    cfg.keep_alive = std::chrono::seconds(0);
    auto c = connection::dial(cfg, s->tls, std::nullopt, nullptr, v4(1), v4(2), s->now);
    FUZZ_CHECK(c);
    s->client = std::move(*c);
    for (int round = 0; round < 50; ++round) {
      std::vector<datagram> out;
      s->client->write_datagrams(out, s->now, 64);
      for (auto& d : out) {
        if (!s->server) {
          auto a = connection::accept(cfg, s->tls, nullptr, v4(2), v4(1), d.data, s->now);
          FUZZ_CHECK(a);
          s->server = std::move(*a);
        } else {
          s->server->on_datagram(d.data, v4(2), v4(1), s->now);
        }
      }
      out.clear();
      if (s->server) s->server->write_datagrams(out, s->now, 64);
      for (auto& d : out) s->client->on_datagram(d.data, v4(1), v4(2), s->now);
      s->now += std::chrono::milliseconds(1);
      if (s->server && s->client->handshake_done() && s->server->handshake_done()) break;
    }
    FUZZ_CHECK(s->server && s->client->handshake_done() && s->server->handshake_done());
    (void)s->client->take_events();
    (void)s->server->take_events();
    return s;
  }();
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = established();
  const byte_span in(data, size);

  // 1. routing
  if (auto cid = connection::destination_cid(in, connection::cid_length))
    FUZZ_CHECK(cid->size() <= 20);
  // 2. a listener's first look, with Retry as under a flood: the Retry
  // must fit a datagram, and a token the input forges must not pass
  static const retry_secret secret = retry_secret::random();
  if (auto r = connection::make_retry(in, v4(3), secret, s.now)) FUZZ_CHECK(r->data.size() <= 1452);
  if (connection::accepts_initial(in)) {
    auto c = connection::accept(config{}, s.tls, nullptr, v4(2), v4(3), in, s.now, &secret);
    if (c) {
      std::vector<datagram> out;
      (*c)->write_datagrams(out, s.now, 8);
      for (const auto& d : out) FUZZ_CHECK(d.data.size() <= 1452);
    }
  }
  // 3. an established connection, both roles
  s.server->on_datagram(in, v4(2), v4(1), s.now);
  s.client->on_datagram(in, v4(1), v4(2), s.now);
  FUZZ_CHECK(!s.server->is_closed());
  FUZZ_CHECK(!s.client->is_closed());
  std::vector<datagram> out;
  s.server->write_datagrams(out, s.now, 8);
  s.client->write_datagrams(out, s.now, 8);
  (void)s.server->take_events();
  (void)s.client->take_events();
  return 0;
}
