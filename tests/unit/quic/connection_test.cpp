// Two sans-I/O QUIC connections wired back to back through in-memory
// datagrams, with a fake clock and a configurable one-way delay.
#include "quic/connection.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>

#include <cstring>
#include <deque>
#include <map>

#include "crypto/sha256.hpp"

namespace peerup::quic {
namespace {

using namespace std::chrono_literals;

address v4(std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address::from(reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
}

struct node {
  private_key key = private_key::generate();
  tls_context_ptr tls;
  std::unique_ptr<connection> conn;
  std::vector<event> events;
  std::map<stream_id, bytes> rx;  // bytes read per stream
  std::map<stream_id, bool> fin;
  std::map<stream_id, bool> reset;
  bool auto_read = true;

  node() {
    auto id = make_tls_identity(key, std::chrono::system_clock::now());
    EXPECT_TRUE(id) << id.error().message();
    auto ctx = tls_context::make(*id);
    EXPECT_TRUE(ctx) << ctx.error().message();
    tls = *ctx;
  }

  std::size_t count(event_type t) const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const event& e) { return e.type == t; }));
  }

  void drain_events() {
    if (!conn) return;
    for (auto& e : conn->take_events()) {
      if (auto_read &&
          (e.type == event_type::stream_readable || e.type == event_type::stream_opened))
        read_all(e.stream);
      events.push_back(std::move(e));
    }
  }

  void read_all(stream_id id) {
    std::array<std::uint8_t, 16 * 1024> buf;
    for (int i = 0; i < 100000; ++i) {
      auto r = conn->read(id, buf);
      rx[id].insert(rx[id].end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.n));
      if (r.fin) fin[id] = true;
      if (r.reset) reset[id] = true;
      if (r.n == 0) return;
    }
  }
};

struct in_flight {
  time_point at;
  bool to_server;
  datagram d;
};

struct link {
  config client_cfg;
  config server_cfg;
  node client;
  node server;
  time_point now = time_point(1000s);
  std::chrono::milliseconds one_way = 10ms;
  std::deque<in_flight> wire;
  connection::gate server_gate;
  std::size_t datagrams = 0;
  std::size_t to_client = 0;  // of datagrams, those delivered to the client
  // Set: the listener answers Initials without a token with a Retry.
  std::optional<retry_secret> retry;
  std::size_t retries = 0;
  std::vector<bytes> initials_with_token;

  void dial(std::optional<peer_id> expected) {
    auto c = connection::dial(client_cfg, client.tls, std::move(expected), nullptr, v4(1000),
                              v4(2000), now);
    ASSERT_TRUE(c) << c.error().message();
    client.conn = std::move(*c);
  }

  void dial() { dial(server.key.to_peer_id()); }

  void collect(node& n, bool to_server) {
    if (!n.conn) return;
    std::vector<datagram> out;
    n.conn->write_datagrams(out, now, 64);
    for (auto& d : out) wire.push_back({now + one_way, to_server, std::move(d)});
    n.drain_events();
  }

  void deliver(in_flight f) {
    ++datagrams;
    if (!f.to_server) ++to_client;
    if (f.to_server) {
      if (!server.conn) {
        ASSERT_TRUE(connection::accepts_initial(f.d.data));
        if (retry && !connection::has_token(f.d.data)) {
          auto r = connection::make_retry(f.d.data, v4(1000), *retry, now);
          ASSERT_TRUE(r);
          ++retries;
          wire.push_back({now + one_way, false, std::move(*r)});
          return;
        }
        if (connection::has_token(f.d.data)) initials_with_token.push_back(f.d.data);
        auto c = connection::accept(server_cfg, server.tls, server_gate, v4(2000), v4(1000),
                                    f.d.data, now, retry ? &*retry : nullptr);
        if (!c) return;  // refused: the client times out or hears nothing
        server.conn = std::move(*c);
      } else {
        server.conn->on_datagram(f.d.data, v4(2000), v4(1000), now);
      }
      server.drain_events();
    } else if (client.conn) {
      client.conn->on_datagram(f.d.data, v4(1000), v4(2000), now);
      client.drain_events();
    }
  }

  // The next thing due: a datagram arriving or a connection's timer.
  time_point next_due() const {
    time_point next = time_point::max();
    if (!wire.empty()) next = wire.front().at;
    for (const node* n : {&client, &server})
      if (n->conn && !n->conn->is_closed()) next = std::min(next, n->conn->expiry());
    return next;
  }

