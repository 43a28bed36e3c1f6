// Two hosts in one process over QUIC on loopback: the same protocols as over
// TCP, with QUIC streams as libp2p streams (no Noise, no Yamux).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocols/identify.hpp"
#include "protocols/ping.hpp"
#include "support/async_test.hpp"

namespace peerup::test {
namespace {

struct quic_hosts : ::testing::Test {
  asio::io_context io;
  net::host server{io.get_executor(), listening_config("/ip4/127.0.0.1/udp/0/quic-v1")};
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};

  void SetUp() override {
    server.set_handler(echo_protocol, serve_echo);
    server.start();
    client.start();
  }
  multiaddr server_addr() { return server.full_addrs().front(); }

  // Connects (into `conn`) and returns the datagram channels of both ends;
  // a null one has already failed the test.
  net::awaitable<std::pair<net::datagram_channel*, net::datagram_channel*>> datagram_ends(
      net::connection_ptr& conn) {
    auto c = co_await client.connect(server_addr());
    EXPECT_TRUE(c) << c.error().message();
    if (!c) co_return std::pair<net::datagram_channel*, net::datagram_channel*>{};
    conn = *c;
    net::datagram_channel* mine = conn->mux->datagrams();
    EXPECT_NE(mine, nullptr);
    EXPECT_TRUE(co_await eventually([&] { return !server.connections(client.id()).empty(); }));
    net::datagram_channel* theirs = nullptr;
    if (!server.connections(client.id()).empty())
      theirs = server.connections(client.id()).front()->mux->datagrams();
    EXPECT_NE(theirs, nullptr);
    co_return std::pair{mine, theirs};
  }
};

TEST_F(quic_hosts, listen_address_is_a_quic_v1_address) {
  const auto addrs = server.listen_addrs();
  ASSERT_EQ(addrs.size(), 1u);
  EXPECT_TRUE(net::is_quic_addr(addrs.front()));
  EXPECT_THAT(addrs.front().to_string(), ::testing::StartsWith("/ip4/127.0.0.1/udp/"));
  EXPECT_THAT(addrs.front().to_string(), ::testing::EndsWith("/quic-v1"));
}

TEST_F(quic_hosts, moves_64_mib_over_8_concurrent_streams_with_checksums) {
  constexpr std::size_t streams = 8, per_stream = 8 * 1024 * 1024;
  std::vector<bytes> sent(streams), received(streams);
  for (auto& s : sent) s = random_bytes(per_stream);
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server_addr());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    EXPECT_EQ((*conn)->mux->kind(), "quic");
    // Named, not a temporary: g++ 12 destroys class temporaries inside a
    // co_await expression twice.
    auto echoing = echo_on_streams(client, *conn, sent);
    received = co_await std::move(echoing);
  });
  for (std::size_t i = 0; i < streams; ++i) {
    ASSERT_EQ(received[i].size(), per_stream) << "stream " << i;
    EXPECT_EQ(sha256(received[i]), sha256(sent[i])) << "stream " << i;
  }
}

TEST_F(quic_hosts, refuses_a_listener_with_another_peer_id) {
  run_async(io, [&]() -> net::awaitable<void> {
    const auto impostor = private_key::generate().to_peer_id();
    auto conn = co_await client.connect(server.listen_addrs().front().with_peer(impostor));
    EXPECT_FALSE(conn);
    if (!conn) {
      EXPECT_EQ(conn.error(), make_error_code(errc::peer_id_mismatch));
    }
  });
  EXPECT_TRUE(server.connections(client.id()).empty());
}

TEST_F(quic_hosts, gater_cuts_a_denied_peer_before_any_stream) {
  int gated = 0, served = 0;
  server.set_gater([&](const peer_id& p, const multiaddr& from) {
    ++gated;
    EXPECT_TRUE(net::is_quic_addr(from)) << from.to_string();
    return p != client.id();
  });
  const protocol_id count_protocol{"/test/count/1.0.0"};
  server.set_handler(count_protocol,
                     [&](net::stream_ptr, net::stream_context) -> net::awaitable<void> {
                       ++served;
                       co_return;
                     });
  run_async(io, [&]() -> net::awaitable<void> {
    // TLS 1.3 client authentication: the client finishes its handshake
    // before the server checks the client's certificate, so connect() may
    // succeed; the server's refusal then closes the connection, and the
    // server never accepts a stream.
    auto conn = co_await client.connect(server_addr());
    if (conn) {
      auto s = co_await client.new_stream(*conn, count_protocol);
      EXPECT_FALSE(s) << "a stream opened on a denied connection";
    }
    asio::steady_timer t(io, 100ms);
    co_await t.async_wait(net::use_nothrow);
  });
  EXPECT_EQ(gated, 1);
  EXPECT_EQ(served, 0);
  EXPECT_TRUE(server.connections(client.id()).empty());
}

