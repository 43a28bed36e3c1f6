// The "we dial a js-libp2p peer" scenario of the interop tests, over any
// transport: identify, 5 pings on one stream, a 10 MiB echo and 50
// concurrent 64 KiB echo streams, each checked. The TCP (js_core_test) and
// QUIC (js_quic_test) suites assert on the same outcome.
#pragma once

#include <optional>
#include <string>

#include "protocols/identify.hpp"
#include "protocols/ping.hpp"
#include "support/async_test.hpp"

namespace peerup::test {

struct dial_js_outcome {
  bool connected = false;
  std::string transport;  // connection::transport() of the dialed connection
  std::optional<protocols::identify_info> info;
  int pings = 0;
  bool echo_ok = false;
  std::size_t streams_ok = 0;
};

// Runs on a fresh host of our own; returns when every step has finished.
inline dial_js_outcome dial_js_and_exercise(const multiaddr& js_addr) {
  asio::io_context io;
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  protocols::identify_service identify(client);
  client.set_handler(echo_protocol, serve_echo);
  dial_js_outcome out;
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(js_addr);
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    out.connected = true;
    out.transport = std::string((*conn)->transport());

    auto id = co_await identify.identify(*conn);
    EXPECT_TRUE(id) << id.error().message();
    if (id) out.info = *id;

    auto ping = co_await client.new_stream(*conn, protocols::ping_protocol);
    EXPECT_TRUE(ping) << ping.error().message();
    for (int i = 0; ping && i < 5; ++i)
      if (co_await protocols::ping_once(*ping->stream)) ++out.pings;

    const auto big = random_bytes(10 * 1024 * 1024);
    auto echo = co_await client.new_stream(*conn, echo_protocol);
    EXPECT_TRUE(echo);
    if (echo) {
      auto back = co_await echo_roundtrip(*echo->stream, big);
      out.echo_ok = back && sha256(*back) == sha256(big);
    }

    // 50 concurrent streams, each with its own payload.
    constexpr std::size_t n = 50;
    std::size_t finished = 0;
    net::signal all_done(io.get_executor());
    for (std::size_t i = 0; i < n; ++i) {
      asio::co_spawn(
          io,
          [&]() -> net::awaitable<void> {
            const auto payload = random_bytes(64 * 1024);
            auto s = co_await client.new_stream(*conn, echo_protocol);
            if (s) {
              auto back = co_await echo_roundtrip(*s->stream, payload);
              if (back && *back == payload) ++out.streams_ok;
            }
            if (++finished == n) all_done.notify();
          },
          asio::detached);
    }
    while (finished < n) co_await all_done.wait();
  });
  return out;
}

}  // namespace peerup::test