  // Moves the clock to `next` (never back) and runs what is due by then.
  void advance(time_point next) {
    if (next > now) now = next;
    while (!wire.empty() && wire.front().at <= now) {
      auto f = std::move(wire.front());
      wire.pop_front();
      deliver(std::move(f));
    }
    for (node* n : {&client, &server})
      if (n->conn && !n->conn->is_closed() && n->conn->expiry() <= now) {
        n->conn->on_expiry(now);
        n->drain_events();
      }
  }

  // Runs the link until `until` (fake time) or until nothing is left to do.
  template <class Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit = 60000ms) {
    const auto end = now + limit;
    for (int guard = 0; guard < 2'000'000 && now <= end; ++guard) {
      collect(client, true);
      collect(server, false);
      if (done()) return true;
      const time_point next = next_due();
      if (next == time_point::max()) return done();
      advance(next);
    }
    return done();
  }

  // Runs the link for `d` of fake time: what falls due in it happens, and
  // the clock stops at its end (run_until jumps to the next deadline, which
  // may be an idle timeout far beyond).
  void run_for(std::chrono::milliseconds d) {
    const auto end = now + d;
    for (int guard = 0; guard < 2'000'000; ++guard) {
      collect(client, true);
      collect(server, false);
      const time_point next = next_due();
      if (next >= end) {
        now = end;
        return;
      }
      advance(next);
    }
  }

  bool handshake() {
    return run_until([&] {
      return client.conn && server.conn && client.conn->handshake_done() &&
             server.conn->handshake_done();
    });
  }
};

bytes random_bytes(std::size_t n) {
  bytes b(n);
  randombytes_buf(b.data(), b.size());
  return b;
}

// Writes what fits of `data` from `offset` on; returns the new offset.
std::size_t write_some(connection& c, stream_id id, const bytes& data, std::size_t offset) {
  auto n = c.write(id, byte_span(data).subspan(offset));
  EXPECT_TRUE(n) << n.error().message();
  return n ? offset + *n : data.size();
}

TEST(QuicConnection, handshake_authenticates_both_peers_with_their_certificates) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  EXPECT_EQ(*l.client.conn->remote_peer(), l.server.key.to_peer_id());
  EXPECT_EQ(*l.server.conn->remote_peer(), l.client.key.to_peer_id());
  EXPECT_EQ(l.client.count(event_type::handshake_done), 1u);
  EXPECT_EQ(l.server.count(event_type::handshake_done), 1u);
  // 1 RTT for the handshake: the client is done after one round trip.
  EXPECT_LE(l.now - time_point(1000s), 4 * l.one_way);
  ASSERT_TRUE(l.client.conn->smoothed_rtt());
  EXPECT_GE(*l.client.conn->smoothed_rtt(), 2 * l.one_way);
}

TEST(QuicConnection, stream_carries_bytes_and_fin_both_ways) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  const bytes request = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_EQ(*l.client.conn->write(*id, request), request.size());
  ASSERT_TRUE(l.client.conn->shutdown_write(*id));
  ASSERT_TRUE(l.run_until([&] { return l.server.fin[*id]; }));
  EXPECT_EQ(l.server.count(event_type::stream_opened), 1u);
  EXPECT_EQ(l.server.rx[*id], request);

  const bytes reply = random_bytes(3 * 1024 * 1024 + 17);
  std::size_t off = 0;
  bool fin_sent = false;
  ASSERT_TRUE(l.run_until([&] {
    if (off < reply.size()) off = write_some(*l.server.conn, *id, reply, off);
    if (off == reply.size() && !fin_sent) fin_sent = l.server.conn->shutdown_write(*id).has_value();
    return l.client.fin[*id];
  }));
  EXPECT_EQ(sha256(l.client.rx[*id]), sha256(reply));
}

TEST(QuicConnection, eight_streams_interleave_and_arrive_intact) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  std::vector<stream_id> ids;
  std::vector<bytes> payloads;
  std::vector<std::size_t> offs(8, 0);
  for (int i = 0; i < 8; ++i) {
    auto id = l.client.conn->open_stream();
    ASSERT_TRUE(id);
    ids.push_back(*id);
    payloads.push_back(random_bytes(512 * 1024 + static_cast<std::size_t>(i)));
  }
  std::vector<bool> fins(8, false);
  ASSERT_TRUE(l.run_until([&] {
    bool all = true;
    for (std::size_t i = 0; i < 8; ++i) {
      if (offs[i] < payloads[i].size())
        offs[i] = write_some(*l.client.conn, ids[i], payloads[i], offs[i]);
      if (offs[i] == payloads[i].size() && !fins[i])
        fins[i] = l.client.conn->shutdown_write(ids[i]).has_value();
      all = all && l.server.fin[ids[i]];
    }
    return all;
  }));
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(sha256(l.server.rx[ids[i]]), sha256(payloads[i]));
}

