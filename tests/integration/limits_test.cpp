// Resource limits over loopback (docs/security.md): what goes beyond a limit
// is refused - a closed connection, a reset stream, RESOURCE_LIMIT_EXCEEDED
// from the relay - while a peer that was already connected keeps working.
#include <gtest/gtest.h>

#include "net/tcp_transport.hpp"
#include "protocols/identify.hpp"
#include "protocols/relay_server.hpp"
#include "support/relay_support.hpp"

namespace peerup::test {
namespace {

using net::resource_limit;

// g++ 12 miscompiles class temporaries with destructors inside co_await
// expressions, so below every argument of an awaited call is a named local,
// a reference or a trivially destructible value, and results are named
// before they go into EXPECT_*.

net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(net::use_nothrow);
}

// A TCP socket from `source_ip` (any 127.0.0.0/8 address) to `server`.
net::awaitable<result<net::tcp::socket>> socket_from(const char* source_ip,
                                                     const net::host& server) {
  net::tcp::socket sock(co_await asio::this_coro::executor);
  net::error_code ec;
  sock.open(net::tcp::v4(), ec);
  if (!ec) sock.bind({asio::ip::make_address_v4(source_ip), 0}, ec);
  if (ec) co_return ec;
  const auto addrs = server.listen_addrs();
  const auto target = net::to_endpoint(addrs.front());
  if (!target) co_return target.error();
  auto [cec] = co_await sock.async_connect(*target, net::use_nothrow);
  if (cec) co_return cec;
  co_return sock;
}

// A new connection of `h` to `server` from `source_ip` (the host itself
// would reuse its existing connection).
net::awaitable<result<net::connection_ptr>> connect_from(net::host& h, const char* source_ip,
                                                         const net::host& server) {
  auto sock = co_await socket_from(source_ip, server);
  if (!sock) co_return sock.error();
  net::error_code ec;
  const auto local = net::to_multiaddr(sock->local_endpoint(ec));
  const auto remote = net::to_multiaddr(sock->remote_endpoint(ec));
  net::raw_connection raw{std::make_unique<net::tcp_stream>(std::move(*sock)), remote, local,
                          false};
  const std::optional<peer_id> expected = server.id();
  co_return co_await h.add_outbound(std::move(raw), expected);
}

// One echo round trip on a new stream of `conn`.
net::awaitable<bool> echo_works(net::host& h, const net::connection_ptr& conn) {
  auto opened = co_await h.new_stream(conn, echo_protocol);
  if (!opened) co_return false;
  const auto data = random_bytes(4096);
  auto echoed = co_await echo_roundtrip(*opened->stream, data);
  co_return echoed&&* echoed == data;
}

std::unique_ptr<net::host> make_host(asio::io_context& io, net::host_limits limits = {},
                                     bool listen = false) {
  net::host_config cfg{.identity = private_key::generate(), .limits = limits};
  if (listen) cfg.listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")};
  auto h = std::make_unique<net::host>(io.get_executor(), std::move(cfg));
  h->set_handler(echo_protocol, serve_echo);
  h->start();
  return h;
}

struct limits : ::testing::Test {
  asio::io_context io;
  std::unique_ptr<net::host> server;
  void start_server(net::host_limits l) { server = make_host(io, l, true); }
  multiaddr server_addr() const { return server->full_addrs().front(); }
};

TEST_F(limits, per_ip_limit_refuses_the_third_connection_while_other_peers_keep_working) {
  start_server({.max_connections_per_ip = 2});
  auto existing = make_host(io);
  std::vector<std::unique_ptr<net::host>> flood;
  for (int i = 0; i < 3; ++i) flood.push_back(make_host(io));
  run_async(io, [&]() -> net::awaitable<void> {
    auto kept = co_await connect_from(*existing, "127.0.0.2", *server);
    EXPECT_TRUE(kept);
    if (!kept) co_return;
    bool ok = co_await echo_works(*existing, *kept);
    EXPECT_TRUE(ok);

    auto a = co_await connect_from(*flood[0], "127.0.0.1", *server);
    auto b = co_await connect_from(*flood[1], "127.0.0.1", *server);
    EXPECT_TRUE(a && b);
    if (!(a && b)) co_return;
    auto c = co_await connect_from(*flood[2], "127.0.0.1", *server);
    EXPECT_FALSE(c) << "a third connection from 127.0.0.1 was accepted";
    EXPECT_EQ(server->resources().refusals(resource_limit::connections_per_ip), 1u);

    // The refusal harmed nobody: the existing peer and the first two work.
    ok = co_await echo_works(*existing, *kept);
    EXPECT_TRUE(ok);
    ok = co_await echo_works(*flood[0], *a);
    EXPECT_TRUE(ok);
    // Once one of them leaves, its slot is free again.
    (*b)->mux->close();
    ok =
        co_await eventually([&] { return server->resources().connections_from("127.0.0.1") == 1; });
    EXPECT_TRUE(ok);
    auto again = co_await connect_from(*flood[2], "127.0.0.1", *server);
    EXPECT_TRUE(again);
  });
}

TEST_F(limits, per_peer_limit_closes_the_excess_connection_and_keeps_the_others) {
  start_server({.max_connections_per_peer = 2});
  auto client = make_host(io);
  auto other = make_host(io);
  run_async(io, [&]() -> net::awaitable<void> {
    auto first = co_await connect_from(*client, "127.0.0.1", *server);
    auto second = co_await connect_from(*client, "127.0.0.2", *server);
    EXPECT_TRUE(first && second);
    if (!(first && second)) co_return;
    // The third authenticates, then the server closes it: the peer is known
    // only after the handshake.
    auto third = co_await connect_from(*client, "127.0.0.3", *server);
    if (third) {
      const bool closed = co_await eventually([&] { return !(*third)->is_open(); });
      EXPECT_TRUE(closed) << "the server kept a third connection of one peer";
    }
    EXPECT_EQ(server->connections(client->id()).size(), 2u);
    EXPECT_EQ(server->resources().refusals(resource_limit::connections_per_peer), 1u);
    bool ok = co_await echo_works(*client, *first);
    EXPECT_TRUE(ok);
    ok = co_await echo_works(*client, *second);
    EXPECT_TRUE(ok);
    auto fine = co_await connect_from(*other, "127.0.0.3", *server);
    EXPECT_TRUE(fine);
    if (!fine) co_return;
    ok = co_await echo_works(*other, *fine);
    EXPECT_TRUE(ok);
  });
}

TEST_F(limits, inbound_stream_limit_resets_the_excess_stream_and_keeps_the_open_ones) {
  start_server({.max_streams_per_connection = 3});
  auto client = make_host(io);
  const auto addr = server_addr();
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client->connect(addr);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    std::vector<net::stream_ptr> held;
    for (int i = 0; i < 3; ++i) {
      auto s = co_await client->new_stream(*conn, echo_protocol);
      EXPECT_TRUE(s) << "stream " << i;
      if (s) held.push_back(std::move(s->stream));
    }
    auto fourth = co_await client->new_stream(*conn, echo_protocol);
    EXPECT_FALSE(fourth) << "a fourth inbound stream was served";
    EXPECT_EQ(server->resources().refusals(resource_limit::streams_per_connection), 1u);
    const auto data = random_bytes(1024);
    for (auto& s : held) {
      auto echoed = co_await echo_roundtrip(*s, data);
      EXPECT_TRUE(echoed && *echoed == data);
    }
    held.clear();  // finished streams give their slots back
    bool ok = co_await eventually([&] { return server->resources().usage().inbound_streams == 0; });
    EXPECT_TRUE(ok);
    ok = co_await echo_works(*client, *conn);
    EXPECT_TRUE(ok);
  });
}

