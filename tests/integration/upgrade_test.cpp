// Optimistic select: what a dialing host sends before its listener answers.
// The security negotiation rides in the same flight as Noise message 1, and
// an optimistic stream takes data before the protocol's echo comes back.
#include <gtest/gtest.h>

#include <future>

#include "net/optimistic_stream.hpp"
#include "support/async_test.hpp"
#include "support/io_thread.hpp"

namespace peerup::test {
namespace {

using tcp = asio::ip::tcp;
namespace aw = asio::experimental::awaitable_operators;

bytes multistream_message(std::string_view text) {
  bytes out{static_cast<std::uint8_t>(text.size() + 1)};
  append(out, as_bytes(text));
  out.push_back('\n');
  return out;
}

// Reads whatever arrives within `quiet` of the last byte (at most 4 KiB): the
// dialer's first flight, when nothing is answered.
net::awaitable<bytes> read_first_flight(tcp::socket& s, std::chrono::milliseconds quiet) {
  using namespace aw;
  bytes got;
  std::array<std::uint8_t, 4096> buf{};
  asio::steady_timer timer(s.get_executor());
  while (got.size() < buf.size()) {
    timer.expires_after(quiet);
    auto read =
        s.async_read_some(asio::buffer(buf.data(), buf.size() - got.size()), net::use_nothrow);
    auto waiting = timer.async_wait(net::use_nothrow);
    auto outcome = co_await (std::move(read) || std::move(waiting));
    if (outcome.index() == 1) break;  // quiet: the dialer is waiting for us
    auto [ec, n] = std::get<0>(outcome);
    if (ec) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  co_return got;
}

struct silent_listener : ::testing::Test {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  net::host dialer{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  peer_id someone = private_key::generate().to_peer_id();

  multiaddr address() {
    return *multiaddr::parse("/ip4/127.0.0.1/tcp/" +
                             std::to_string(acceptor.local_endpoint().port()) + "/p2p/" +
                             someone.to_string());
  }
};

TEST_F(silent_listener, first_flight_holds_the_noise_proposal_and_noise_message_1) {
  std::optional<bytes> flight;  // set when the listener read before the dial ended
  run_async(io, [&]() -> net::awaitable<void> {
    using namespace aw;
    auto target = address();
    auto accept_and_listen = [&]() -> net::awaitable<bytes> {
      auto [ec, s] = co_await acceptor.async_accept(net::use_nothrow);
      if (ec) co_return bytes{};
      co_return co_await read_first_flight(s, 300ms);
    };
    auto dial = [&]() -> net::awaitable<void> { (void)co_await dialer.connect(target); };
    auto listening = accept_and_listen();
    auto dialing = dial();
    auto outcome = co_await (std::move(listening) || std::move(dialing));
    if (outcome.index() == 0) flight = std::get<0>(std::move(outcome));
  });
  ASSERT_TRUE(flight) << "the dial ended before the listener read anything";

  // header, proposal, then Noise XX message 1: a 2-byte length and the
  // 32-byte ephemeral key (no payload in message 1).
  bytes expected = multistream_message("/multistream/1.0.0");
  append(expected, multistream_message("/noise"));
  ASSERT_EQ(flight->size(), expected.size() + 2 + 32) << to_hex(*flight);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), flight->begin())) << to_hex(*flight);
  EXPECT_EQ((*flight)[expected.size()], 0);
  EXPECT_EQ((*flight)[expected.size() + 1], 32);
}

TEST_F(silent_listener, a_listener_without_noise_fails_the_dial_with_protocol_not_supported) {
  std::optional<result<net::connection_ptr>> dialed;  // set when the dial ended first
  run_async(io, [&]() -> net::awaitable<void> {
    using namespace aw;
    auto target = address();
    auto refuse_noise = [&]() -> net::awaitable<void> {
      auto [ec, s] = co_await acceptor.async_accept(net::use_nothrow);
      if (ec) co_return;
      co_await read_first_flight(s, 200ms);
      bytes answer = multistream_message("/multistream/1.0.0");
      append(answer, multistream_message("na"));
      co_await asio::async_write(s, asio::buffer(answer), net::use_nothrow);
      // Stay open: the dial must fail on the answer, not on a closed socket.
      asio::steady_timer hold(s.get_executor(), 10s);
      co_await hold.async_wait(net::use_nothrow);
    };
    auto refusing = refuse_noise();
    auto dialing = dialer.connect(target);
    auto outcome = co_await (std::move(refusing) || std::move(dialing));
    if (outcome.index() == 1) dialed = std::get<1>(std::move(outcome));
  });
  ASSERT_TRUE(dialed) << "the dial did not end on the na";
  ASSERT_FALSE(*dialed);
  EXPECT_EQ(dialed->error(), make_error_code(errc::protocol_not_supported))
      << dialed->error().message();
}

TEST(optimistic_stream, opens_and_takes_data_while_the_listener_cannot_answer) {
  io_thread server_thread;
  net::host server{server_thread.io().get_executor(), listening_config()};
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  server_thread.start();
  const multiaddr addr = server_thread.call([&] { return server.full_addrs().front(); });

  asio::io_context io;
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  client.start();
  std::promise<void> release;
  bool released = false;
  bool opened_while_frozen = false, full_select_timed_out = false, confirmed = false;
  const bytes hello = random_bytes(1000);
  bytes echoed;
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(addr);
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    // Freeze the listener's thread: from here it answers nothing.
    asio::post(server_thread.io(), [frozen = release.get_future().share()] { frozen.wait(); });
    auto optimistic = co_await net::with_timeout(client.new_stream_optimistic(*conn, echo_protocol),
                                                 std::chrono::seconds(2));
    opened_while_frozen = static_cast<bool>(optimistic);
    // The contrast: a full select waits for the echo that cannot come.
    auto full = co_await net::with_timeout(client.new_stream(*conn, echo_protocol),
                                           std::chrono::milliseconds(300));
    full_select_timed_out = !full && full.error() == errc::timeout;
    if (optimistic) {
      (void)co_await optimistic->stream->write(hello);  // before any answer
      (void)co_await optimistic->stream->close_write();
    }
    release.set_value();
    released = true;
    if (!optimistic) co_return;
    auto back = co_await net::read_to_end(*optimistic->stream, 1 << 20);
    EXPECT_TRUE(back) << back.error().message();
    if (back) echoed = std::move(*back);
    confirmed = static_cast<net::optimistic_stream&>(*optimistic->stream).confirmed();
  });
  if (!released) release.set_value();
  server_thread.stop([&] { server.stop(); });
  client.stop();

  EXPECT_TRUE(opened_while_frozen);
  EXPECT_TRUE(full_select_timed_out);
  EXPECT_EQ(echoed, hello);
  EXPECT_TRUE(confirmed);
}