TEST(QuicConnection, flow_control_windows_grow_past_the_initial_window) {
  // 8 MiB through a 64 KiB initial stream window: without growth that is
  // 128 round trips; with windows that grow and slow start it is a few
  // dozen at most.
  link l;
  l.client_cfg.stream_window = 64 * 1024;
  l.server_cfg.stream_window = 64 * 1024;
  l.client_cfg.connection_window = 128 * 1024;
  l.server_cfg.connection_window = 128 * 1024;
  l.dial();
  ASSERT_TRUE(l.handshake());
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  const bytes data = random_bytes(8 * 1024 * 1024);
  std::size_t off = 0;
  bool fin_sent = false;
  const auto start = l.now;
  ASSERT_TRUE(l.run_until([&] {
    if (off < data.size()) off = write_some(*l.client.conn, *id, data, off);
    if (off == data.size() && !fin_sent) fin_sent = l.client.conn->shutdown_write(*id).has_value();
    return l.server.fin[*id];
  }));
  EXPECT_EQ(sha256(l.server.rx[*id]), sha256(data));
  const auto rtts = (l.now - start) / (2 * l.one_way);
  EXPECT_LT(rtts, 64) << "took " << rtts << " round trips";
}

TEST(QuicConnection, reset_reaches_the_peer_and_fails_later_writes) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  const bytes some = random_bytes(1000);
  ASSERT_TRUE(l.client.conn->write(*id, some));
  ASSERT_TRUE(l.run_until([&] { return l.server.rx[*id].size() == some.size(); }));
  l.client.conn->reset(*id, 0);
  ASSERT_TRUE(l.run_until([&] { return l.server.reset[*id]; }));
  EXPECT_GE(l.server.count(event_type::stream_reset), 1u);
  auto w = l.server.conn->write(*id, some);
  // The server learns of STOP_SENDING and RESET_STREAM together; its writes
  // fail once the stream is gone or stopped.
  ASSERT_TRUE(l.run_until([&] { return !l.server.conn->write(*id, some).has_value(); }));
  (void)w;
  EXPECT_FALSE(l.client.conn->write(*id, some).has_value());
  // The connection itself is unharmed: a new stream works.
  auto id2 = l.client.conn->open_stream();
  ASSERT_TRUE(id2);
  ASSERT_TRUE(l.client.conn->write(*id2, some));
  ASSERT_TRUE(l.run_until([&] { return l.server.rx[*id2].size() == some.size(); }));
}

TEST(QuicConnection, released_streams_free_their_state_on_both_sides) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  ASSERT_TRUE(l.client.conn->write(*id, bytes{'x'}));
  ASSERT_TRUE(l.client.conn->shutdown_write(*id));
  ASSERT_TRUE(l.run_until([&] { return l.server.fin[*id]; }));
  ASSERT_TRUE(l.server.conn->shutdown_write(*id));
  ASSERT_TRUE(l.run_until([&] { return l.client.fin[*id]; }));
  l.client.conn->release(*id);
  l.server.conn->release(*id);
  ASSERT_TRUE(l.run_until(
      [&] { return l.client.conn->stream_count() == 0 && l.server.conn->stream_count() == 0; }));
}

TEST(QuicConnection, idle_connection_times_out_on_both_sides) {
  link l;
  l.client_cfg.idle_timeout = 2s;
  l.client_cfg.keep_alive = 0s;
  l.server_cfg.idle_timeout = 2s;
  l.server_cfg.keep_alive = 0s;
  l.dial();
  ASSERT_TRUE(l.handshake());
  const auto start = l.now;
  ASSERT_TRUE(l.run_until([&] { return l.client.conn->is_closed() && l.server.conn->is_closed(); },
                          10000ms));
  EXPECT_EQ(l.client.conn->close_reason(), make_error_code(errc::timeout));
  EXPECT_EQ(l.server.conn->close_reason(), make_error_code(errc::timeout));
  EXPECT_GE(l.now - start, 2s);
  EXPECT_LT(l.now - start, 3s);
}