TEST_F(limits, a_socket_that_connects_and_stalls_is_closed_after_the_handshake_timeout) {
  start_server({.handshake_timeout = 300ms});
  run_async(io, [&]() -> net::awaitable<void> {
    auto sock = co_await socket_from("127.0.0.1", *server);
    EXPECT_TRUE(sock);
    if (!sock) co_return;
    const auto started = net::steady_clock::now();
    bool ok =
        co_await eventually([&] { return server->resources().usage().pending_handshakes == 1; });
    EXPECT_TRUE(ok);
    // Say nothing and wait for the server to give up: the read ends with EOF
    // or a reset once it closes the socket.
    std::array<std::uint8_t, 64> buf{};
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer guard(io, 10s);
    auto outcome = co_await (sock->async_read_some(asio::buffer(buf), net::use_nothrow) ||
                             guard.async_wait(net::use_nothrow));
    EXPECT_EQ(outcome.index(), 0u) << "the stalled socket was still open after 10 s";
    if (outcome.index() != 0) co_return;
    auto [ec, n] = std::get<0>(outcome);
    EXPECT_TRUE(ec) << "the server sent " << n << " bytes instead of closing";
    // It was the timeout, not an immediate refusal (a timer never fires early).
    EXPECT_GE(net::steady_clock::now() - started, 250ms);
    ok = co_await eventually([&] { return server->resources().usage().connections == 0; });
    EXPECT_TRUE(ok);
    EXPECT_EQ(server->resources().usage().pending_handshakes, 0u);
  });
}