TEST_F(quic_hosts, stream_reset_reaches_the_peer_and_the_connection_lives_on) {
  std::optional<net::error_code> server_read_error;
  const protocol_id sink{"/test/sink/1.0.0"};
  server.set_handler(sink, [&](net::stream_ptr s, net::stream_context) -> net::awaitable<void> {
    std::vector<std::uint8_t> buf(4096);
    for (int i = 0; i < 10000; ++i) {
      auto n = co_await s->read_some(buf);
      if (!n) {
        server_read_error = n.error();
        break;
      }
      if (*n == 0) break;
    }
  });
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = (co_await client.connect(server_addr())).value();
    auto opened = co_await client.new_stream(conn, sink);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    const auto some = random_bytes(10000);
    EXPECT_TRUE(co_await opened->stream->write(some));
    opened->stream->reset();
    EXPECT_TRUE(co_await eventually([&] { return server_read_error.has_value(); }, 5000ms));
    EXPECT_EQ(server_read_error, make_error_code(errc::stream_reset));
    // The connection carries new streams after the reset.
    auto again = co_await client.new_stream(conn, echo_protocol);
    EXPECT_TRUE(again);
    if (!again) co_return;
    auto echoed = co_await echo_roundtrip(*again->stream, some);
    EXPECT_TRUE(echoed && *echoed == some);
  });
}

// GSO and GRO on (where the kernel has them) and off (PEERUP_QUIC_GSO=off,
// PEERUP_QUIC_GRO=off, read when a socket opens): 8 MiB echoed over one
// stream arrive intact either way, and the counters show which path ran.
struct offload_run {
  bool intact = false;
  net::host::quic_offload_stats client, server;
};

offload_run echo_with_offload(bool on) {
  ::setenv("PEERUP_QUIC_GSO", on ? "on" : "off", 1);
  ::setenv("PEERUP_QUIC_GRO", on ? "on" : "off", 1);
  asio::io_context io;
  net::host server{io.get_executor(), listening_config("/ip4/127.0.0.1/udp/0/quic-v1")};
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  client.start();
  // Kept until the end: the client opens its dial socket at connect().
  struct unset_at_exit {
    ~unset_at_exit() {
      ::unsetenv("PEERUP_QUIC_GSO");
      ::unsetenv("PEERUP_QUIC_GRO");
    }
  } unset;
  const std::vector<bytes> sent{random_bytes(8 * 1024 * 1024)};
  std::vector<bytes> received;
  offload_run out;
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.full_addrs().front());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    auto echoing = echo_on_streams(client, *conn, sent);
    received = co_await std::move(echoing);
    out.client = client.quic_offload();
    out.server = server.quic_offload();
  });
  out.intact = received.size() == 1 && received[0].size() == sent[0].size() &&
               sha256(received[0]) == sha256(sent[0]);
  return out;
}

TEST(quic_offload, gso_and_gro_move_the_same_bytes_as_plain_sends) {
  const auto off = echo_with_offload(false);
  EXPECT_TRUE(off.intact) << "8 MiB echo with GSO and GRO off";
  EXPECT_FALSE(off.client.gso || off.client.gro || off.server.gso || off.server.gro);
  EXPECT_EQ(off.client.gso_sends + off.server.gso_sends, 0u);
  EXPECT_EQ(off.client.gro_receives + off.server.gro_receives, 0u);

  const auto on = echo_with_offload(true);
  EXPECT_TRUE(on.intact) << "8 MiB echo with GSO and GRO on";
  if (!on.client.gso || !on.server.gso)
    GTEST_SKIP() << "this kernel has no UDP GSO (UDP_SEGMENT): only the plain path was tested";
  // Both ends sent runs of full-size packets (8 MiB each way).
  EXPECT_GT(on.client.gso_sends, 0u);
  EXPECT_GT(on.server.gso_sends, 0u);
  if (!on.client.gro || !on.server.gro)
    GTEST_SKIP() << "this kernel has no UDP GRO (UDP_GRO): GSO tested, GRO not";
  // On loopback a GSO send reaches a GRO socket whole: the split path ran.
  EXPECT_GT(on.client.gro_receives + on.server.gro_receives, 0u);
}