TEST(QuicConnection, keep_alive_holds_an_idle_connection_open) {
  link l;
  l.client_cfg.idle_timeout = 2s;
  l.client_cfg.keep_alive = 500ms;
  l.server_cfg.idle_timeout = 2s;
  l.dial();
  ASSERT_TRUE(l.handshake());
  const auto end = l.now + 10s;
  l.run_until([&] { return l.now >= end || l.client.conn->is_closed(); }, 11000ms);
  EXPECT_FALSE(l.client.conn->is_closed());
  EXPECT_FALSE(l.server.conn->is_closed());
}

// The liveness probe of net::quic_connection: one ack-eliciting packet the
// peer ACKs, no stream on either side, and the keep-alive setting (here off)
// back in force afterwards, so no further packet goes out.
TEST(QuicConnection, ping_sends_one_packet_the_peer_acknowledges_and_opens_no_stream) {
  link l;
  l.client_cfg.keep_alive = 0s;
  l.server_cfg.keep_alive = 0s;
  l.dial();
  ASSERT_TRUE(l.handshake());
  l.run_for(2000ms);  // everything settled
  const auto sent = l.datagrams, answered = l.to_client;
  l.client.conn->ping();
  l.run_for(1000ms);
  EXPECT_EQ(l.datagrams - sent, 2u) << "the PING and the ACK";
  EXPECT_EQ(l.to_client - answered, 1u) << "the server's ACK";
  EXPECT_EQ(l.server.count(event_type::stream_opened), 0u);
  EXPECT_EQ(l.client.count(event_type::stream_opened), 0u);
  const auto after = l.datagrams;
  l.run_for(5000ms);
  EXPECT_EQ(l.datagrams, after) << "keep-alive is off again: nothing more";
  EXPECT_FALSE(l.client.conn->is_closed());
}

// A ping() while an ACK is due: a packet with only the ACK is no probe (the
// peer does not answer it), so the PING still follows.
TEST(QuicConnection, ping_with_an_ack_due_still_elicits_an_answer) {
  link l;
  l.client_cfg.keep_alive = 0s;
  l.server_cfg.keep_alive = 0s;
  l.dial();
  ASSERT_TRUE(l.handshake());
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  const bytes some = random_bytes(100);
  ASSERT_TRUE(l.client.conn->write(*id, some));
  ASSERT_TRUE(l.run_until([&] { return l.server.rx[*id].size() == some.size(); }));
  l.run_for(2000ms);
  // The server's data arrives; the client's ACK for it waits (ack delay).
  ASSERT_TRUE(l.server.conn->write(*id, some));
  ASSERT_TRUE(l.run_until([&] { return l.client.rx[*id].size() == some.size(); }));
  const auto answered = l.to_client;
  l.client.conn->ping();
  l.run_for(1000ms);
  EXPECT_GE(l.to_client - answered, 1u) << "the server never acknowledged a probe";
  const auto after = l.datagrams;
  l.run_for(5000ms);
  EXPECT_EQ(l.datagrams, after);
}

TEST(QuicConnection, dialer_refuses_a_peer_other_than_the_one_dialed) {
  link l;
  l.dial(private_key::generate().to_peer_id());
  l.run_until(
      [&] { return l.client.conn->is_closed() && l.server.conn && l.server.conn->is_closed(); },
      20000ms);
  EXPECT_TRUE(l.client.conn->is_closed());
  EXPECT_EQ(l.client.conn->close_reason(), make_error_code(errc::peer_id_mismatch));
  EXPECT_FALSE(l.client.conn->handshake_done());
  EXPECT_EQ(l.client.count(event_type::handshake_done), 0u);
  ASSERT_TRUE(l.server.conn);
  EXPECT_TRUE(l.server.conn->is_closed());
  EXPECT_EQ(l.server.count(event_type::handshake_done), 0u);
  EXPECT_EQ(l.server.count(event_type::stream_opened), 0u);
}

TEST(QuicConnection, gater_refuses_the_peer_before_any_stream) {
  link l;
  peer_id seen = l.server.key.to_peer_id();
  l.server_gate = [&](const peer_id& p) {
    seen = p;
    return false;
  };
  l.dial();
  l.run_until(
      [&] { return l.client.conn->is_closed() && l.server.conn && l.server.conn->is_closed(); },
      20000ms);
  EXPECT_EQ(seen, l.client.key.to_peer_id());
  ASSERT_TRUE(l.server.conn);
  EXPECT_EQ(l.server.conn->close_reason(), make_error_code(errc::connection_denied));
  EXPECT_EQ(l.server.count(event_type::handshake_done), 0u);
  EXPECT_EQ(l.server.count(event_type::stream_opened), 0u);
  EXPECT_TRUE(l.client.conn->is_closed());
  EXPECT_FALSE(l.client.conn->open_stream().has_value());
}

