// DCUtR and path management in one process on loopback: A (a client) and B
// (a home node holding a reservation) meet only through an in-process relay;
// B upgrades the relayed connection with DCUtR. Loopback has no NAT, so the
// direct dials would work anyway: this proves the protocol, the roles of a
// simultaneous open, stream placement and fallback, not NAT traversal
// (tests/lab does that with real NATs).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <set>

#include "protocols/path_manager.hpp"
#include "protocols/relay_server.hpp"
#include "support/relay_support.hpp"

namespace peerup::test {
namespace {

using protocols::path_kind;

protocols::path_manager_config loopback_paths(std::chrono::milliseconds retry = 30s) {
  protocols::path_manager_config c;
  c.dcutr.policy = {.allow_private = true, .allow_loopback = true};
  c.dcutr.try_unilateral = false;  // on loopback it would always win; test the hole punch
  c.retry_initial = retry;
  c.relayed_idle_grace = 200ms;
  c.sweep_interval = 100ms;
  c.autonat = false;
  return c;
}

struct node {
  net::host host;
  protocols::identify_service identify{host};
  std::optional<protocols::path_manager> paths;
  node(asio::io_context& io, net::host_config cfg) : host(io.get_executor(), std::move(cfg)) {}
};

struct dcutr_setup : ::testing::Test {
  asio::io_context io;
  node relay{io, listening_config()};
  std::set<peer_id> authorized;
  protocols::relay_server server{
      relay.host, {.is_authorized = [this](const peer_id& p) { return authorized.contains(p); }}};
  node b{io, listening_config()};  // home: reserves on the relay
  std::optional<protocols::reservation_keeper> keeper;
  std::unique_ptr<node> a;  // client

  void SetUp() override {
    relay.host.start();
    authorized.insert(b.host.id());
    b.host.set_handler(echo_protocol, serve_echo);
    b.host.start();
    protocols::install_circuit_dialer(b.host);
    reserve_on(b.host, relay.host.full_addrs().front(), keeper);
  }
  void TearDown() override {
    if (a && a->paths) a->paths->stop();
    if (b.paths) b.paths->stop();
    keeper->stop();
  }
  void start_b(protocols::path_manager_config cfg) {
    b.paths.emplace(b.host, b.identify, cfg);
    b.paths->start();
  }
  void start_a(protocols::path_manager_config cfg, bool listen = true) {
    a = std::make_unique<node>(
        io, listen ? listening_config() : net::host_config{.identity = private_key::generate()});
    authorized.insert(a->host.id());
    protocols::install_circuit_dialer(a->host);
    a->host.start();
    a->paths.emplace(a->host, a->identify, cfg);
    a->paths->start();
  }
  multiaddr circuit_to_b() { return circuit_addr(relay.host.full_addrs().front(), b.host.id()); }
  net::awaitable<bool> b_reserved() {
    co_return co_await eventually([this] { return !keeper->circuit_addrs().empty(); }, 10s);
  }
  static bool has(const net::host& h, const peer_id& p, bool relayed) {
    for (const auto& c : h.connections(p))
      if (c->relayed == relayed) return true;
    return false;
  }
  static net::connection_ptr direct_of(const net::host& h, const peer_id& p) {
    for (const auto& c : h.connections(p))
      if (!c->relayed) return c;
    return nullptr;
  }
  // A echo round trip on a new stream to B (the host picks the connection).
  net::awaitable<net::connection_ptr> echo_once() {
    auto opened = co_await a->host.new_stream(b.host.id(), echo_protocol);
    EXPECT_TRUE(opened) << opened.error().message();
    if (!opened) co_return nullptr;
    const auto data = random_bytes(64 * 1024);
    auto back = co_await echo_roundtrip(*opened->stream, data);
    EXPECT_TRUE(back && *back == data);
    co_return opened->conn;
  }
};

TEST_F(dcutr_setup, outbound_dials_leave_from_the_listen_port_so_the_relay_observes_it) {
  start_b(loopback_paths());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await b_reserved());
    const auto listen = b.host.listen_addrs().front();
    // The relay's identify reports where it sees us: our listen port.
    EXPECT_TRUE(co_await eventually(
        [&] {
          auto c = b.paths->hole_punch_addrs();
          return !c.empty() && c.front() == listen;
        },
        5s));
    const auto conn = b.host.connections(relay.host.id()).front();
    EXPECT_EQ(conn->local_addr, listen);
  });
}