TEST(optimistic_stream, an_unknown_protocol_fails_the_first_read_and_the_connection_lives_on) {
  asio::io_context io;
  net::host server{io.get_executor(), listening_config()};
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  server.set_handler(echo_protocol, serve_echo);
  server.start();
  client.start();
  std::optional<result<std::size_t>> first_read;
  bool confirmed = true;
  bytes echoed;
  const bytes hello = random_bytes(100);
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(server.full_addrs().front());
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    const protocol_id unknown{"/peerup/nothing-here/1.0.0"};
    auto opened = co_await client.new_stream_optimistic(*conn, unknown);
    EXPECT_TRUE(opened);
    if (!opened) co_return;
    (void)co_await opened->stream->write(hello);  // the listener must not take it for a proposal
    std::array<std::uint8_t, 64> buf{};
    first_read = co_await opened->stream->read_some(buf);
    confirmed = static_cast<net::optimistic_stream&>(*opened->stream).confirmed();
    auto again = co_await client.new_stream(*conn, echo_protocol);
    EXPECT_TRUE(again) << again.error().message();
    if (!again) co_return;
    auto back = co_await echo_roundtrip(*again->stream, hello);
    if (back) echoed = std::move(*back);
  });
  ASSERT_TRUE(first_read);
  ASSERT_FALSE(*first_read);
  EXPECT_EQ(first_read->error(), make_error_code(errc::protocol_not_supported))
      << first_read->error().message();
  EXPECT_FALSE(confirmed);
  EXPECT_EQ(echoed, hello) << "the connection did not survive the refused stream";
}

}  // namespace
}  // namespace peerup::test
