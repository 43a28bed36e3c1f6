// Large stream writes that go out from the writer's own buffer (Yamux
// borrowed frames, Noise sealing from parts): the bytes on the wire are
// exactly those written, and a write never returns while the transport may
// still read the caller's buffer -- not when the writing coroutine is
// cancelled, not when the connection fails under it.
#include <gtest/gtest.h>

#include "net/noise_stream.hpp"
#include "net/tcp_transport.hpp"
#include "net/yamux_connection.hpp"
#include "support/async_test.hpp"
#include "support/socket_pair.hpp"

namespace peerup::net {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

// What the gated transport saw and what the test controls.
struct gate_state {
  explicit gate_state(asio::any_io_executor ex) : changed(ex) {}
  bool open = true;
  bool reset = false;
  int writes_waiting = 0;
  bytes written;
  signal changed;
};

// A transport whose writes complete only while the gate is open (one that
// cannot take data right now); reads wait until it is reset.
class gated_stream final : public byte_stream {
 public:
  gated_stream(asio::any_io_executor ex, std::shared_ptr<gate_state> st)
      : ex_(std::move(ex)), st_(std::move(st)) {}
  awaitable<result<std::size_t>> read_some(mutable_byte_span) override {
    auto st = st_;
    while (!st->reset) co_await st->changed.wait();
    co_return make_error_code(errc::connection_closed);
  }
  awaitable<result<void>> write(byte_span data) override {
    auto st = st_;
    ++st->writes_waiting;
    while (!st->open && !st->reset) co_await st->changed.wait();
    --st->writes_waiting;
    if (st->reset) co_return make_error_code(errc::connection_closed);
    append(st->written, data);
    co_return result<void>{};
  }
  awaitable<result<void>> close_write() override { co_return result<void>{}; }
  void reset() override {
    st_->reset = true;
    st_->changed.notify();
  }
  asio::any_io_executor get_executor() override { return ex_; }

 private:
  asio::any_io_executor ex_;
  std::shared_ptr<gate_state> st_;
};

struct borrowed_write : ::testing::Test {
  asio::io_context io;
  std::shared_ptr<gate_state> gate = std::make_shared<gate_state>(io.get_executor());
  std::shared_ptr<yamux_connection> conn = std::make_shared<yamux_connection>(
      std::make_unique<gated_stream>(io.get_executor(), gate), true);

  // Starts the connection, opens one stream and lets its SYN (and the first
  // ping) through, then closes the gate.
  awaitable<stream_ptr> open_stream_then_close_gate() {
    conn->start({});
    auto s = conn->open_stream();
    EXPECT_TRUE(s);
    EXPECT_TRUE(co_await test::eventually([&] { return gate->written.size() >= 24; }));
    gate->open = false;
    gate->written.clear();
    co_return s ? std::move(*s) : nullptr;
  }
};

TEST_F(borrowed_write, a_cancelled_write_returns_only_after_the_transport_took_the_bytes) {
  bytes payload = test::random_bytes(128 * 1024);  // above the borrow threshold, inside the window
  const bytes sent = payload;
  bool finished = false;
  std::size_t winner = 99;
  test::run_async(io, [&]() -> awaitable<void> {
    auto s = co_await open_stream_then_close_gate();
    if (!s) co_return;
    auto race = [&]() -> awaitable<void> {
      asio::steady_timer t(io, 20ms);
      const byte_span data(payload);
      auto w = s->write(data);
      auto r = co_await (std::move(w) || t.async_wait(use_nothrow));
      winner = r.index();
      finished = true;
    };
    asio::co_spawn(io, race(), asio::detached);
    // The timer fired long ago; the write is cancelled but the transport has
    // not taken the bytes, so the race must still be waiting for it.
    asio::steady_timer wait(io, 300ms);
    co_await wait.async_wait(use_nothrow);
    EXPECT_FALSE(finished);
    EXPECT_GT(gate->writes_waiting, 0);
    gate->open = true;
    gate->changed.notify();
    EXPECT_TRUE(co_await test::eventually([&] { return finished; }));
    // Only now may the caller reuse its buffer.
    std::fill(payload.begin(), payload.end(), 0);
    EXPECT_EQ(winner, 1u);  // the timer won the race
    // On the wire: one data frame header per 256 KiB frame, then the bytes as written.
    EXPECT_EQ(gate->written.size(), yamux::header_size + sent.size());
    if (gate->written.size() != yamux::header_size + sent.size()) co_return;
    EXPECT_TRUE(bytes(gate->written.begin() + yamux::header_size, gate->written.end()) == sent);
    EXPECT_EQ(gate->written[1], 0);  // type: data
  });
}

TEST_F(borrowed_write, a_connection_that_fails_under_a_borrowed_write_fails_the_write_after_it) {
  bytes payload = test::random_bytes(64 * 1024);
  std::optional<result<void>> outcome;
  test::run_async(io, [&]() -> awaitable<void> {
    auto s = co_await open_stream_then_close_gate();
    if (!s) co_return;
    auto writer = [&]() -> awaitable<void> {
      const byte_span data(payload);
      outcome = co_await s->write(data);
    };
    asio::co_spawn(io, writer(), asio::detached);
    EXPECT_TRUE(co_await test::eventually([&] { return gate->writes_waiting > 0; }));
    EXPECT_FALSE(outcome.has_value());
    conn->abort(make_error_code(errc::timeout));
    EXPECT_TRUE(co_await test::eventually([&] { return outcome.has_value(); }));
    EXPECT_TRUE(outcome && !*outcome);
    EXPECT_TRUE(gate->written.empty());
    EXPECT_TRUE(conn->is_closed());
  });
}

using test::socket_pair;

TEST(noise_write_parts, the_receiver_reads_exactly_the_parts_in_order) {
  // Parts of every shape: tiny ones (more than a frame's piece limit in a
  // row), one spanning several frames and write batches, empty ones.
  std::vector<bytes> parts;
  for (int i = 0; i < 40; ++i) parts.push_back(test::random_bytes(1 + i % 3));
  parts.emplace_back();
  parts.push_back(test::random_bytes(3 * 1024 * 1024 + 5));
  parts.push_back(test::random_bytes(12));
  parts.emplace_back();
  parts.push_back(test::random_bytes(70000));
  bytes expected;
  std::vector<byte_span> spans;
  for (const auto& p : parts) {
    append(expected, p);
    spans.emplace_back(p);
  }
  asio::io_context io;
  bytes got;
  test::run_async(io, [&]() -> awaitable<void> {
    auto [a, b] = co_await socket_pair();
    noise::key32 k1{}, k2{};
    k1[0] = 1;
    k2[0] = 2;
    noise_stream sender(std::make_unique<tcp_stream>(std::move(a)), noise::cipher_state(k1),
                        noise::cipher_state(k2));
    noise_stream receiver(std::make_unique<tcp_stream>(std::move(b)), noise::cipher_state(k2),
                          noise::cipher_state(k1));
    auto send = [&]() -> awaitable<void> {
      auto r = co_await sender.write_parts(spans);
      EXPECT_TRUE(r);
      (void)co_await sender.close_write();
    };
    asio::co_spawn(io, send(), asio::detached);
    auto r = co_await read_to_end(receiver, expected.size() + 1);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (r) got = std::move(*r);
  });
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

}  // namespace
}  // namespace peerup::net