// The memory budget (host_limits::max_memory) bounds what a QUIC peer may
// make us hold: the receive window and the datagram queues are reserved
// when the connection opens, shrunk to a share of what is left, and given
// back when it closes.
struct budget_run {
  std::size_t while_open = 0, after_close = 0;
  bool intact = false;
  bool server_datagrams = false, client_datagrams = false;
};

budget_run echo_within_budget(std::size_t max_memory, std::size_t size) {
  asio::io_context io;
  auto cfg = listening_config("/ip4/127.0.0.1/udp/0/quic-v1");
  cfg.limits.max_memory = max_memory;
  net::host server{io.get_executor(), cfg};
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  client.start();
  const std::vector<bytes> sent{random_bytes(size)};
  budget_run out;
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.full_addrs().front());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    EXPECT_TRUE(co_await eventually([&] { return !server.connections(client.id()).empty(); }));
    if (server.connections(client.id()).empty()) co_return;
    out.server_datagrams = server.connections(client.id()).front()->mux->datagrams() != nullptr;
    out.client_datagrams = (*conn)->mux->datagrams() != nullptr;
    out.while_open = server.resources().usage().memory;
    auto echoing = echo_on_streams(client, *conn, sent);
    auto received = co_await std::move(echoing);
    out.intact = received.size() == 1 && sha256(received[0]) == sha256(sent[0]);
    (*conn)->mux->close();
    EXPECT_TRUE(co_await eventually([&] { return server.connections(client.id()).empty(); },
                                    5000ms));
    out.after_close = server.resources().usage().memory;
  });
  return out;
}

TEST(quic_budget, the_receive_window_and_datagram_queues_are_reserved_and_given_back) {
  // 32 MiB: a share of 2 MiB, so a 2 MiB window (not 64) and full queues.
  const auto r = echo_within_budget(32u << 20, 8u << 20);
  EXPECT_TRUE(r.intact) << "8 MiB echo through a 2 MiB window";
  EXPECT_GE(r.while_open, 2u << 20) << "window and datagram queues reserved";
  EXPECT_LE(r.while_open, (2u << 20) + 256 * 2 * 1452) << "more than the share reserved";
  EXPECT_TRUE(r.server_datagrams && r.client_datagrams);
  EXPECT_EQ(r.after_close, 0u) << "the reservation outlived the connection";
}

TEST(quic_budget, a_tight_budget_still_serves_streams_and_offers_no_datagrams) {
  // 512 KiB: the initial window is forced, and no datagram queue fits.
  const auto r = echo_within_budget(512u << 10, 1u << 20);
  EXPECT_TRUE(r.intact) << "1 MiB echo on the forced initial window";
  EXPECT_FALSE(r.server_datagrams) << "datagrams offered beyond the budget";
  EXPECT_FALSE(r.client_datagrams) << "datagrams negotiated though the server offered none";
  EXPECT_EQ(r.after_close, 0u);
}

TEST(quic_idle, an_idle_connection_closes_after_the_idle_timeout) {
  asio::io_context io;
  auto server_cfg = listening_config("/ip4/127.0.0.1/udp/0/quic-v1");
  server_cfg.quic_cfg.idle_timeout = 1s;
  server_cfg.quic_cfg.keep_alive = 0s;
  server_cfg.limits.idle_timeout = 0s;  // the host's own idle closing stays out of it
  net::host server(io.get_executor(), server_cfg);
  net::host_config client_cfg{.identity = private_key::generate()};
  client_cfg.quic_cfg.idle_timeout = 1s;
  client_cfg.quic_cfg.keep_alive = 0s;
  client_cfg.limits.idle_timeout = 0s;
  net::host client(io.get_executor(), client_cfg);
  server.start();
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.full_addrs().front());
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(co_await eventually([&] { return (*conn)->mux->is_closed(); }, 5000ms));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
    EXPECT_EQ((*conn)->mux->close_reason(), make_error_code(errc::timeout));
    EXPECT_TRUE(co_await eventually([&] { return server.all_connections().empty(); }, 5000ms));
    EXPECT_TRUE(client.connections(server.id()).empty());
  });
}

