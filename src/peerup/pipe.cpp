#include "peerup/pipe.hpp"

#include <vector>

namespace peerup::app {

net::awaitable<result<std::uint64_t>> copy_stream(net::byte_stream& from, net::byte_stream& to) {
  std::vector<std::uint8_t> buf(pipe_buffer_size);
  std::uint64_t total = 0;
  for (;;) {
    auto n = co_await from.read_some(buf);
    if (!n) co_return n.error();
    if (*n == 0) break;
    const byte_span chunk(buf.data(), *n);
    if (auto w = co_await to.write(chunk); !w) co_return w.error();
    total += *n;
  }
  if (auto c = co_await to.close_write(); !c) co_return c.error();
  co_return total;
}

net::awaitable<result<pipe_stats>> pipe(net::byte_stream& a, net::byte_stream& b) {
  using namespace net::asio::experimental::awaitable_operators;
  std::optional<boost::system::error_code> failure;
  // Each direction resets both streams on failure, which fails the other
  // direction's pending read or write at once.
  auto direction = [&](net::byte_stream& from,
                       net::byte_stream& to) -> net::awaitable<std::uint64_t> {
    auto r = co_await copy_stream(from, to);
    if (r) co_return *r;
    if (!failure) failure = r.error();
    a.reset();
    b.reset();
    co_return 0;
  };
  auto both = direction(a, b) && direction(b, a);
  auto [ab, ba] = co_await std::move(both);
  if (failure) co_return *failure;
  co_return pipe_stats{ab, ba};
}

}  // namespace peerup::app
