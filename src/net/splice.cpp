#include "net/splice.hpp"

#include <vector>

namespace peerup::net {

namespace {

awaitable<void> copy_one_way(byte_stream& from, byte_stream& to, const splice_limits& limits,
                             std::uint64_t& copied, error_code& first_error, byte_stream& a,
                             byte_stream& b) {
  std::vector<std::uint8_t> buf(limits.buffer_size);
  auto fail = [&](error_code ec) {
    if (!first_error) first_error = ec;
    // Resetting both wakes the other direction, which is blocked in a read.
    a.reset();
    b.reset();
  };
  for (;;) {
    auto n = co_await from.read_some(buf);
    if (!n) co_return fail(n.error());
    if (*n == 0) {
      if (auto r = co_await to.close_write(); !r) fail(r.error());
      co_return;
    }
    std::size_t len = *n;
    const std::uint64_t cap = limits.max_bytes_per_direction;
    const bool over = cap != 0 && copied + len > cap;
    if (over) len = static_cast<std::size_t>(cap - copied);
    if (len > 0) {
      if (auto w = co_await to.write({buf.data(), len}); !w) co_return fail(w.error());
      copied += len;
    }
    if (over) co_return fail(make_error_code(errc::resource_limit));
  }
}

}  // namespace

awaitable<splice_result> splice(byte_stream& a, byte_stream& b, splice_limits limits) {
  using namespace asio::experimental::awaitable_operators;
  splice_result res;
  auto both = copy_one_way(a, b, limits, res.a_to_b, res.error, a, b) &&
              copy_one_way(b, a, limits, res.b_to_a, res.error, a, b);
  if (limits.max_duration == steady_clock::duration::zero()) {
    co_await std::move(both);
  } else {
    asio::steady_timer timer(co_await asio::this_coro::executor, limits.max_duration);
    auto winner = co_await (std::move(both) || timer.async_wait(use_nothrow));
    if (winner.index() == 1) {
      if (!res.error) res.error = make_error_code(errc::timeout);
      a.reset();
      b.reset();
    }
  }
  co_return res;
}

}  // namespace peerup::net