TEST_F(limits, a_flood_of_stalled_sockets_locks_out_neither_another_ip_nor_its_own) {
  start_server({.max_connections_per_ip = 4, .max_pending_handshakes = 8});
  auto client = make_host(io);
  auto same_ip_client = make_host(io);
  run_async(io, [&]() -> net::awaitable<void> {
    // Stalled sockets from 127.0.0.1 and 127.0.0.3: more than the per-IP and
    // the pending limits. Each newcomer evicts the oldest stalled handshake.
    std::vector<net::tcp::socket> flood;
    for (int i = 0; i < 40; ++i) {
      auto s = co_await socket_from(i % 2 ? "127.0.0.1" : "127.0.0.3", *server);
      if (s) flood.push_back(std::move(*s));
    }
    bool ok = co_await eventually([&] {
      const auto& rm = server->resources();
      return rm.evictions(resource_limit::connections_per_ip) == 32;
    });
    EXPECT_TRUE(ok) << server->resources().evictions(resource_limit::connections_per_ip);
    EXPECT_EQ(server->resources().usage().pending_handshakes, 8u);
    // A newcomer from a third IP, and one from the flooding IP itself, get in.
    auto conn = co_await connect_from(*client, "127.0.0.2", *server);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    ok = co_await echo_works(*client, *conn);
    EXPECT_TRUE(ok);
    auto same = co_await connect_from(*same_ip_client, "127.0.0.1", *server);
    EXPECT_TRUE(same);
    if (!same) co_return;
    ok = co_await echo_works(*same_ip_client, *same);
    EXPECT_TRUE(ok);
    // The evicted sockets were closed at once, not at the 10 s handshake timeout.
    std::array<std::uint8_t, 16> buf{};
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer guard(io, 5s);
    auto outcome = co_await (flood.front().async_read_some(asio::buffer(buf), net::use_nothrow) ||
                             guard.async_wait(net::use_nothrow));
    EXPECT_EQ(outcome.index(), 0u) << "an evicted socket was still open";
  });
}

TEST_F(limits, an_idle_connection_is_closed_and_one_with_a_stream_is_not) {
  start_server({.idle_timeout = 300ms});
  auto idle_client = make_host(io);
  auto busy_client = make_host(io);
  const auto addr = server_addr();
  run_async(io, [&]() -> net::awaitable<void> {
    auto idle = co_await idle_client->connect(addr);
    auto busy = co_await busy_client->connect(addr);
    EXPECT_TRUE(idle && busy);
    if (!(idle && busy)) co_return;
    auto s = co_await busy_client->new_stream(*busy, echo_protocol);
    EXPECT_TRUE(s);
    if (!s) co_return;
    const bool closed = co_await eventually([&] { return !(*idle)->is_open(); });
    EXPECT_TRUE(closed) << "a connection without streams outlived the idle timeout";
    EXPECT_TRUE((*busy)->is_open());
    const auto data = random_bytes(100);
    auto echoed = co_await echo_roundtrip(*s->stream, data);
    EXPECT_TRUE(echoed && *echoed == data);
  });
}

struct relay_limits : ::testing::Test {
  asio::io_context io;
  std::unique_ptr<net::host> relay;
  std::optional<protocols::relay_server> server;
  std::unique_ptr<net::host> home = make_host(io);
  std::optional<protocols::reservation_keeper> keeper;

  void start(net::host_limits l) {
    relay = make_host(io, l, true);
    server.emplace(*relay, protocols::relay_server_config{.access = wire::relay_access::open});
    reserve_on(*home, relay->full_addrs().front(), keeper);
  }
  void TearDown() override {
    if (keeper) keeper->stop();
  }
  multiaddr circuit_to_home() { return circuit_addr(relay->full_addrs().front(), home->id()); }
  net::awaitable<bool> reserved() {
    co_return co_await eventually([this] {
      return keeper->slots().front().current == protocols::relay_slot::state::reserved;
    });
  }
};

TEST_F(relay_limits, a_reservation_keeps_its_connection_past_the_idle_timeout) {
  start({.idle_timeout = 200ms});
  run_async(io, [&]() -> net::awaitable<void> {
    const bool ok = co_await reserved();
    EXPECT_TRUE(ok);
    if (!ok) co_return;
    const auto conns = home->connections(relay->id());
    EXPECT_EQ(conns.size(), 1u);
    if (conns.empty()) co_return;
    co_await sleep_for(1500ms);
    EXPECT_TRUE(conns.front()->is_open()) << "the relay closed a reserved connection as idle";
    EXPECT_EQ(server->stats().reservations, 1u);
  });
}

