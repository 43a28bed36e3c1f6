// Circuit Relay v2 in one process: a relay, a home node holding a
// reservation, and clients reaching the home node through the relay.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "protocols/relay_server.hpp"
#include "support/relay_support.hpp"

namespace peerup::test {
namespace {

net::host_config with_listener(private_key key, std::uint16_t port = 0) {
  return {.identity = std::move(key), .listen = {multiaddr::from_tcp("127.0.0.1", port)}};
}

struct relay_setup : ::testing::Test {
  asio::io_context io;
  private_key relay_key = private_key::generate();
  std::optional<net::host> relay;
  std::optional<protocols::relay_server> server;
  net::host home{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  std::set<peer_id> authorized;
  std::optional<protocols::reservation_keeper> keeper;
  std::uint16_t relay_port = 0;

  void start_relay() {
    relay.emplace(io.get_executor(), with_listener(relay_key, relay_port));
    relay->start();
    relay_port = relay->listen_addrs().front().tcp_target()->port;
    server.emplace(
        *relay, protocols::relay_server_config{
                    .is_authorized = [this](const peer_id& p) { return authorized.contains(p); }});
  }
  void stop_relay() {
    server.reset();
    relay->stop();
    relay.reset();
  }
  multiaddr relay_addr() { return relay->full_addrs().front(); }
  multiaddr circuit_to_home() { return circuit_addr(relay_addr(), home.id()); }

  void SetUp() override {
    authorized.insert(home.id());
    start_relay();
    home.set_handler(echo_protocol, serve_echo);
    home.start();
    reserve_on(home, relay_addr(), keeper);
  }
  void TearDown() override { keeper->stop(); }

  std::unique_ptr<net::host> make_client(bool authorize) {
    return circuit_client(io, authorized, authorize);
  }
  net::awaitable<bool> home_reserved(std::chrono::milliseconds limit = 10s) {
    co_return co_await eventually(
        [this] {
          return keeper->slots().front().current == protocols::relay_slot::state::reserved;
        },
        limit);
  }
};

TEST_F(relay_setup, home_reserves_and_announces_its_circuit_address) {
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await home_reserved());
    EXPECT_THAT(home.announce_addrs(),
                ::testing::Contains(*multiaddr::parse(relay_addr().to_string() + "/p2p-circuit")));
    EXPECT_EQ(server->stats().reservations, 1u);
  });
}

TEST_F(relay_setup, three_clients_move_32_mib_each_way_through_the_relay) {
  constexpr int clients = 3;
  constexpr std::size_t size = 32 * 1024 * 1024;
  std::vector<std::unique_ptr<net::host>> hosts;
  for (int i = 0; i < clients; ++i) hosts.push_back(make_client(true));
  std::vector<bytes> sent(clients), got(clients);
  for (auto& s : sent) s = random_bytes(size);
  std::vector<bool> relayed(clients, false);
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        EXPECT_TRUE(co_await home_reserved());
        int done = 0;
        net::signal finished(io.get_executor());
        for (int i = 0; i < clients; ++i) {
          asio::co_spawn(
              io,
              [&, i]() -> net::awaitable<void> {
                auto conn = co_await hosts[i]->connect(circuit_to_home());
                EXPECT_TRUE(conn) << conn.error().message();
                if (conn) {
                  relayed[i] = (*conn)->relayed;
                  auto s = co_await hosts[i]->new_stream(*conn, echo_protocol);
                  EXPECT_TRUE(s);
                  if (s) {
                    auto back = co_await echo_roundtrip(*s->stream, sent[i]);
                    EXPECT_TRUE(back) << back.error().message();
                    if (back) got[i] = std::move(*back);
                  }
                }
                if (++done == clients) finished.notify();
              },
              asio::detached);
        }
        while (done < clients) co_await finished.wait();
        // Closing the end-to-end connections ends the circuits, and the relay
        // accounts their bytes.
        for (auto& h : hosts) h->close_connections(home.id());
        EXPECT_TRUE(co_await eventually([&] { return server->stats().circuits == 0; }, 10s));
      },
      300s);
  for (int i = 0; i < clients; ++i) {
    EXPECT_TRUE(relayed[i]);
    ASSERT_EQ(got[i].size(), size);
    EXPECT_EQ(sha256(got[i]), sha256(sent[i]));
  }
  EXPECT_GE(server->stats().circuits_total, 3u);
  EXPECT_GE(server->stats().bytes_relayed, 2ull * clients * size);
}

TEST_F(relay_setup, unauthorized_peer_can_neither_reserve_nor_reach_home) {
  auto stranger = make_client(false);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await home_reserved());
    auto conn = co_await stranger->connect(relay_addr());
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    auto r = co_await protocols::reserve(*stranger, *conn);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error(), make_error_code(errc::relay_permission_denied));
    }
    auto circuit = co_await stranger->connect(circuit_to_home());
    EXPECT_FALSE(circuit);
    if (!circuit) {
      EXPECT_EQ(circuit.error(), make_error_code(errc::relay_permission_denied));
    }
  });
  EXPECT_EQ(server->stats().reservations, 1u);
  EXPECT_EQ(server->stats().circuits_total, 0u);
}

TEST_F(relay_setup, connect_to_a_peer_without_reservation_fails_with_no_reservation) {
  auto client = make_client(true);
  const auto nobody = private_key::generate().to_peer_id();
  authorized.insert(nobody);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await home_reserved());
    auto addr = circuit_addr(relay_addr(), nobody);
    auto conn = co_await client->connect(addr);
    EXPECT_FALSE(conn);
    if (!conn) {
      EXPECT_EQ(conn.error(), make_error_code(errc::relay_no_reservation));
    }
  });
}

