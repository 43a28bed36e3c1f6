// The proxy and relay data path over real loopback TCP sockets: bytes both
// ways (through several buffer growths), half-close carried end to end, a
// data cap, and an abort on one side ending the other.
#include "net/splice.hpp"

#include <gtest/gtest.h>

#include "net/tcp_transport.hpp"
#include "support/async_test.hpp"
#include "support/socket_pair.hpp"

namespace peerup::net {
namespace {

using test::socket_pair;

// left_outer <-> [left_inner == splice == right_inner] <-> right_outer
struct spliced : ::testing::Test {
  asio::io_context io;
};

TEST_F(spliced, carries_bytes_both_ways_and_half_close_end_to_end) {
  const auto up = test::random_bytes(3 * default_max_copy_buffer + 17);
  const auto down = test::random_bytes(initial_copy_buffer / 2);
  bytes got_up, got_down;
  std::optional<splice_result> stats;
  test::run_async(io, [&]() -> awaitable<void> {
    auto [left_outer, left_inner] = co_await socket_pair();
    auto [right_inner, right_outer] = co_await socket_pair();
    tcp_stream a(std::move(left_inner)), b(std::move(right_inner));
    tcp_stream client(std::move(left_outer)), server(std::move(right_outer));
    auto run_splice = [&]() -> awaitable<void> { stats = co_await splice(a, b); };
    asio::co_spawn(io, run_splice(), asio::detached);
    // Client sends and half-closes; the server sees EOF, then answers on the
    // still-open other direction: only a real half-close allows that.
    const byte_span up_span(up);
    (void)co_await client.write(up_span);
    (void)co_await client.close_write();
    auto r1 = co_await read_to_end(server, up.size() + 1);
    EXPECT_TRUE(r1);
    if (r1) got_up = *r1;
    const byte_span down_span(down);
    (void)co_await server.write(down_span);
    (void)co_await server.close_write();
    auto r2 = co_await read_to_end(client, down.size() + 1);
    EXPECT_TRUE(r2);
    if (r2) got_down = *r2;
    asio::steady_timer t(io, std::chrono::milliseconds(50));
    co_await t.async_wait(use_nothrow);
  });
  EXPECT_EQ(got_up, up);
  EXPECT_EQ(got_down, down);
  ASSERT_TRUE(stats);
  EXPECT_FALSE(stats->error) << stats->error.message();
  EXPECT_EQ(stats->a_to_b, up.size());
  EXPECT_EQ(stats->b_to_a, down.size());
}

TEST_F(spliced, an_abort_on_one_side_ends_the_splice_and_the_other_side) {
  std::optional<splice_result> stats;
  result<std::size_t> client_read = std::size_t{1};
  test::run_async(io, [&]() -> awaitable<void> {
    auto [left_outer, left_inner] = co_await socket_pair();
    auto [right_inner, right_outer] = co_await socket_pair();
    tcp_stream a(std::move(left_inner)), b(std::move(right_inner));
    tcp_stream client(std::move(left_outer)), server(std::move(right_outer));
    auto run_splice = [&]() -> awaitable<void> { stats = co_await splice(a, b); };
    asio::co_spawn(io, run_splice(), asio::detached);
    server.reset();  // RST: the service died
    std::array<std::uint8_t, 16> buf{};
    client_read = co_await client.read_some(buf);
    asio::steady_timer t(io, std::chrono::milliseconds(50));
    co_await t.async_wait(use_nothrow);
  });
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->error);
  // The client is not left waiting: it sees an error or EOF at once.
  EXPECT_TRUE(!client_read || *client_read == 0);
}

TEST_F(spliced, a_data_cap_stops_after_exactly_the_cap_and_resets_both_sides) {
  const auto up = test::random_bytes(200 * 1024);
  std::optional<splice_result> stats;
  bytes got;
  test::run_async(io, [&]() -> awaitable<void> {
    auto [left_outer, left_inner] = co_await socket_pair();
    auto [right_inner, right_outer] = co_await socket_pair();
    tcp_stream a(std::move(left_inner)), b(std::move(right_inner));
    tcp_stream client(std::move(left_outer)), server(std::move(right_outer));
    splice_limits limits;
    limits.max_bytes_per_direction = 100 * 1024;
    auto run_splice = [&]() -> awaitable<void> { stats = co_await splice(a, b, limits); };
    asio::co_spawn(io, run_splice(), asio::detached);
    const byte_span up_span(up);
    (void)co_await client.write(up_span);
    // The server gets the first 100 KiB, then a reset instead of more data.
    std::array<std::uint8_t, 8192> buf{};
    for (int i = 0; i < 1000; ++i) {
      auto n = co_await server.read_some(buf);
      if (!n || *n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->error, make_error_code(errc::resource_limit));
  EXPECT_EQ(stats->a_to_b, 100u * 1024);
  EXPECT_LE(got.size(), 100u * 1024);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), up.begin()));
}

// Two splices share one bucket of 1 MB/s up and none down: together they
// carry 1.5 MB in about 1.5 s (less the initial burst), the bytes arrive
// intact, and the bucket records the time the copies waited.
TEST_F(spliced, a_shared_rate_limit_holds_the_sum_of_two_splices) {
  constexpr std::uint64_t rate = 1'000'000;
  const auto up = test::random_bytes(750'000);
  auto bucket = std::make_shared<rate_limiter>(rate);
  bytes got[2];
  steady_clock::duration took{};
  test::run_async(io, [&]() -> awaitable<void> {
    const auto start = steady_clock::now();
    int done = 0;
    auto one = [&](int i) -> awaitable<void> {
      auto [left_outer, left_inner] = co_await socket_pair();
      auto [right_inner, right_outer] = co_await socket_pair();
      tcp_stream a(std::move(left_inner)), b(std::move(right_inner));
      tcp_stream client(std::move(left_outer)), server(std::move(right_outer));
      splice_limits limits;
      limits.rate_a_to_b.push_back(bucket);
      auto run_splice = [&]() -> awaitable<void> { (void)co_await splice(a, b, limits); };
      asio::co_spawn(io, run_splice(), asio::detached);
      auto send = [&]() -> awaitable<void> {
        const byte_span up_span(up);
        (void)co_await client.write(up_span);
        (void)co_await client.close_write();
      };
      asio::co_spawn(io, send(), asio::detached);
      auto r = co_await read_to_end(server, up.size() + 1);
      if (r) got[i] = *r;
      (void)co_await server.close_write();
      auto rest = co_await read_to_end(client, 1);
      (void)rest;
      const auto end = steady_clock::now();
      // Let the spliced coroutines, which use this frame's streams, finish.
      asio::steady_timer linger(io, std::chrono::milliseconds(50));
      co_await linger.async_wait(use_nothrow);
      if (++done == 2) took = end - start;
    };
    asio::co_spawn(io, one(0), asio::detached);
    co_await one(1);
    for (int i = 0; i < 100 && done < 2; ++i) {
      asio::steady_timer t(io, std::chrono::milliseconds(20));
      co_await t.async_wait(use_nothrow);
    }
  });
  EXPECT_EQ(got[0], up);
  EXPECT_EQ(got[1], up);
  const double seconds = std::chrono::duration<double>(took).count();
  // 1.5 MB at 1 MB/s, less one burst (125 KB) sent at once: 1.375 s; a loaded
  // machine only makes it slower.
  EXPECT_GE(seconds, 1.3);
  EXPECT_LE(seconds, 3.0);
  EXPECT_EQ(bucket->charged(), 2 * up.size());
  EXPECT_GT(bucket->throttled(), std::chrono::milliseconds(500));
}

// A copy that sleeps on a rate limit wakes when the other direction fails:
// the bucket owes 20 s (shared with streams that used it up), the service
// side resets, and the splice ends at once instead of after the sleep.
TEST_F(spliced, a_reset_ends_a_sleep_on_the_rate_limit_at_once) {
  auto bucket = std::make_shared<rate_limiter>(rate_limiter::min_rate);
  bucket->charge(steady_clock::now(), 20 * rate_limiter::min_rate);
  std::optional<splice_result> stats;
  steady_clock::duration took{};
  result<std::size_t> client_read = std::size_t{1};
  test::run_async(
      io,
      [&]() -> awaitable<void> {
        auto [left_outer, left_inner] = co_await socket_pair();
        auto [right_inner, right_outer] = co_await socket_pair();
        tcp_stream a(std::move(left_inner)), b(std::move(right_inner));
        tcp_stream client(std::move(left_outer)), server(std::move(right_outer));
        splice_limits limits;
        limits.rate_a_to_b.push_back(bucket);
        auto run_splice = [&]() -> awaitable<void> { stats = co_await splice(a, b, limits); };
        asio::co_spawn(io, run_splice(), asio::detached);
        const auto up = test::random_bytes(100);
        const byte_span up_span(up);
        (void)co_await client.write(up_span);  // waits in a's socket: a->b sleeps first
        asio::steady_timer t(io, std::chrono::milliseconds(200));
        co_await t.async_wait(use_nothrow);
        const auto reset_at = steady_clock::now();
        server.reset();  // RST: the service died while the upload sleeps
        std::array<std::uint8_t, 16> buf{};
        client_read = co_await client.read_some(buf);
        for (int i = 0; i < 250 && !stats; ++i) {
          asio::steady_timer poll(io, std::chrono::milliseconds(20));
          co_await poll.async_wait(use_nothrow);
        }
        took = steady_clock::now() - reset_at;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(stats) << "the splice still sleeps on its rate limit";
  EXPECT_TRUE(stats->error);
  EXPECT_EQ(stats->a_to_b, 0u);
  EXPECT_TRUE(!client_read || *client_read == 0);
  // Without the stop signal: the 20 s debt.
  EXPECT_LT(took, std::chrono::seconds(2));
}

// The same stop, for a copy driven on its own: stop() during the sleep
// returns stream_reset at once, and a stop() before the sleep is not lost.
TEST_F(spliced, copy_stop_ends_a_limited_copy_before_and_during_its_sleep) {
  for (const bool before : {false, true}) {
    auto bucket = std::make_shared<rate_limiter>(rate_limiter::min_rate);
    bucket->charge(steady_clock::now(), 20 * rate_limiter::min_rate);
    std::optional<result<void>> copied;
    steady_clock::duration took{};
    test::run_async(
        io,
        [&]() -> awaitable<void> {
          auto [x_outer, x_inner] = co_await socket_pair();
          auto [y_inner, y_outer] = co_await socket_pair();
          tcp_stream from(std::move(x_inner)), to(std::move(y_inner));
          copy_stop stop(io.get_executor());
          if (before) stop.stop();
          std::uint64_t n = 0;
          const std::vector<std::shared_ptr<rate_limiter>> rates{bucket};
          const auto start = steady_clock::now();
          auto run_copy = [&]() -> awaitable<void> {
            copied = co_await copy_stream(from, to, n, 0, default_max_copy_buffer, nullptr, rates,
                                          &stop);
          };
          asio::co_spawn(io, run_copy(), asio::detached);
          asio::steady_timer t(io, std::chrono::milliseconds(100));
          co_await t.async_wait(use_nothrow);
          stop.stop();
          for (int i = 0; i < 250 && !copied; ++i) {
            asio::steady_timer poll(io, std::chrono::milliseconds(20));
            co_await poll.async_wait(use_nothrow);
          }
          took = steady_clock::now() - start;
        },
        std::chrono::seconds(30));
    ASSERT_TRUE(copied) << (before ? "stopped before" : "stopped during") << " the sleep";
    ASSERT_FALSE(*copied);
    EXPECT_EQ(copied->error(), make_error_code(errc::stream_reset));
    EXPECT_LT(took, std::chrono::seconds(2));
  }
}

}  // namespace
}  // namespace peerup::net