// Issue 19: the relay must give its memory back when peers leave. Home
// nodes as the daemon runs them (identify on both sides) reserve and leave;
// the relay then holds no reservation, no identify exchange, no connected
// peer, and of each departed peer only its addresses (for the TTL), not
// what identify told (protocols, agent).
TEST_F(relay_limits, a_departed_home_leaves_no_reservation_nor_per_connection_state_on_the_relay) {
  constexpr std::size_t homes = 7;  // with the fixture's: max_reservations_per_ip (8)
  start({});
  protocols::identify_service relay_identify(*relay);
  std::vector<std::unique_ptr<net::host>> nodes;
  std::vector<std::unique_ptr<protocols::identify_service>> identifies;
  for (std::size_t i = 0; i < homes; ++i) {
    nodes.push_back(make_host(io, {}, true));
    identifies.push_back(std::make_unique<protocols::identify_service>(*nodes.back()));
  }
  const auto relay_addr = relay->full_addrs().front();
  run_async(io, [&]() -> net::awaitable<void> {
    const bool ok = co_await reserved();  // the fixture's home
    EXPECT_TRUE(ok);
    std::size_t reserved_here = 0;
    for (auto& n : nodes) {
      auto c = co_await n->connect(relay_addr);
      if (!c) continue;
      auto r = co_await protocols::reserve(*n, *c);
      if (r) ++reserved_here;
    }
    EXPECT_EQ(reserved_here, homes);
    // Identified: the relay knows their protocols while they are here.
    const bool identified = co_await eventually([&] {
      for (auto& n : nodes) {
        const auto* info = relay->peers().find(n->id());
        if (!info || info->protocols.empty()) return false;
      }
      return true;
    });
    EXPECT_TRUE(identified);
    EXPECT_EQ(server->stats().reservations, homes + 1);
    EXPECT_EQ(relay->peers().connected_count(), homes + 1);

    for (auto& n : nodes) n->stop();
    const bool left = co_await eventually(
        [&] {
          return server->stats().reservations == 1 && relay_identify.tracked_connections() == 1 &&
                 relay->peers().connected_count() == 1;
        },
        10000ms);
    EXPECT_TRUE(left) << "reservations " << server->stats().reservations
                      << ", identify exchanges " << relay_identify.tracked_connections()
                      << ", connected peers in the store " << relay->peers().connected_count();
    for (auto& n : nodes) {
      const auto* info = relay->peers().find(n->id());
      if (!info) continue;  // nothing to remember (no listen address reached it)
      EXPECT_TRUE(info->protocols.empty()) << "protocols of a departed peer kept";
      EXPECT_TRUE(info->agent_version.empty());
    }
  });
}

TEST_F(relay_limits, a_circuit_beyond_the_memory_budget_gets_resource_limit_exceeded) {
  start({});
  auto client = make_host(io);
  protocols::install_circuit_dialer(*client);
  const auto relay_addr = relay->full_addrs().front();
  const auto circuit = circuit_to_home();
  run_async(io, [&]() -> net::awaitable<void> {
    bool ok = co_await reserved();
    EXPECT_TRUE(ok);
    if (!ok) co_return;
    auto to_relay = co_await client->connect(relay_addr);
    EXPECT_TRUE(to_relay);
    if (!to_relay) co_return;
    co_await sleep_for(100ms);  // let the relay settle its buffers
    // Room for the client's hop stream window (256 KiB), not for the
    // circuit's two 32 KiB copy buffers.
    auto tight = relay->config().limits;
    tight.max_memory = relay->resources().usage().memory + 256 * 1024 + 32 * 1024;
    relay->set_limits(tight);
    auto refused = co_await client->connect(circuit);
    EXPECT_FALSE(refused);
    if (refused) co_return;
    EXPECT_EQ(refused.error(), make_error_code(errc::relay_resource_limit))
        << refused.error().message();
    EXPECT_GE(relay->resources().refusals(resource_limit::memory), 1u);
    // The home node's reservation was not harmed: with room again, it works.
    relay->set_limits(net::host_limits{});
    auto conn = co_await client->connect(circuit);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    ok = co_await echo_works(*client, *conn);
    EXPECT_TRUE(ok);
  });
}