TEST(QuicConnection, malformed_datagrams_are_dropped_and_the_connection_keeps_serving) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  // Garbage, truncated and bit-flipped copies of a real packet.
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  ASSERT_TRUE(l.client.conn->write(*id, bytes(100, 7)));
  std::vector<datagram> out;
  l.client.conn->write_datagrams(out, l.now, 8);
  ASSERT_FALSE(out.empty());
  const bytes real = out.front().data;
  std::vector<bytes> bad = {bytes{}, bytes{0x40}, random_bytes(1200), random_bytes(20)};
  for (std::size_t cut : {1u, 5u, 21u, 40u}) bad.emplace_back(real.begin(), real.begin() + cut);
  for (std::size_t i = 0; i < real.size(); i += 97) {
    bytes flipped = real;
    flipped[i] ^= 0x10;
    bad.push_back(std::move(flipped));
  }
  for (const auto& b : bad) {
    l.server.conn->on_datagram(b, v4(2000), v4(1000), l.now);
    ASSERT_FALSE(l.server.conn->is_closed()) << "closed by a malformed datagram of " << b.size();
  }
  EXPECT_FALSE(connection::accepts_initial(random_bytes(1200)));
  // The real packet still works, and so does the rest of the stream.
  l.server.conn->on_datagram(real, v4(2000), v4(1000), l.now);
  ASSERT_TRUE(l.client.conn->write(*id, bytes(50, 8)));
  ASSERT_TRUE(l.run_until([&] { return l.server.rx[*id].size() == 150; }));
  EXPECT_FALSE(l.server.conn->is_closed());
}

TEST(QuicConnection, the_peer_may_not_open_more_streams_than_allowed) {
  link l;
  l.server_cfg.max_streams = 4;
  l.dial();
  ASSERT_TRUE(l.handshake());
  std::vector<stream_id> ids;
  for (int i = 0; i < 4; ++i) {
    auto id = l.client.conn->open_stream();
    ASSERT_TRUE(id);
    ids.push_back(*id);
  }
  auto fifth = l.client.conn->open_stream();
  ASSERT_FALSE(fifth);
  EXPECT_EQ(fifth.error(), make_error_code(errc::quic_too_many_streams));
  // Finishing one stream on both sides gives the slot back.
  ASSERT_TRUE(l.client.conn->shutdown_write(ids[0]));
  ASSERT_TRUE(l.run_until([&] { return l.server.fin[ids[0]]; }));
  ASSERT_TRUE(l.server.conn->shutdown_write(ids[0]));
  ASSERT_TRUE(l.run_until([&] { return l.client.conn->open_stream().has_value(); }));
}

TEST(QuicConnection, orderly_close_reaches_the_peer) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  l.client.conn->close();
  EXPECT_TRUE(l.client.conn->is_closed());
  ASSERT_TRUE(l.run_until([&] { return l.server.conn->is_closed(); }, 1000ms));
  EXPECT_EQ(l.server.conn->close_reason(), make_error_code(errc::connection_closed));
  EXPECT_EQ(l.client.conn->close_reason(), make_error_code(errc::connection_closed));
}

TEST(QuicConnection, destination_cid_routes_short_and_long_headers) {
  link l;
  l.dial();
  std::vector<datagram> out;
  l.client.conn->write_datagrams(out, l.now, 8);
  ASSERT_FALSE(out.empty());
  auto dcid = connection::destination_cid(out.front().data, connection::cid_length);
  ASSERT_TRUE(dcid);
  EXPECT_GE(dcid->size(), 8u);
  EXPECT_FALSE(connection::destination_cid(bytes{}, connection::cid_length));
}