// A peer whose announced direct address takes our TCP connect but never
// answers (a NAT address without a mapping, a LAN address of another
// network: the dial or handshake timeout, 10 s) is reached through its relay
// 1 s after the direct dial started, not after that timeout.
TEST_F(relay_setup, a_hanging_direct_address_does_not_hold_up_the_relayed_one) {
  auto client = make_client(true);
  // Listens but never accepts: the kernel completes the TCP handshake, and
  // nothing ever answers multistream.
  asio::ip::tcp::acceptor hole(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto hole_addr = *multiaddr::parse("/ip4/127.0.0.1/tcp/" +
                                           std::to_string(hole.local_endpoint().port()) + "/p2p/" +
                                           home.id().to_string());
  net::steady_clock::duration took{};
  bool relayed = false;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        EXPECT_TRUE(co_await home_reserved());
        client->peers().add_addrs(home.id(), {hole_addr, circuit_to_home()});
        const auto start = net::steady_clock::now();
        auto conn = co_await client->connect(home.id());
        took = net::steady_clock::now() - start;
        EXPECT_TRUE(conn) << conn.error().message();
        if (conn) relayed = (*conn)->relayed;
      },
      30s);
  EXPECT_TRUE(relayed);
  EXPECT_GE(took, 900ms);  // the direct address had its head start
  EXPECT_LT(took, 5s);     // not the 10 s handshake timeout
}

TEST_F(relay_setup, home_reserves_again_after_the_relay_restarts) {
  auto client = make_client(true);
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        EXPECT_TRUE(co_await home_reserved());
        stop_relay();
        EXPECT_TRUE(co_await eventually(
            [&] {
              return keeper->slots().front().current != protocols::relay_slot::state::reserved;
            },
            10s));
        start_relay();  // same key, same port
        const auto back_at = net::steady_clock::now();
        EXPECT_TRUE(co_await home_reserved(10s)) << "home did not re-reserve within 10 s";
        EXPECT_LT(net::steady_clock::now() - back_at, 10s);
        auto conn = co_await client->connect(circuit_to_home());
        EXPECT_TRUE(conn) << conn.error().message();
        if (!conn) co_return;
        auto s = co_await client->new_stream(*conn, echo_protocol);
        EXPECT_TRUE(s);
        if (!s) co_return;
        const auto data = random_bytes(4096);
        auto back = co_await echo_roundtrip(*s->stream, data);
        EXPECT_TRUE(back && *back == data);
      },
      60s);
}

// The relay on QUIC only: the home node's reservation and a client's circuit
// both ride QUIC connections to the relay (streams carry HOP/STOP as over
// Yamux), and the circuit moves bytes end to end.
TEST(relay_over_quic, a_reservation_and_a_circuit_work_over_quic) {
  asio::io_context io;
  std::set<peer_id> authorized;
  net::host relay(io.get_executor(),
                  net::host_config{.identity = private_key::generate(),
                                   .listen = {*multiaddr::parse("/ip4/127.0.0.1/udp/0/quic-v1")}});
  relay.start();
  protocols::relay_server server(
      relay, protocols::relay_server_config{
                 .is_authorized = [&](const peer_id& p) { return authorized.contains(p); }});
  const multiaddr relay_addr = relay.full_addrs().front();
  ASSERT_TRUE(net::is_quic_addr(relay_addr)) << relay_addr.to_string();
  net::host home(io.get_executor(), net::host_config{.identity = private_key::generate()});
  authorized.insert(home.id());
  home.set_handler(echo_protocol, serve_echo);
  home.start();
  std::optional<protocols::reservation_keeper> keeper;
  reserve_on(home, relay_addr, keeper);
  auto client = circuit_client(io, authorized, true);
  const auto data = random_bytes(4 * 1024 * 1024);
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        EXPECT_TRUE(co_await eventually(
            [&] {
              return keeper->slots().front().current == protocols::relay_slot::state::reserved;
            },
            10s));
        EXPECT_EQ(server.stats().reservations, 1u);
        auto to_relay = home.connections(relay.id());
        EXPECT_FALSE(to_relay.empty());
        if (!to_relay.empty()) {
          EXPECT_EQ(to_relay.front()->transport(), "quic");
        }
        auto conn = co_await client->connect(circuit_addr(relay_addr, home.id()));
        EXPECT_TRUE(conn) << conn.error().message();
        if (!conn) co_return;
        EXPECT_TRUE((*conn)->relayed);
        EXPECT_EQ((*conn)->transport(), "relayed");
        auto client_to_relay = client->connections(relay.id());
        EXPECT_FALSE(client_to_relay.empty());
        if (!client_to_relay.empty()) {
          EXPECT_EQ(client_to_relay.front()->transport(), "quic");
        }
        auto s = co_await client->new_stream(*conn, echo_protocol);
        EXPECT_TRUE(s);
        if (!s) co_return;
        auto back = co_await echo_roundtrip(*s->stream, data);
        EXPECT_TRUE(back) << back.error().message();
        if (back) {
          EXPECT_EQ(sha256(*back), sha256(data));
        }
        client->close_connections(home.id());
        EXPECT_TRUE(co_await eventually([&] { return server.stats().circuits == 0; }, 10s));
        EXPECT_GE(server.stats().bytes_relayed, 2ull * data.size());
      },
      120s);
  keeper->stop();
}

}  // namespace
}  // namespace peerup::test
