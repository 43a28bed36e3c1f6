// Two hosts in one process over loopback: the whole stack (TCP, multistream,
// Noise, Yamux) moving real bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocols/identify.hpp"
#include "protocols/ping.hpp"
#include "support/async_test.hpp"

namespace peerup::test {
namespace {

struct two_hosts : ::testing::Test {
  asio::io_context io;
  net::host server{io.get_executor(), listening_config()};
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};

  void SetUp() override {
    server.set_handler(echo_protocol, serve_echo);
    server.start();
    client.start();
  }
  multiaddr server_addr() { return server.full_addrs().front(); }
};

TEST_F(two_hosts, moves_64_mib_over_8_concurrent_streams_with_checksums) {
  constexpr std::size_t streams = 8, per_stream = 8 * 1024 * 1024;
  std::vector<bytes> sent(streams), received(streams);
  for (auto& s : sent) s = random_bytes(per_stream);
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server_addr());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
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

TEST_F(two_hosts, reuses_the_existing_connection_to_a_peer) {
  run_async(io, [&]() -> net::awaitable<void> {
    auto a = co_await client.connect(server_addr());
    auto b = co_await client.connect(server_addr());
    EXPECT_TRUE(a && b);
    if (a && b) {
      EXPECT_EQ(a->get(), b->get());
    }
    auto c = co_await client.connect(server.id());
    EXPECT_TRUE(c);
    if (a && c) {
      EXPECT_EQ(a->get(), c->get());
    }
    EXPECT_EQ(client.connections(server.id()).size(), 1u);
  });
}

TEST_F(two_hosts, refuses_a_listener_with_another_peer_id) {
  run_async(io, [&]() -> net::awaitable<void> {
    const auto impostor = private_key::generate().to_peer_id();
    auto addr = server.listen_addrs().front().with_peer(impostor);
    auto conn = co_await client.connect(addr);
    EXPECT_FALSE(conn);
    if (!conn) {
      EXPECT_EQ(conn.error(), make_error_code(errc::peer_id_mismatch));
    }
  });
}

TEST_F(two_hosts, gater_cuts_a_denied_peer_before_any_stream) {
  int gated = 0, served = 0;
  server.set_gater([&](const peer_id& p, const multiaddr&) {
    ++gated;
    return p != client.id();
  });
  server.set_handler(protocol_id{"/test/count/1.0.0"},
                     [&](net::stream_ptr s, net::stream_context) -> net::awaitable<void> {
                       ++served;
                       co_return;
                     });
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server_addr());
    if (conn) {
      const protocol_id count_protocol{"/test/count/1.0.0"};
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

TEST_F(two_hosts, ping_measures_round_trips) {
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

TEST_F(two_hosts, identify_reports_addresses_protocols_and_observed_address) {
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
  EXPECT_THAT(info->protocols, ::testing::Contains(echo_protocol.str()));
  EXPECT_THAT(info->protocols, ::testing::Contains(protocols::identify_protocol.str()));
  ASSERT_TRUE(info->observed_addr);
  EXPECT_EQ(info->observed_addr->tcp_target()->host, "127.0.0.1");
  EXPECT_EQ(client.peers().addrs(server.id()), server.listen_addrs());
}

TEST(host_ipv6, moves_data_over_ipv6_loopback) {
  asio::io_context io;
  net::host server(io.get_executor(), listening_config("/ip6/::1/tcp/0"));
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  const auto data = random_bytes(1 << 20);
  run_async(io, [&]() -> net::awaitable<void> {
    auto opened = co_await client.new_stream(
        (co_await client.connect(server.full_addrs().front())).value(), echo_protocol);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    auto echoed = co_await echo_roundtrip(*opened->stream, data);
    EXPECT_TRUE(echoed && *echoed == data);
  });
}

}  // namespace
}  // namespace peerup::test