TEST(QuicConnection, retry_validates_the_client_address_before_the_listener_keeps_state) {
  link l;
  l.retry = retry_secret::random();
  l.dial();
  ASSERT_TRUE(l.handshake());
  EXPECT_EQ(l.retries, 1u);
  ASSERT_EQ(l.initials_with_token.size(), 1u);
  EXPECT_EQ(*l.client.conn->remote_peer(), l.server.key.to_peer_id());
  // Streams work as without Retry.
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  ASSERT_TRUE(l.client.conn->write(*id, bytes(1000, 1)));
  ASSERT_TRUE(l.run_until([&] { return l.server.rx[*id].size() == 1000; }));

  // The token is bound to the client's address and to the listener's key.
  const auto& initial = l.initials_with_token.front();
  auto elsewhere = connection::accept(config{}, l.server.tls, nullptr, v4(2000), v4(1001), initial,
                                      l.now, &*l.retry);
  EXPECT_FALSE(elsewhere);
  const auto other_key = retry_secret::random();
  auto wrong_key = connection::accept(config{}, l.server.tls, nullptr, v4(2000), v4(1000), initial,
                                      l.now, &other_key);
  EXPECT_FALSE(wrong_key);
  // And it expires.
  auto late = connection::accept(config{}, l.server.tls, nullptr, v4(2000), v4(1000), initial,
                                 l.now + 60s, &*l.retry);
  EXPECT_FALSE(late);
}

// --- RFC 9221 datagrams -------------------------------------------------------

bytes numbered(std::uint8_t n, std::size_t size) {
  bytes b(size, n);
  return b;
}

std::vector<bytes> take_all(connection& c) {
  std::vector<bytes> got;
  for (int i = 0; i < 100000; ++i) {
    auto d = c.take_datagram();
    if (!d) break;
    got.push_back(std::move(*d));
  }
  return got;
}

TEST(QuicConnection, datagrams_carry_payloads_both_ways_when_both_sides_offer_them) {
  link l;
  l.dial();
  EXPECT_EQ(l.client.conn->max_datagram_size(), 0u);  // not before the handshake
  EXPECT_EQ(l.client.conn->send_datagram(bytes(10, 1)).error(),
            make_error_code(errc::quic_datagrams_unsupported));
  ASSERT_TRUE(l.handshake());
  const std::size_t cmax = l.client.conn->max_datagram_size();
  const std::size_t smax = l.server.conn->max_datagram_size();
  // One packet on a 1200-byte path, less QUIC's overhead, at the least.
  EXPECT_GE(cmax, 1156u);
  EXPECT_LE(cmax, 1452u - 24u);
  EXPECT_GE(smax, 1156u);
  std::vector<bytes> to_server, to_client;
  for (std::uint8_t i = 0; i < 20; ++i) {
    to_server.push_back(numbered(i, 1 + i * 50));
    to_client.push_back(numbered(static_cast<std::uint8_t>(100 + i), cmax - i));
  }
  to_server.push_back(random_bytes(cmax));
  for (const auto& d : to_server) ASSERT_TRUE(l.client.conn->send_datagram(d));
  for (const auto& d : to_client) ASSERT_TRUE(l.server.conn->send_datagram(d));
  std::vector<bytes> got_server, got_client;
  ASSERT_TRUE(l.run_until([&] {
    for (auto& d : take_all(*l.server.conn)) got_server.push_back(std::move(d));
    for (auto& d : take_all(*l.client.conn)) got_client.push_back(std::move(d));
    return got_server.size() == to_server.size() && got_client.size() == to_client.size();
  })) << "client " << l.client.conn->datagram_counters().sent << "/"
      << l.client.conn->datagram_counters().send_dropped << " server "
      << l.server.conn->datagram_counters().sent << "/"
      << l.server.conn->datagram_counters().send_dropped << " got " << got_server.size() << " "
      << got_client.size() << " max " << cmax << " " << smax;
  // No loss on this link, so all arrive, in order.
  ASSERT_EQ(got_server.size(), to_server.size());
  EXPECT_EQ(got_server, to_server);
  EXPECT_EQ(got_client, to_client);
  // One wake-up per batch of packets, not one per datagram.
  EXPECT_GE(l.server.count(event_type::datagram_received), 1u);
  EXPECT_LE(l.server.count(event_type::datagram_received), to_server.size());
  const auto cs = l.client.conn->datagram_counters();
  EXPECT_EQ(cs.sent, to_server.size());
  EXPECT_EQ(cs.received, to_client.size());
  EXPECT_EQ(cs.send_dropped + cs.receive_dropped, 0u);
}