TEST_F(dcutr_setup, dcutr_upgrades_to_direct_new_streams_use_it_and_the_idle_relay_closes) {
  start_b(loopback_paths());
  start_a(loopback_paths());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await b_reserved());
    const auto t0 = net::steady_clock::now();
    auto relayed = co_await a->host.connect(circuit_to_b());
    EXPECT_TRUE(relayed && (*relayed)->relayed);
    if (!relayed) co_return;
    EXPECT_TRUE(co_await eventually([&] { return has(a->host, b.host.id(), false); }, 15s));
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(net::steady_clock::now() - t0);
    std::cout << "relayed -> direct on loopback: " << took.count() << " ms\n";
    RecordProperty("relayed_to_direct_ms", static_cast<int>(took.count()));
    // B registers the same connection when its side of the handshake ends,
    // which may be a moment after A's.
    EXPECT_TRUE(co_await eventually([&] { return has(b.host, a->host.id(), false); }, 5s));

    // Exactly one side took the initiator role on the direct connection.
    auto on_a = direct_of(a->host, b.host.id());
    auto on_b = direct_of(b.host, a->host.id());
    EXPECT_TRUE(on_a && on_b);
    if (on_a && on_b) {
      EXPECT_NE(on_a->dir, on_b->dir);
    }
    auto used = co_await echo_once();
    EXPECT_TRUE(used && !used->relayed);
    // The relayed connection had no streams left: both sides drop it.
    EXPECT_TRUE(co_await eventually(
        [&] { return !has(a->host, b.host.id(), true) && !has(b.host, a->host.id(), true); }, 5s));
    EXPECT_EQ(a->paths->status(b.host.id())->path, path_kind::direct);
    EXPECT_EQ(b.paths->status(a->host.id())->path, path_kind::direct);
    EXPECT_EQ(b.paths->status(a->host.id())->successes, 1u);
    EXPECT_EQ(a->paths->status(b.host.id())->successes, 1u);
    EXPECT_GT(a->paths->status(b.host.id())->changed_unix, 0u);
  });
}

TEST_F(dcutr_setup, a_relayed_connection_with_an_open_stream_stays_until_the_stream_ends) {
  start_b(loopback_paths());
  start_a(loopback_paths());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await b_reserved());
    auto relayed = co_await a->host.connect(circuit_to_b());
    if (!relayed) co_return;
    auto long_lived = co_await a->host.new_stream(*relayed, echo_protocol);
    EXPECT_TRUE(long_lived);
    if (!long_lived) co_return;
    EXPECT_TRUE(co_await eventually([&] { return has(a->host, b.host.id(), false); }, 15s));
    asio::steady_timer wait(io, 1s);  // several idle grace periods
    co_await wait.async_wait(net::use_nothrow);
    EXPECT_TRUE((*relayed)->is_open()) << "closed under an open stream";
    const auto data = random_bytes(1000);
    auto back = co_await echo_roundtrip(*long_lived->stream, data);  // ends the stream
    EXPECT_TRUE(back && *back == data);
    long_lived->stream.reset();
    EXPECT_TRUE(co_await eventually([&] { return !(*relayed)->is_open(); }, 5s));
  });
}

TEST_F(dcutr_setup, losing_the_direct_path_falls_back_to_the_relay_and_a_retry_goes_direct_again) {
  start_b(loopback_paths(2s));
  start_a(loopback_paths(2s));
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await b_reserved());
    auto relayed = co_await a->host.connect(circuit_to_b());
    if (!relayed) co_return;
    EXPECT_TRUE(co_await eventually(
        [&] { return has(a->host, b.host.id(), false) && !has(a->host, b.host.id(), true); }, 15s));
    // A stream in use on the direct path, as an ssh session would be.
    auto busy = co_await a->host.new_stream(b.host.id(), echo_protocol);
    EXPECT_TRUE(busy && !busy->conn->relayed);
    if (!busy) co_return;
    asio::steady_timer settle(io, 300ms);  // let a sweep see the stream
    co_await settle.async_wait(net::use_nothrow);
    const auto killed_at = net::steady_clock::now();
    // The direct path breaks (an orderly close would say the peer left, not
    // that the path died, and B would punch again at once).
    busy->conn->mux->abort(make_error_code(errc::timeout));
    EXPECT_TRUE(co_await eventually([&] { return has(a->host, b.host.id(), true); }, 5s))
        << "A did not reconnect through the relay";
    const auto back_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(net::steady_clock::now() - killed_at);
    std::cout << "direct lost -> relayed again: " << back_ms.count() << " ms\n";
    auto via = co_await echo_once();
    EXPECT_TRUE(via && via->relayed) << "the stream after the loss should use the relay";
    EXPECT_EQ(a->paths->status(b.host.id())->path, path_kind::relayed);
    // B retries after its backoff (2 s here) and the path is direct again.
    EXPECT_TRUE(co_await eventually([&] { return has(a->host, b.host.id(), false); }, 15s));
    auto again = co_await echo_once();
    EXPECT_TRUE(again && !again->relayed);
    EXPECT_EQ(b.paths->status(a->host.id())->successes, 2u);
  });
}

