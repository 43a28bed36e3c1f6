// The connection handshake (multistream "/noise", Noise XX) in few socket
// reads and writes (net/handshake_stream.hpp; issue 19's reservation setup
// rate): a listener answers the dialer's first flight with one write, and
// what a dialer sends right after its last handshake message, read in the
// same socket read as that message, reaches the secure stream.
#include <gtest/gtest.h>

#include "net/handshake_stream.hpp"
#include "net/multistream_io.hpp"
#include "net/noise_stream.hpp"
#include "net/tcp_transport.hpp"
#include "net/upgrader.hpp"
#include "support/async_test.hpp"
#include "support/socket_pair.hpp"

namespace peerup::net {
namespace {

awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_nothrow);
}

// A TCP stream that counts the reads and writes that reach the socket, and
// may wait before each read (a busy peer: whatever was sent meanwhile
// arrives together).
class counted_stream final : public byte_stream {
 public:
  counted_stream(tcp::socket s, std::chrono::milliseconds read_delay)
      : inner_(std::move(s)), delay_(read_delay) {}
  awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override {
    if (delay_.count() > 0) co_await pause(delay_);
    ++reads;
    co_return co_await inner_.read_some(buf);
  }
  awaitable<result<void>> write(byte_span data) override {
    ++writes;
    co_return co_await inner_.write(data);
  }
  awaitable<result<void>> close_write() override { return inner_.close_write(); }
  void reset() override { inner_.reset(); }
  asio::any_io_executor get_executor() override { return inner_.get_executor(); }

  int reads = 0;
  int writes = 0;

 private:
  tcp_stream inner_;
  std::chrono::milliseconds delay_;
};

raw_connection raw_over(std::unique_ptr<counted_stream> s) {
  const auto addr = multiaddr::parse("/ip4/127.0.0.1/tcp/1");
  return raw_connection{std::move(s), *addr, *addr, false};
}

TEST(handshake_stream, a_listener_answers_the_first_flight_in_one_write) {
  asio::io_context io;
  test::run_async(io, [&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto [a_sock, b_sock] = co_await test::socket_pair();
    auto dialer = std::make_unique<counted_stream>(std::move(a_sock), std::chrono::milliseconds(0));
    auto listener =
        std::make_unique<counted_stream>(std::move(b_sock), std::chrono::milliseconds(0));
    auto* d = dialer.get();
    auto* l = listener.get();
    const auto a_key = private_key::generate();
    const auto b_key = private_key::generate();
    const connection_gater no_gater;
    const upgrade_params pa{make_noise_static(a_key), no_gater, {}, nullptr};
    const upgrade_params pb{make_noise_static(b_key), no_gater, {}, nullptr};
    std::optional<result<connection_ptr>> inbound;
    signal done(ex);
    auto serve = [&]() -> awaitable<void> {
      auto c = co_await upgrade_inbound(raw_over(std::move(listener)), pb);
      inbound = std::move(c);
      done.notify();
    };
    asio::co_spawn(ex, serve(), asio::detached);
    const std::optional<peer_id> expected = b_key.to_peer_id();
    auto out = co_await upgrade_outbound(raw_over(std::move(dialer)), pa, expected);
    for (int i = 0; i < 100 && !inbound; ++i) co_await done.wait();
    EXPECT_TRUE(out) << out.error().message();
    EXPECT_TRUE(inbound && *inbound) << "inbound upgrade failed";
    if (!out || !inbound || !*inbound) co_return;
    EXPECT_EQ((**inbound)->remote_peer, a_key.to_peer_id());
    // The listener: header echo, "/noise" echo and Noise message 2 in one
    // write (they were three); the dialer's flight and message 3 in at most
    // two reads (they were eight, byte-exact).
    EXPECT_EQ(l->writes, 1);
    EXPECT_LE(l->reads, 2);
    // The dialer: its flight, then message 3; the listener's answer in one read.
    EXPECT_EQ(d->writes, 2);
    EXPECT_EQ(d->reads, 1);
  });
}

TEST(handshake_stream, bytes_read_with_the_last_handshake_message_reach_the_secure_stream) {
  asio::io_context io;
  test::run_async(io, [&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto [a_sock, b_sock] = co_await test::socket_pair();
    // The listener reads 100 ms late each time, so the dialer's message 3
    // and the frame it sends right after it are in the socket together.
    auto inner = std::make_unique<counted_stream>(std::move(b_sock), std::chrono::milliseconds(100));
    auto* l = inner.get();
    const auto a_key = private_key::generate();
    const auto b_key = private_key::generate();
    const std::string hello = "first bytes after the handshake";
    auto dial = [&, a_sock = std::move(a_sock)]() mutable -> awaitable<void> {
      const std::optional<peer_id> expected = b_key.to_peer_id();
      auto sc = co_await negotiate_and_secure_outbound(std::make_unique<tcp_stream>(std::move(a_sock)),
                                                       make_noise_static(a_key), expected);
      if (!sc) co_return;
      (void)co_await sc->stream->write(as_bytes(hello));
      co_await pause(std::chrono::milliseconds(1000));  // keep the socket open while read
    };
    asio::co_spawn(ex, dial(), asio::detached);
    auto hs = std::make_unique<handshake_stream>(std::move(inner));
    auto proto = co_await negotiate_inbound(
        *hs, [](std::string_view p) { return p == noise::protocol_id; });
    EXPECT_TRUE(proto) << proto.error().message();
    if (!proto) co_return;
    auto sc = co_await secure_inbound(std::move(hs), make_noise_static(b_key));
    EXPECT_TRUE(sc) << sc.error().message();
    if (!sc) co_return;
    EXPECT_EQ(l->reads, 2) << "the first flight, then message 3 with the dialer's first frame";
    bytes got(hello.size());
    auto r = co_await read_exact(*sc->stream, got);
    EXPECT_TRUE(r) << r.error().message();
    EXPECT_EQ(as_string_view(got), hello);
    EXPECT_EQ(l->reads, 2) << "the frame came with message 3, from the handshake's buffer";
  });
}

}  // namespace
}  // namespace peerup::net