TEST(QuicConnection, recycled_datagram_buffers_carry_later_datagrams_intact) {
  // Buffers of sent datagrams and the ones handed back by
  // take_datagram(bytes&) carry later datagrams: sizes that shrink and
  // grow from round to round must arrive exactly as sent.
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  const std::size_t cmax = l.client.conn->max_datagram_size();
  bytes into;  // kept from call to call, as the TUN pump does
  for (int round = 0; round < 4; ++round) {
    std::vector<bytes> sent;
    for (std::size_t i = 0; i < 40; ++i) {
      const std::size_t size = round % 2 == 0 ? cmax - i * 7 : 1 + i * 3;
      sent.push_back(numbered(static_cast<std::uint8_t>(round * 40 + i), size));
      sent.back()[0] = static_cast<std::uint8_t>(i);  // not all bytes alike
      ASSERT_TRUE(l.client.conn->send_datagram(sent.back()));
    }
    std::vector<bytes> got;
    ASSERT_TRUE(l.run_until([&] {
      while (l.server.conn->take_datagram(into)) got.push_back(into);
      return got.size() >= sent.size();
    })) << "round " << round << ": got " << got.size();
    EXPECT_EQ(got, sent) << "round " << round;
    EXPECT_FALSE(l.server.conn->take_datagram(into));
  }
  const auto cs = l.client.conn->datagram_counters();
  EXPECT_EQ(cs.sent, 160u);
  EXPECT_EQ(cs.send_dropped, 0u);
}

TEST(QuicConnection, datagrams_are_refused_when_either_side_offers_none_and_streams_still_work) {
  for (bool server_offers : {false, true}) {
    link l;
    if (server_offers)
      l.client_cfg.max_datagram_frame_size = 0;
    else
      l.server_cfg.max_datagram_frame_size = 0;
    l.dial();
    ASSERT_TRUE(l.handshake());
    EXPECT_EQ(l.client.conn->max_datagram_size(), 0u);
    EXPECT_EQ(l.server.conn->max_datagram_size(), 0u);
    EXPECT_EQ(l.client.conn->send_datagram(bytes(10, 1)).error(),
              make_error_code(errc::quic_datagrams_unsupported));
    EXPECT_EQ(l.server.conn->send_datagram(bytes(10, 1)).error(),
              make_error_code(errc::quic_datagrams_unsupported));
    auto id = l.client.conn->open_stream();
    ASSERT_TRUE(id);
    ASSERT_TRUE(l.client.conn->write(*id, bytes(3000, 5)));
    ASSERT_TRUE(l.run_until([&] { return l.server.rx[*id].size() == 3000; }));
    EXPECT_FALSE(l.client.conn->is_closed());
    EXPECT_FALSE(l.server.conn->is_closed());
  }
}

TEST(QuicConnection, a_datagram_above_the_peers_limit_is_refused_at_send) {
  link l;
  l.server_cfg.max_datagram_frame_size = 200;  // type and a 2-byte length leave 197
  l.dial();
  ASSERT_TRUE(l.handshake());
  EXPECT_EQ(l.client.conn->max_datagram_size(), 197u);
  EXPECT_GE(l.server.conn->max_datagram_size(), 1156u);
  EXPECT_EQ(l.client.conn->send_datagram(bytes(198, 1)).error(),
            make_error_code(errc::quic_datagram_too_large));
  const bytes fits = random_bytes(197);
  ASSERT_TRUE(l.client.conn->send_datagram(fits));
  std::vector<bytes> got;
  ASSERT_TRUE(l.run_until([&] {
    for (auto& d : take_all(*l.server.conn)) got.push_back(std::move(d));
    return !got.empty();
  }));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.front(), fits);
  EXPECT_FALSE(l.server.conn->is_closed());
}

TEST(QuicConnection, a_full_receive_queue_drops_per_policy_and_counts) {
  for (auto policy : {datagram_drop::oldest, datagram_drop::newest}) {
    link l;
    l.server_cfg.datagram_queue = 4;
    l.server_cfg.datagram_policy = policy;
    l.dial();
    ASSERT_TRUE(l.handshake());
    for (std::uint8_t i = 0; i < 10; ++i) ASSERT_TRUE(l.client.conn->send_datagram(numbered(i, 30)));
    // Nobody takes them until all ten arrived.
    ASSERT_TRUE(l.run_until([&] { return l.server.conn->datagram_counters().received == 10; }));
    const auto st = l.server.conn->datagram_counters();
    EXPECT_EQ(st.receive_dropped, 6u);
    auto got = take_all(*l.server.conn);
    ASSERT_EQ(got.size(), 4u);
    const std::uint8_t first = policy == datagram_drop::oldest ? 6 : 0;
    for (std::uint8_t i = 0; i < 4; ++i) EXPECT_EQ(got[i], numbered(first + i, 30));
  }
}

