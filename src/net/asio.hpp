// Asio aliases and the few coroutine helpers every I/O file uses.
// Only src/net and the layers above it (protocols, config, naming, node,
// gateway, cli) may include this.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>

#include "common/error.hpp"

namespace peerup::net {

namespace asio = boost::asio;
using boost::system::error_code;
template <class T>
using awaitable = asio::awaitable<T>;
using asio::use_awaitable;
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
using steady_clock = std::chrono::steady_clock;

// Runs `op` and fails with errc::timeout if it has not finished after `limit`.
// Asio 1.26 has no cancel_after, so the op races a timer with `||`; the loser
// is cancelled by the operator.
template <class T>
awaitable<result<T>> with_timeout(awaitable<result<T>> op, steady_clock::duration limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto winner = co_await (std::move(op) || timer.async_wait(use_nothrow));
  if (winner.index() == 0) co_return std::get<0>(std::move(winner));
  co_return make_error_code(errc::timeout);
}

inline std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace peerup::net