TEST_F(dcutr_setup, a_peer_without_listener_makes_the_hole_punch_fail_and_the_relay_carries_on) {
  start_b(loopback_paths());
  start_a(loopback_paths(), /*listen=*/false);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await b_reserved());
    auto relayed = co_await a->host.connect(circuit_to_b());
    if (!relayed) co_return;
    EXPECT_TRUE(co_await eventually(
        [&] {
          auto s = b.paths->status(a->host.id());
          return s && s->attempts == 1 && !s->last_error.empty();
        },
        10s));
    const auto s = *b.paths->status(a->host.id());
    EXPECT_EQ(s.successes, 0u);
    EXPECT_EQ(s.path, path_kind::relayed);
    EXPECT_FALSE(s.last_error.empty());
    auto via = co_await echo_once();
    EXPECT_TRUE(via && via->relayed);
  });
}

// The simultaneous-open roles at host level: B dials as the responder. When
// its SYN lands in A's listener (A's own SYN not yet out), only A's punch
// expectation makes A the initiator; without it both sides wait.
TEST(punch_roles, a_responder_dial_into_a_listener_needs_the_punch_expectation) {
  asio::io_context io;
  auto quick = [] {
    auto c = listening_config();
    c.limits.handshake_timeout = 1s;
    return c;
  };
  net::host a(io.get_executor(), quick());
  net::host b(io.get_executor(), quick());
  a.start();
  b.start();
  const auto a_addr = a.listen_addrs().front();
  const auto b_addr = b.listen_addrs().front();
  run_async(io, [&]() -> net::awaitable<void> {
    const std::optional<peer_id> expect_a = a.id();
    net::dial_options responder{.reuse_port = false, .role = net::dial_role::responder};
    auto stuck = co_await b.dial(a_addr, expect_a, responder);
    EXPECT_FALSE(stuck) << "two responders cannot finish a handshake";

    a.expect_punch(b.id(), {b_addr}, net::steady_clock::now() + 5s);
    responder.reuse_port = true;  // from B's listen port, the address A expects
    responder.ephemeral_fallback = false;
    auto punched = co_await b.dial(a_addr, expect_a, responder);
    EXPECT_TRUE(punched) << punched.error().message();
    if (!punched) co_return;
    EXPECT_EQ((*punched)->dir, net::direction::inbound);  // B: responder
    EXPECT_EQ((*punched)->local_addr, b_addr);
    EXPECT_TRUE(co_await eventually([&] { return !a.connections(b.id()).empty(); }, 2s));
    EXPECT_EQ(a.connections(b.id()).front()->dir, net::direction::outbound);  // A: initiator
  });
}

// js-libp2p 3.x's DCUtR initiator dials as the initiator after all (its
// `initiator: false` dial option does not reach the upgrader): when such a
// dial lands in A's listener during a punch, A must stay the responder.
TEST(punch_roles, an_initiator_dial_into_a_listener_keeps_the_listener_responder) {
  asio::io_context io;
  net::host a(io.get_executor(), listening_config());
  net::host b(io.get_executor(), listening_config());
  a.start();
  b.start();
  const auto a_addr = a.listen_addrs().front();
  run_async(io, [&]() -> net::awaitable<void> {
    a.expect_punch(b.id(), {b.listen_addrs().front()}, net::steady_clock::now() + 5s);
    const std::optional<peer_id> expect_a = a.id();
    const net::dial_options fresh_port{.reuse_port = false};  // matches A's expectation by IP
    auto c = co_await b.dial(a_addr, expect_a, fresh_port);
    EXPECT_TRUE(c) << c.error().message();
    if (!c) co_return;
    EXPECT_EQ((*c)->dir, net::direction::outbound);
    EXPECT_TRUE(co_await eventually([&] { return !a.connections(b.id()).empty(); }, 2s));
    EXPECT_EQ(a.connections(b.id()).front()->dir, net::direction::inbound);
  });
}