TEST(QuicConnection, a_full_send_queue_drops_the_oldest_and_counts) {
  link l;
  l.client_cfg.datagram_queue = 3;
  l.dial();
  ASSERT_TRUE(l.handshake());
  EXPECT_EQ(l.client.conn->datagram_send_room(), 3u);
  for (std::uint8_t i = 0; i < 5; ++i) {
    // The room a careful sender checks first says when the next one drops.
    EXPECT_EQ(l.client.conn->datagram_send_room(), i < 3 ? 3u - i : 0u);
    ASSERT_TRUE(l.client.conn->send_datagram(numbered(i, 40)));
  }
  EXPECT_EQ(l.client.conn->datagram_counters().send_dropped, 2u);
  std::vector<bytes> got;
  ASSERT_TRUE(l.run_until([&] {
    for (auto& d : take_all(*l.server.conn)) got.push_back(std::move(d));
    return got.size() == 3;
  }));
  EXPECT_EQ(got, (std::vector<bytes>{numbered(2, 40), numbered(3, 40), numbered(4, 40)}));
}

TEST(QuicConnection, a_lost_datagram_is_not_retransmitted) {
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  ASSERT_TRUE(l.client.conn->send_datagram(bytes(100, 9)));
  std::vector<datagram> lost;
  l.client.conn->write_datagrams(lost, l.now, 8);
  ASSERT_FALSE(lost.empty());
  EXPECT_EQ(l.client.conn->datagram_counters().sent, 1u);
  // The packet never arrives; loss recovery runs for a few seconds.
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  ASSERT_TRUE(l.client.conn->write(*id, bytes(500, 3)));
  ASSERT_TRUE(l.run_until([&] { return l.server.rx[*id].size() == 500; }));
  l.run_until([] { return false; }, 3000ms);
  EXPECT_EQ(l.server.conn->datagram_counters().received, 0u);
  EXPECT_FALSE(l.server.conn->take_datagram());
  EXPECT_EQ(l.client.conn->datagram_counters().sent, 1u);
  EXPECT_FALSE(l.client.conn->is_closed());
}

TEST(QuicConnection, small_reads_between_arrivals_keep_the_bytes_in_order) {
  // The reader takes 5000 bytes per step while packets keep arriving, so
  // the receive buffer holds a remainder whenever more is appended and
  // wraps around its end many times.
  link l;
  l.dial();
  ASSERT_TRUE(l.handshake());
  l.server.auto_read = false;
  auto id = l.client.conn->open_stream();
  ASSERT_TRUE(id);
  const bytes payload = random_bytes(2 * 1024 * 1024 + 333);
  std::size_t off = 0;
  bool fin_sent = false;
  bytes got;
  bool fin = false;
  std::array<std::uint8_t, 5000> buf;
  const auto step = [&] {
    if (off < payload.size()) off = write_some(*l.client.conn, *id, payload, off);
    if (off == payload.size() && !fin_sent)
      fin_sent = l.client.conn->shutdown_write(*id).has_value();
    if (l.server.conn && l.server.count(event_type::stream_opened) > 0) {
      auto r = l.server.conn->read(*id, buf);
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.n));
      EXPECT_FALSE(r.reset);
      fin = fin || r.fin;
    }
    return fin;
  };
  // The link goes quiet whenever the reader holds back the window: each
  // call reads once more and lets the window update out.
  for (int i = 0; i < 20000 && !fin; ++i) l.run_until(step);
  ASSERT_TRUE(fin);
  ASSERT_EQ(got.size(), payload.size());
  EXPECT_EQ(sha256(got), sha256(payload));
}

TEST(QuicConnection, a_packet_batch_keeps_packets_back_to_back_across_growth) {
  packet_batch b;
  std::vector<bytes> sent;
  for (std::size_t i = 0; i < 200; ++i) {
    bytes d = random_bytes(1 + (i * 37) % 1452);
    std::uint8_t* at = b.room(1452);
    std::memcpy(at, d.data(), d.size());
    b.commit(d.size(), i % 50 == 49 ? v4(3000) : v4(2000));
    sent.push_back(std::move(d));
  }
  ASSERT_EQ(b.size(), sent.size());
  std::size_t expected_offset = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b[i].offset, expected_offset);
    expected_offset += b[i].len;
    const auto got = b.bytes_of(b[i]);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), sent[i].begin(), sent[i].end())) << i;
    EXPECT_EQ(b.to(b[i]), i % 50 == 49 ? v4(3000) : v4(2000));
  }
  b.clear();
  EXPECT_TRUE(b.empty());
  b.append(sent[3], v4(4000));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].offset, 0u);
  EXPECT_EQ(b.to(b[0]), v4(4000));
}

}  // namespace
}  // namespace peerup::quic
