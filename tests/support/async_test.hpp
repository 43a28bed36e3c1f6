// Running coroutine tests on one io_context with a hard deadline, and the
// small protocols (echo) the tests use.
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>

#include "crypto/sha256.hpp"
#include "net/host.hpp"

namespace peerup::test {

namespace asio = net::asio;
using namespace std::chrono_literals;

// Runs `body` to completion. The test fails (instead of hanging) if it takes
// longer than `limit`; the limit is a hang guard, not a performance bound.
inline void run_async(asio::io_context& io, std::function<net::awaitable<void>()> body,
                      std::chrono::seconds limit = 120s) {
  bool finished = false;
  std::exception_ptr error;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    finished = true;
    error = e;
    io.stop();
  });
  asio::steady_timer guard(io, limit);
  guard.async_wait([&](net::error_code ec) {
    if (!ec) io.stop();
  });
  io.run();
  io.restart();
  ASSERT_TRUE(finished) << "test coroutine did not finish within " << limit.count() << " s";
  if (error) std::rethrow_exception(error);
}

// Waits until `pred` holds, polling every 20 ms, for at most `limit`; returns
// whether it held. A template, not std::function: g++ 12 miscompiles class
// temporaries with destructors inside a co_await expression.
template <class Pred>
net::awaitable<bool> eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (auto waited = 0ms; waited < limit; waited += 20ms) {
    if (pred()) co_return true;
    t.expires_after(20ms);
    co_await t.async_wait(net::use_nothrow);
  }
  co_return pred();
}

// A host config with a fresh identity listening on `addr` (default: any
// loopback TCP port).
inline net::host_config listening_config(const char* addr = "/ip4/127.0.0.1/tcp/0") {
  return {.identity = private_key::generate(), .listen = {*multiaddr::parse(addr)}};
}

inline const protocol_id echo_protocol{"/peerup/echo/1.0.0"};

// Echoes every byte until the remote closes its write side, then closes ours.
inline net::awaitable<void> serve_echo(net::stream_ptr s, net::stream_context) {
  std::vector<std::uint8_t> buf(64 * 1024);
  for (;;) {
    auto n = co_await s->read_some(buf);
    if (!n || *n == 0) break;
    if (!co_await s->write({buf.data(), *n})) co_return s->reset();
  }
  (void)co_await s->close_write();
}

inline bytes random_bytes(std::size_t n) {
  bytes b(n);
  randombytes_buf(b.data(), b.size());
  return b;
}

// Sends `data` on `s` while reading the echo back; returns the echoed bytes.
inline net::awaitable<result<bytes>> echo_roundtrip(net::byte_stream& s, byte_span data) {
  using namespace asio::experimental::awaitable_operators;
  auto writer = [&]() -> net::awaitable<result<void>> {
    for (std::size_t off = 0; off < data.size(); off += 256 * 1024) {
      auto chunk = data.subspan(off, std::min<std::size_t>(256 * 1024, data.size() - off));
      if (auto r = co_await s.write(chunk); !r) co_return r;
    }
    co_return co_await s.close_write();
  };
  auto [w, r] = co_await (writer() && net::read_to_end(s, data.size() + 1));
  if (!w) co_return w.error();
  co_return r;
}

// Echoes each of `sent` on its own echo stream of `conn`, all at once, and
// returns what came back per stream (empty where a stream failed).
inline net::awaitable<std::vector<bytes>> echo_on_streams(net::host& client,
                                                          net::connection_ptr conn,
                                                          const std::vector<bytes>& sent) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<bytes> received(sent.size());
  std::size_t done = 0;
  net::signal all_done(ex);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    asio::co_spawn(
        ex,
        [&, i]() -> net::awaitable<void> {
          auto opened = co_await client.new_stream(conn, echo_protocol);
          EXPECT_TRUE(opened);
          if (opened) {
            auto echoed = co_await echo_roundtrip(*opened->stream, sent[i]);
            EXPECT_TRUE(echoed) << echoed.error().message();
            if (echoed) received[i] = std::move(*echoed);
          }
          if (++done == sent.size()) all_done.notify();
        },
        asio::detached);
  }
  while (done < sent.size()) co_await all_done.wait();
  co_return received;
}

}  // namespace peerup::test