TEST_F(quic_hosts, ping_measures_round_trips) {
  protocols::install_ping(server);
  run_async(io, [&]() -> net::awaitable<void> {
    auto opened = co_await client.new_stream((co_await client.connect(server_addr())).value(),
                                             protocols::ping_protocol);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    for (int i = 0; i < 5; ++i) {
      auto rtt = co_await protocols::ping_once(*opened->stream);
      EXPECT_TRUE(rtt) << rtt.error().message();
    }
  });
}

TEST_F(quic_hosts, identify_reports_quic_addresses_and_the_observed_address) {
  protocols::identify_service server_id(server);
  protocols::identify_service client_id(client);
  std::optional<protocols::identify_info> info;
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server_addr());
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    auto r = co_await client_id.identify(*conn);
    EXPECT_TRUE(r) << r.error().message();
    if (r) info = *r;
  });
  ASSERT_TRUE(info);
  EXPECT_EQ(info->listen_addrs, server.listen_addrs());
  EXPECT_THAT(info->protocols, ::testing::Contains(protocols::identify_protocol.str()));
  ASSERT_TRUE(info->observed_addr);
  EXPECT_TRUE(net::is_quic_addr(*info->observed_addr)) << info->observed_addr->to_string();
}

// --- RFC 9221 datagrams ---------------------------------------------------------

// A datagram numbered `seq` whose body is derived from it, so the receiver
// checks every byte without a table of what was sent.
bytes numbered_datagram(std::uint32_t seq, std::size_t size) {
  bytes d(std::max<std::size_t>(size, 4));
  for (int i = 0; i < 4; ++i) d[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seq >> (8 * i));
  for (std::size_t i = 4; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(seq * 31 + i);
  return d;
}

std::optional<std::uint32_t> check_numbered(const bytes& d) {
  if (d.size() < 4) return std::nullopt;
  std::uint32_t seq = 0;
  for (int i = 0; i < 4; ++i) seq |= std::uint32_t{d[static_cast<std::size_t>(i)]} << (8 * i);
  if (d != numbered_datagram(seq, d.size())) return std::nullopt;
  return seq;
}

TEST_F(quic_hosts, datagrams_flow_both_ways_and_are_echoed_intact) {
  run_async(io, [&]() -> net::awaitable<void> {
    net::connection_ptr conn;
    auto ends = co_await datagram_ends(conn);
    net::datagram_channel* mine = ends.first;
    net::datagram_channel* theirs = ends.second;
    if (!mine || !theirs) co_return;
    const std::size_t max = mine->max_size();
    EXPECT_GE(max, 1156u);
    EXPECT_EQ(mine->send(bytes(max + 1, 0)).error(),
              make_error_code(errc::quic_datagram_too_large));
    // The server echoes every datagram; the client sends 200 in batches of
    // 20 (each batch well inside the send queue).
    asio::co_spawn(io, [theirs]() -> net::awaitable<void> {
      for (;;) {
        auto d = co_await theirs->receive();
        if (!d) co_return;
        (void)theirs->send(*d);
      }
    }, asio::detached);
    std::vector<bool> seen(200, false);
    std::size_t got = 0;
    for (std::uint32_t batch = 0; batch < 10; ++batch) {
      for (std::uint32_t i = 0; i < 20; ++i) {
        const std::uint32_t seq = batch * 20 + i;
        auto sent = mine->send(numbered_datagram(seq, 4 + (seq * 97) % (max - 3)));
        EXPECT_TRUE(sent) << sent.error().message();
      }
      // Loopback loses nothing here: every echo of the batch comes back.
      for (std::uint32_t i = 0; i < 20; ++i) {
        auto d = co_await mine->receive();
        EXPECT_TRUE(d);
        if (!d) co_return;
        auto seq = check_numbered(*d);
        EXPECT_TRUE(seq && *seq < 200 && !seen[*seq]) << "corrupt or repeated datagram";
        if (seq && *seq < 200) seen[*seq] = true;
        ++got;
      }
    }
    EXPECT_EQ(got, 200u);
    EXPECT_EQ(mine->stats().sent, 200u);
    EXPECT_EQ(mine->stats().received, 200u);
    EXPECT_EQ(theirs->stats().received, 200u);
    EXPECT_EQ(mine->stats().send_dropped + mine->stats().receive_dropped, 0u);
    // Streams are unaffected.
    auto opened = co_await client.new_stream(conn, echo_protocol);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    const auto data = random_bytes(200000);
    auto echoed = co_await echo_roundtrip(*opened->stream, data);
    EXPECT_TRUE(echoed && *echoed == data);
  });
}

TEST_F(quic_hosts, datagrams_nobody_reads_are_dropped_at_the_queue_bound_and_counted) {
  run_async(io, [&]() -> net::awaitable<void> {
    net::connection_ptr conn;
    auto ends = co_await datagram_ends(conn);
    net::datagram_channel* mine = ends.first;
    net::datagram_channel* theirs = ends.second;
    if (!mine || !theirs) co_return;
    const std::size_t bound = quic::config{}.datagram_queue;
    for (std::uint32_t seq = 0; seq < 2 * bound; ++seq) {
      EXPECT_TRUE(mine->send(numbered_datagram(seq, 100)));
      if (seq % 32 == 31) {
        EXPECT_TRUE(co_await eventually([&] { return theirs->stats().received == seq + 1; }));
      }
    }
    EXPECT_EQ(theirs->stats().received, 2 * bound);
    EXPECT_EQ(theirs->stats().receive_dropped, bound);
    // Oldest dropped: the newest `bound` wait, in order.
    for (std::uint32_t i = 0; i < bound; ++i) {
      auto d = theirs->try_receive();
      EXPECT_TRUE(d);
      if (!d) co_return;
      EXPECT_EQ(check_numbered(*d), std::optional<std::uint32_t>(bound + i));
    }
    EXPECT_FALSE(theirs->try_receive());
    conn->mux->close();
    EXPECT_TRUE(co_await eventually([&] { return server.connections(client.id()).empty(); }));
  });
}

TEST(quic_datagrams, a_peer_that_offers_none_has_no_channel_and_streams_work) {
  asio::io_context io;
  auto cfg = listening_config("/ip4/127.0.0.1/udp/0/quic-v1");
  cfg.quic_cfg.max_datagram_frame_size = 0;
  net::host server(io.get_executor(), cfg);
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.full_addrs().front());
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    EXPECT_EQ((*conn)->mux->kind(), "quic");
    EXPECT_EQ((*conn)->mux->datagrams(), nullptr);
    auto opened = co_await client.new_stream(*conn, echo_protocol);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    const auto data = random_bytes(100000);
    auto echoed = co_await echo_roundtrip(*opened->stream, data);
    EXPECT_TRUE(echoed && *echoed == data);
  });
}

