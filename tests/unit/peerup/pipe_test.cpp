// The proxy data path over real loopback TCP sockets: bytes both ways,
// half-close carried end to end, and an abort on one side ending the other.
#include "peerup/pipe.hpp"

#include <gtest/gtest.h>

#include "net/tcp_transport.hpp"
#include "support/async_test.hpp"

namespace peerup::app {
namespace {

namespace asio = net::asio;
using net::tcp;

// A connected pair of loopback sockets.
net::awaitable<std::pair<tcp::socket, tcp::socket>> socket_pair() {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(ex);
  co_await client.async_connect(acceptor.local_endpoint(), net::use_awaitable);
  auto server = co_await acceptor.async_accept(net::use_awaitable);
  co_return std::make_pair(std::move(client), std::move(server));
}

// left_outer <-> [left_inner == pipe == right_inner] <-> right_outer
struct piped : ::testing::Test {
  asio::io_context io;
};

TEST_F(piped, carries_bytes_both_ways_and_half_close_end_to_end) {
  const auto up = test::random_bytes(3 * pipe_buffer_size + 17);
  const auto down = test::random_bytes(pipe_buffer_size / 2);
  bytes got_up, got_down;
  std::optional<result<pipe_stats>> stats;
  test::run_async(io, [&]() -> net::awaitable<void> {
    auto [left_outer, left_inner] = co_await socket_pair();
    auto [right_inner, right_outer] = co_await socket_pair();
    net::tcp_stream a(std::move(left_inner)), b(std::move(right_inner));
    net::tcp_stream client(std::move(left_outer)), server(std::move(right_outer));
    auto run_pipe = [&]() -> net::awaitable<void> { stats = co_await pipe(a, b); };
    asio::co_spawn(io, run_pipe(), asio::detached);
    // Client sends and half-closes; the server sees EOF, then answers on the
    // still-open other direction: only a real half-close allows that.
    const byte_span up_span(up);
    (void)co_await client.write(up_span);
    (void)co_await client.close_write();
    auto r1 = co_await net::read_to_end(server, up.size() + 1);
    EXPECT_TRUE(r1);
    if (r1) got_up = *r1;
    const byte_span down_span(down);
    (void)co_await server.write(down_span);
    (void)co_await server.close_write();
    auto r2 = co_await net::read_to_end(client, down.size() + 1);
    EXPECT_TRUE(r2);
    if (r2) got_down = *r2;
    asio::steady_timer t(io, std::chrono::milliseconds(50));
    co_await t.async_wait(net::use_nothrow);
  });
  EXPECT_EQ(got_up, up);
  EXPECT_EQ(got_down, down);
  ASSERT_TRUE(stats);
  ASSERT_TRUE(*stats);
  EXPECT_EQ((*stats)->a_to_b, up.size());
  EXPECT_EQ((*stats)->b_to_a, down.size());
}

TEST_F(piped, an_abort_on_one_side_ends_the_pipe_and_the_other_side) {
  std::optional<result<pipe_stats>> stats;
  result<std::size_t> client_read = std::size_t{1};
  test::run_async(io, [&]() -> net::awaitable<void> {
    auto [left_outer, left_inner] = co_await socket_pair();
    auto [right_inner, right_outer] = co_await socket_pair();
    net::tcp_stream a(std::move(left_inner)), b(std::move(right_inner));
    net::tcp_stream client(std::move(left_outer)), server(std::move(right_outer));
    auto run_pipe = [&]() -> net::awaitable<void> { stats = co_await pipe(a, b); };
    asio::co_spawn(io, run_pipe(), asio::detached);
    server.reset();  // RST: the service died
    std::array<std::uint8_t, 16> buf{};
    client_read = co_await client.read_some(buf);
    asio::steady_timer t(io, std::chrono::milliseconds(50));
    co_await t.async_wait(net::use_nothrow);
  });
  ASSERT_TRUE(stats);
  EXPECT_FALSE(*stats);
  // The client is not left waiting: it sees an error or EOF at once.
  EXPECT_TRUE(!client_read || *client_read == 0);
}

}  // namespace
}  // namespace peerup::app
