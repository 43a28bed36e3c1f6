// Idle connections hold no read buffers (issue 19: a relay holds 100,000 of
// them): net::wait_readable on TCP must not miss bytes or a FIN that
// arrived while nobody was reading (asio's epoll registration is
// edge-triggered), and a quiet Noise + Yamux connection gives its read
// buffers back, then takes new ones when traffic resumes.
#include <gtest/gtest.h>

#include "net/host.hpp"
#include "net/tcp_transport.hpp"
#include "net/wait_readable.hpp"
#include "support/async_test.hpp"

namespace peerup::net {
namespace {

awaitable<std::pair<tcp::socket, tcp::socket>> socket_pair() {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(ex);
  co_await client.async_connect(acceptor.local_endpoint(), use_awaitable);
  auto server = co_await acceptor.async_accept(use_awaitable);
  co_return std::make_pair(std::move(client), std::move(server));
}

awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_nothrow);
}

// wait_readable, bounded: true when it completed within `limit`.
awaitable<bool> readable_within(byte_stream& s, std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer t(co_await asio::this_coro::executor, limit);
  auto winner = co_await (wait_readable(s) || t.async_wait(use_nothrow));
  co_return winner.index() == 0;
}

// read_some, bounded: a read that hangs fails the test instead of the run.
awaitable<result<std::size_t>> read_within(byte_stream& s, mutable_byte_span buf,
                                           std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer t(co_await asio::this_coro::executor, limit);
  auto winner = co_await (s.read_some(buf) || t.async_wait(use_nothrow));
  if (winner.index() == 1) co_return make_error_code(errc::timeout);
  co_return std::get<0>(winner);
}

TEST(idle_buffers, tcp_wait_readable_sees_bytes_and_a_fin_that_arrived_while_nobody_read) {
  asio::io_context io;
  test::run_async(io, [&]() -> awaitable<void> {
    auto [a_sock, b_sock] = co_await socket_pair();
    tcp_stream a(std::move(a_sock)), b(std::move(b_sock));
    // A first read registers the socket with the reactor.
    const std::array<std::uint8_t, 3> first{1, 2, 3};
    (void)co_await a.write(first);
    std::array<std::uint8_t, 16> buf{};
    auto n = co_await b.read_some(buf);
    EXPECT_TRUE(n && *n == 3);
    // Bytes arrive while no read is queued: the reactor sees their edge
    // with nobody waiting. A wait started afterwards must still complete.
    const std::array<std::uint8_t, 2> second{4, 5};
    (void)co_await a.write(second);
    co_await pause(std::chrono::milliseconds(50));
    bool ready = co_await readable_within(b, std::chrono::milliseconds(2000));
    EXPECT_TRUE(ready) << "wait_readable missed bytes that were already there";
    // It took nothing: the bytes are still there for read_some.
    n = co_await b.read_some(buf);
    EXPECT_TRUE(n && *n == 2 && buf[0] == 4 && buf[1] == 5);
    // Nothing there: it waits.
    ready = co_await readable_within(b, std::chrono::milliseconds(100));
    EXPECT_FALSE(ready) << "wait_readable completed on a quiet socket";
    // A FIN that arrived unobserved completes it too, and read_some sees the EOF.
    (void)co_await a.close_write();
    co_await pause(std::chrono::milliseconds(50));
    ready = co_await readable_within(b, std::chrono::milliseconds(2000));
    EXPECT_TRUE(ready) << "wait_readable missed a FIN";
    // The read after a peek that found the FIN returns the EOF at once (asio
    // would queue it for an epoll edge that never comes after a FIN).
    n = co_await read_within(b, buf, std::chrono::milliseconds(1000));
    EXPECT_TRUE(n && *n == 0) << (n ? "bytes" : n.error().message());
    n = co_await read_within(b, buf, std::chrono::milliseconds(1000));
    EXPECT_TRUE(n && *n == 0) << "the EOF is not sticky";
  });
}

TEST(idle_buffers, a_quiet_connection_gives_back_its_read_buffers_and_takes_them_again) {
  asio::io_context io;
  auto server = std::make_unique<host>(io.get_executor(), test::listening_config());
  server->set_handler(test::echo_protocol, test::serve_echo);
  server->start();
  auto client =
      std::make_unique<host>(io.get_executor(), host_config{.identity = private_key::generate()});
  client->start();
  test::run_async(io, [&]() -> awaitable<void> {
    const auto addr = server->full_addrs().front();
    auto conn = co_await client->connect(addr);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    // A few small exchanges (small reads on both sides), then quiet.
    for (int i = 0; i < 6; ++i) {
      const std::vector<bytes> sent{test::random_bytes(100)};
      const auto got = co_await test::echo_on_streams(*client, *conn, sent);
      EXPECT_EQ(got, sent);
    }
    const auto server_side = server->connections(client->id());
    EXPECT_EQ(server_side.size(), 1u);
    if (server_side.empty()) co_return;
    const auto& res = server_side.front()->mux->resources();
    EXPECT_TRUE(res);
    if (!res) co_return;
    // The accounted buffers are the Noise and Yamux read buffers (no stream
    // is open, so no window): all given back while the connection idles.
    const bool released = co_await test::eventually([&] { return res->memory() == 0; });
    EXPECT_TRUE(released) << res->memory() << " bytes of read buffers held by an idle connection";
    EXPECT_TRUE(server_side.front()->is_open());
    // Traffic resumes: buffers come back and bytes flow, bulk included.
    const std::vector<bytes> bulk{test::random_bytes(3 << 20), test::random_bytes(10)};
    const auto got = co_await test::echo_on_streams(*client, *conn, bulk);
    EXPECT_EQ(got, bulk);
    // The burst is over once a few small reads follow it.
    for (int i = 0; i < 6; ++i) {
      const std::vector<bytes> sent{test::random_bytes(100)};
      const auto small = co_await test::echo_on_streams(*client, *conn, sent);
      EXPECT_EQ(small, sent);
    }
    const bool again = co_await test::eventually([&] { return res->memory() == 0; });
    EXPECT_TRUE(again) << res->memory() << " bytes held after the burst";
    // An orderly close of the quiet connection (GoAway, FIN): each end sees
    // the other's FIN at once. A FIN missed by the idle wait would show as
    // the closer's 2 s linger running out (`peerup connect` through a relay
    // then took 2 s to exit).
    const auto closing = steady_clock::now();
    (*conn)->mux->close();
    const bool closed = co_await test::eventually(
        [&] { return (*conn)->mux->is_closed() && !server_side.front()->is_open(); },
        std::chrono::milliseconds(5000));
    const auto took = steady_clock::now() - closing;
    EXPECT_TRUE(closed);
    EXPECT_LT(took, std::chrono::milliseconds(1000))
        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
        << " ms to close a quiet connection";
  });
  client->stop();
  server->stop();
}

}  // namespace
}  // namespace peerup::net
