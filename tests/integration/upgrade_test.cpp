// What a dialing host puts on the wire before its listener answers: the
// security negotiation rides in the same flight as Noise message 1.
#include <gtest/gtest.h>

#include "support/async_test.hpp"

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

}  // namespace
}  // namespace peerup::test