// DCUtR where every node listens on TCP and QUIC and the relay is reached
// over QUIC: B (the QUIC server) sends random UDP packets while A dials its
// QUIC address, TCP is punched at the same time, and QUIC is kept.
net::host_config tcp_and_quic() {
  return {.identity = private_key::generate(),
          .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0"),
                     *multiaddr::parse("/ip4/127.0.0.1/udp/0/quic-v1")}};
}

multiaddr quic_addr_of(const net::host& h) {
  for (const auto& a : h.full_addrs())
    if (net::is_quic_addr(a)) return a;
  return {};
}

TEST(dcutr_over_quic, the_hole_punch_ends_on_a_quic_path_and_an_unused_tcp_one_is_closed) {
  asio::io_context io;
  node relay{io, tcp_and_quic()};
  std::set<peer_id> authorized;
  protocols::relay_server server{
      relay.host, {.is_authorized = [&](const peer_id& p) { return authorized.contains(p); }}};
  node b{io, tcp_and_quic()};
  node a{io, tcp_and_quic()};
  relay.host.start();
  authorized.insert(b.host.id());
  authorized.insert(a.host.id());
  b.host.set_handler(echo_protocol, serve_echo);
  b.host.start();
  a.host.start();
  protocols::install_circuit_dialer(b.host);
  protocols::install_circuit_dialer(a.host);
  std::optional<protocols::reservation_keeper> keeper;
  const auto relay_quic = quic_addr_of(relay.host);
  ASSERT_FALSE(relay_quic.empty());
  reserve_on(b.host, relay_quic, keeper);
  b.paths.emplace(b.host, b.identify, loopback_paths());
  b.paths->start();
  a.paths.emplace(a.host, a.identify, loopback_paths());
  a.paths->start();
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await eventually([&] { return !keeper->circuit_addrs().empty(); }, 10s));
    // B's QUIC mapping as the relay sees it is among what B offers.
    EXPECT_TRUE(co_await eventually(
        [&] {
          for (const auto& x : b.paths->hole_punch_addrs())
            if (net::is_quic_addr(x)) return true;
          return false;
        },
        5s));
    auto relayed = co_await a.host.connect(circuit_addr(relay_quic, b.host.id()));
    EXPECT_TRUE(relayed && (*relayed)->relayed);
    if (!relayed) co_return;
    auto direct_quic = [](const net::host& h, const peer_id& p) {
      for (const auto& c : h.connections(p))
        if (!c->relayed && c->transport() == "quic") return true;
      return false;
    };
    EXPECT_TRUE(co_await eventually([&] { return direct_quic(a.host, b.host.id()); }, 15s));
    EXPECT_TRUE(co_await eventually([&] { return direct_quic(b.host, a.host.id()); }, 5s));
    // No direct TCP path is left beside it.
    EXPECT_TRUE(co_await eventually(
        [&] {
          for (const auto& c : a.host.connections(b.host.id()))
            if (!c->relayed && c->transport() == "tcp") return false;
          return true;
        },
        5s));
    // B was the QUIC server: the direct connection is inbound on B.
    for (const auto& c : b.host.connections(a.host.id()))
      if (!c->relayed) {
        EXPECT_EQ(c->dir, net::direction::inbound);
      }
    auto opened = co_await a.host.new_stream(b.host.id(), echo_protocol);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    EXPECT_EQ(opened->conn->transport(), "quic");
    const auto data = random_bytes(256 * 1024);
    auto back = co_await echo_roundtrip(*opened->stream, data);
    EXPECT_TRUE(back && *back == data);
    EXPECT_EQ(b.paths->status(a.host.id())->path, path_kind::direct);
  });
  a.paths->stop();
  b.paths->stop();
  keeper->stop();
}

}  // namespace
}  // namespace peerup::test
