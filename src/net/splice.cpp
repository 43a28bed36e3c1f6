#include "net/splice.hpp"

#include <algorithm>
#include <memory>
#include <optional>

#include "net/wait_readable.hpp"

namespace peerup::net {

namespace {
// After this many reads in a row below small_read, a copy waits for the next
// bytes without holding its buffer (see copy_stream).
constexpr std::size_t small_read = 1024;
constexpr int small_reads_before_idle = 2;
}  // namespace

awaitable<result<void>> copy_stream(byte_stream& from, byte_stream& to, std::uint64_t& copied,
                                    std::uint64_t max_bytes, std::size_t max_buffer,
                                    const std::function<void(std::size_t)>* on_copied,
                                    std::span<const std::shared_ptr<rate_limiter>> rates,
                                    copy_stop* stop) {
  using namespace asio::experimental::awaitable_operators;
  std::size_t size = std::min(initial_copy_buffer, max_buffer);
  // Not a vector: growth must not zero-fill or copy, the contents are dead.
  auto buf = std::make_unique_for_overwrite<std::uint8_t[]>(size);
  std::optional<asio::steady_timer> pause;  // only for a limited copy
  int small_reads = 0;
  const bool can_wait = can_wait_readable(from);
  for (;;) {
    if (small_reads >= small_reads_before_idle && can_wait) {
      // Idle (or interactive): wait for bytes without the buffer, so a relay
      // holding 10,000 quiet circuits does not hold 20,000 copy buffers.
      buf.reset();
      co_await wait_readable(from);
      size = std::min(initial_copy_buffer, max_buffer);
      buf = std::make_unique_for_overwrite<std::uint8_t[]>(size);
    }
    std::size_t want = size;
    if (!rates.empty()) {
      // Each round sleeps until the longest debt is paid; other copies on the
      // same bucket can add debt meanwhile, so it may take a few rounds, each
      // a real sleep (the loop ends when every bucket is out of debt).
      for (;;) {
        const auto now = steady_clock::now();
        steady_clock::duration wait{};
        for (const auto& r : rates) wait = std::max(wait, r->wait(now));
        if (wait <= steady_clock::duration::zero()) break;
        if (!pause) pause.emplace(co_await asio::this_coro::executor);
        pause->expires_after(wait);
        if (stop) {
          // The signal keeps no wake-up: a stop() before this wait is seen
          // by the check, one during it by the wait (same executor).
          if (stop->stopped) co_return make_error_code(errc::stream_reset);
          co_await (pause->async_wait(use_nothrow) || stop->wake.wait());
        } else {
          co_await pause->async_wait(use_nothrow);
        }
        const auto slept = steady_clock::now() - now;
        for (const auto& r : rates) r->add_throttled(slept);
        if (stop && stop->stopped) co_return make_error_code(errc::stream_reset);
      }
      for (const auto& r : rates) want = std::min(want, r->chunk());
    }
    auto n = co_await from.read_some({buf.get(), want});
    if (!n) co_return n.error();
    if (*n == 0) co_return co_await to.close_write();
    small_reads = *n < small_read ? small_reads + 1 : 0;
    std::size_t len = *n;
    const bool over = max_bytes != 0 && copied + len > max_bytes;
    if (over) len = static_cast<std::size_t>(max_bytes - copied);
    if (len > 0) {
      if (auto w = co_await to.write({buf.get(), len}); !w) co_return w.error();
      copied += len;
      if (!rates.empty()) {
        const auto now = steady_clock::now();
        for (const auto& r : rates) r->charge(now, len);
      }
      if (on_copied && *on_copied) (*on_copied)(len);
    }
    if (over) co_return make_error_code(errc::resource_limit);
    if (*n == size && size < max_buffer) {
      size = std::min(size * 4, max_buffer);
      buf = std::make_unique_for_overwrite<std::uint8_t[]>(size);
    }
  }
}

namespace {

awaitable<void> copy_one_way(byte_stream& from, byte_stream& to, const splice_limits& limits,
                             std::uint64_t& copied, error_code& first_error, byte_stream& a,
                             byte_stream& b, copy_stop& stop) {
  const bool a_to_b = &from == &a;
  std::function<void(std::size_t)> meter;
  if (limits.on_copied) meter = [&limits, a_to_b](std::size_t n) { limits.on_copied(a_to_b, n); };
  const auto& rates = a_to_b ? limits.rate_a_to_b : limits.rate_b_to_a;
  auto r = co_await copy_stream(from, to, copied, limits.max_bytes_per_direction,
                                limits.buffer_size, &meter, rates, &stop);
  if (r) co_return;
  if (!first_error) first_error = r.error();
  // Resetting both wakes the other direction, which is blocked in a read or
  // a write; stop() wakes it from a sleep on a rate limit.
  a.reset();
  b.reset();
  stop.stop();
}

}  // namespace

awaitable<splice_result> splice(byte_stream& a, byte_stream& b, splice_limits limits) {
  using namespace asio::experimental::awaitable_operators;
  splice_result res;
  copy_stop stop(co_await asio::this_coro::executor);
  auto both = copy_one_way(a, b, limits, res.a_to_b, res.error, a, b, stop) &&
              copy_one_way(b, a, limits, res.b_to_a, res.error, a, b, stop);
  if (limits.max_duration == steady_clock::duration::zero()) {
    co_await std::move(both);
  } else {
    asio::steady_timer timer(co_await asio::this_coro::executor, limits.max_duration);
    auto winner = co_await (std::move(both) || timer.async_wait(use_nothrow));
    if (winner.index() == 1) {
      if (!res.error) res.error = make_error_code(errc::timeout);
      a.reset();
      b.reset();
      stop.stop();
    }
  }
  co_return res;
}

}  // namespace peerup::net