TEST(quic_datagrams, a_receiver_waiting_when_the_connection_closes_gets_connection_closed) {
  asio::io_context io;
  net::host server(io.get_executor(), listening_config("/ip4/127.0.0.1/udp/0/quic-v1"));
  server.start();
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.full_addrs().front());
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    net::datagram_channel* ch = (*conn)->mux->datagrams();
    EXPECT_NE(ch, nullptr);
    if (!ch) co_return;
    auto mux = (*conn)->mux;  // keeps the channel alive past close
    asio::steady_timer t(io, 100ms);
    t.async_wait([mux](net::error_code) { mux->close(); });
    auto r = co_await ch->receive();
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error(), make_error_code(errc::connection_closed));
    }
    EXPECT_EQ(ch->max_size(), 0u);
    EXPECT_EQ(ch->send(bytes(10, 1)).error(), make_error_code(errc::connection_closed));
  });
}

TEST(quic_and_tcp, a_host_listens_on_both_and_serves_each) {
  asio::io_context io;
  net::host_config cfg{.identity = private_key::generate(),
                       .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0"),
                                  *multiaddr::parse("/ip4/127.0.0.1/udp/0/quic-v1")}};
  net::host server(io.get_executor(), cfg);
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  ASSERT_EQ(server.full_addrs().size(), 2u);
  for (const auto& addr : server.full_addrs()) {
    net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
    run_async(io, [&]() -> net::awaitable<void> {
      auto conn = co_await client.connect(addr);
      EXPECT_TRUE(conn) << addr.to_string();
      if (!conn) co_return;
      EXPECT_EQ((*conn)->mux->kind(), net::is_quic_addr(addr) ? "quic" : "yamux");
      // Datagrams only where QUIC carries them.
      EXPECT_EQ((*conn)->mux->datagrams() != nullptr, net::is_quic_addr(addr));
      auto opened = co_await client.new_stream(*conn, echo_protocol);
      EXPECT_TRUE(opened);
      if (!opened) co_return;
      const auto data = random_bytes(100000);
      auto echoed = co_await echo_roundtrip(*opened->stream, data);
      EXPECT_TRUE(echoed && *echoed == data);
    });
  }
}