// Issue 19's reliability scenario at CI size (bench/relay_capacity.cpp
// --attempts runs it with 100,000 and 120,000): more peers than the relay's
// max_connections try to reserve at once. The excess is refused before any
// handshake work, everyone admitted keeps its reservation and its connection
// keeps working, and once they leave every slot, reservation and accounted
// buffer is given back, so newcomers are served again.
TEST_F(relay_limits, past_max_connections_the_relay_refuses_keeps_serving_and_recovers) {
  constexpr std::size_t limit = 200, attempts = 240, in_flight = 40;
  relay = make_host(io,
                    {.max_connections = limit,
                     .max_connections_per_ip = 1000,  // all from 127.0.0.1
                     .max_pending_handshakes = 1000},
                    true);
  wire::relay_limits rl;
  rl.max_reservations = 1000;
  rl.max_reservations_per_ip = 1000;
  server.emplace(*relay,
                 protocols::relay_server_config{.limits = rl, .access = wire::relay_access::open});
  // As `peerup relay serve` runs it: its per-connection state must go too.
  protocols::identify_service identify(*relay);
  std::vector<std::unique_ptr<net::host>> peers;
  for (std::size_t i = 0; i < attempts + 1; ++i) peers.push_back(make_host(io));
  std::vector<net::connection_ptr> admitted(attempts);
  std::size_t finished = 0, reserved = 0, refused = 0;
  // One attempt: connect from 127.0.0.1 and reserve; a refusal shows as a
  // failed upgrade (the relay closes the socket before the handshake).
  auto attempt = [&](std::size_t i) -> net::awaitable<void> {
    auto c = co_await connect_from(*peers[i], "127.0.0.1", *relay);
    if (c) {
      auto r = co_await protocols::reserve(*peers[i], *c);
      if (r) {
        admitted[i] = *c;
        ++reserved;
      }
    } else {
      ++refused;
    }
    ++finished;
  };
  run_async(io, [&]() -> net::awaitable<void> {
    const auto ex = co_await asio::this_coro::executor;
    const std::size_t memory_before = relay->resources().usage().memory;
    // Waves of in_flight concurrent attempts.
    for (std::size_t next = 0; next < attempts;) {
      const std::size_t wave_end = std::min(attempts, next + in_flight);
      for (; next < wave_end; ++next) asio::co_spawn(ex, attempt(next), asio::detached);
      const bool wave_done = co_await eventually([&] { return finished == wave_end; }, 30000ms);
      EXPECT_TRUE(wave_done) << finished << " of " << wave_end << " attempts finished";
      if (!wave_done) co_return;
    }
    EXPECT_EQ(reserved, limit);
    EXPECT_EQ(refused, attempts - limit);
    EXPECT_EQ(server->stats().reservations, limit);
    EXPECT_EQ(relay->resources().usage().connections, limit);
    EXPECT_EQ(relay->resources().usage().pending_handshakes, 0u);
    EXPECT_EQ(relay->resources().refusals(resource_limit::connections), attempts - limit);

    // Every admitted peer is still served: its connection echoes.
    std::size_t serving = 0;
    for (std::size_t i = 0; i < attempts; ++i) {
      if (!admitted[i]) continue;
      const bool ok = co_await echo_works(*peers[i], admitted[i]);
      if (ok) ++serving;
    }
    EXPECT_EQ(serving, limit) << "the refusals harmed admitted peers";

    // They leave: the relay gives back every slot, reservation and buffer,
    // and keeps no per-peer state (identify's exchanges, the peer store).
    for (auto& c : admitted)
      if (c) c->mux->close();
    const bool drained = co_await eventually(
        [&] {
          const auto u = relay->resources().usage();
          return u.connections == 0 && server->stats().reservations == 0 &&
                 u.memory == memory_before && identify.tracked_connections() == 0 &&
                 relay->peers().size() == 0;
        },
        20000ms);
    const auto u = relay->resources().usage();
    EXPECT_TRUE(drained) << "connections " << u.connections << ", reservations "
                         << server->stats().reservations << ", accounted memory " << u.memory
                         << " (before: " << memory_before << "), identify exchanges "
                         << identify.tracked_connections() << ", peer store entries "
                         << relay->peers().size();
    // And serves newcomers again.
    auto again = co_await connect_from(*peers[attempts], "127.0.0.1", *relay);
    EXPECT_TRUE(again);
    if (!again) co_return;
    auto r = co_await protocols::reserve(*peers[attempts], *again);
    EXPECT_TRUE(r) << r.error().message();
  });
}

}  // namespace
}  // namespace peerup::test
