#include "protocols/ping.hpp"

#include <sodium.h>

#include <spdlog/spdlog.h>
#include <array>

namespace peerup::protocols {

namespace {
// Echo side. Go and js close the stream after some idle time; we serve until
// the peer closes, bounded by the number of pings a stream may carry.
constexpr std::size_t max_pings_per_stream = 1 << 20;

net::awaitable<void> serve_ping(net::stream_ptr s, net::stream_context) {
  std::array<std::uint8_t, ping_size> buf;
  for (std::size_t i = 0; i < max_pings_per_stream; ++i) {
    auto r = co_await net::read_exact(*s, buf);
    if (!r) break;
    if (auto w = co_await s->write(buf); !w) break;
  }
  (void)co_await s->close_write();
}
}  // namespace

void install_ping(net::host& h) { h.set_handler(ping_protocol, serve_ping); }

net::awaitable<result<std::chrono::microseconds>> ping_once(net::byte_stream& s) {
  std::array<std::uint8_t, ping_size> out, in;
  randombytes_buf(out.data(), out.size());
  const auto start = net::steady_clock::now();
  if (auto w = co_await s.write(out); !w) co_return w.error();
  if (auto r = co_await net::read_exact(s, in); !r) co_return r.error();
  if (in != out) co_return make_error_code(errc::ping_mismatch);
  co_return std::chrono::duration_cast<std::chrono::microseconds>(net::steady_clock::now() - start);
}

}  // namespace peerup::protocols