TEST(quic_preferred, an_open_quic_connection_wins_over_a_newer_tcp_one) {
  asio::io_context io;
  net::host_config cfg{.identity = private_key::generate(),
                       .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0"),
                                  *multiaddr::parse("/ip4/127.0.0.1/udp/0/quic-v1")}};
  net::host server(io.get_executor(), cfg);
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  multiaddr quic_addr, tcp_addr;
  for (const auto& a : server.full_addrs()) (net::is_quic_addr(a) ? quic_addr : tcp_addr) = a;
  run_async(io, [&]() -> net::awaitable<void> {
    auto q = co_await client.connect(quic_addr);
    EXPECT_TRUE(q);
    // A second, newer connection over TCP (as a hole punch may leave).
    auto t = co_await client.dial_reusing_port(tcp_addr, server.id());
    EXPECT_TRUE(t) << t.error().message();
    if (!q || !t) co_return;
    EXPECT_EQ((*t)->transport(), "tcp");
    const auto conns = client.connections(server.id());
    EXPECT_EQ(conns.size(), 2u);
    EXPECT_EQ(conns.front()->transport(), "quic");
    auto chosen = co_await client.connect(server.id());
    EXPECT_TRUE(chosen);
    if (chosen) {
      EXPECT_EQ(*chosen, *q);
    }
    // New streams go over it.
    auto opened = co_await client.new_stream(server.id(), echo_protocol);
    EXPECT_TRUE(opened);
    if (opened) {
      EXPECT_EQ(opened->conn->transport(), "quic");
    }
  });
}

TEST(quic_happy_eyeballs, a_peer_with_both_addresses_is_reached_over_quic) {
  asio::io_context io;
  net::host_config cfg{.identity = private_key::generate(),
                       .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0"),
                                  *multiaddr::parse("/ip4/127.0.0.1/udp/0/quic-v1")}};
  net::host server(io.get_executor(), cfg);
  server.start();
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  // TCP listed first: the order of the peer store does not decide.
  auto addrs = server.listen_addrs();
  std::stable_partition(addrs.begin(), addrs.end(),
                        [](const multiaddr& a) { return !net::is_quic_addr(a); });
  for (const auto& a : addrs) client.peers().add_addr(server.id(), a);
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.id());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    EXPECT_EQ((*conn)->transport(), "quic");
    EXPECT_EQ(client.connections(server.id()).size(), 1u);
  });
}

TEST(quic_happy_eyeballs, tcp_takes_over_when_quic_gets_no_answer) {
  asio::io_context io;
  net::host server(io.get_executor(), listening_config());  // TCP only
  server.start();
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  // A QUIC address where nothing answers: a bound UDP socket that never reads.
  net::udp::socket silent(io, net::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  client.peers().add_addr(server.id(), net::to_quic_multiaddr(silent.local_endpoint()));
  client.peers().add_addr(server.id(), server.listen_addrs().front());
  run_async(io, [&]() -> net::awaitable<void> {
    const auto start = std::chrono::steady_clock::now();
    auto conn = co_await client.connect(server.id());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    EXPECT_EQ((*conn)->transport(), "tcp");
    // Not after QUIC's dial timeout: TCP started 250 ms in.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  });
}

TEST(quic_retry, a_loaded_listener_validates_addresses_with_retry_and_still_serves) {
  asio::io_context io;
  auto cfg = listening_config("/ip4/127.0.0.1/udp/0/quic-v1");
  // A pending-handshake cap under 4 puts the flood threshold (a quarter of
  // it) at 0: every client is asked to prove its address.
  cfg.limits.max_pending_handshakes = 3;
  net::host server(io.get_executor(), cfg);
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.full_addrs().front());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    auto opened = co_await client.new_stream(*conn, echo_protocol);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    const auto data = random_bytes(100000);
    auto echoed = co_await echo_roundtrip(*opened->stream, data);
    EXPECT_TRUE(echoed && *echoed == data);
  });
  EXPECT_EQ(server.quic_retries_sent(), 1u);
}

}  // namespace
}  // namespace peerup::test
