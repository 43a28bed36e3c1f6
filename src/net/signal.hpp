// A broadcast wake-up without memory, for coroutines on one thread.
//
// Usage: check your condition; if it does not hold, `co_await sig.wait()`,
// then check again. notify() wakes every current waiter. Because all
// coroutines of a connection run on one thread, nothing can slip in between
// the check and the wait, so no wake-up is lost. The timer never expires:
// only notify() (cancel) completes a wait.
#pragma once

#include "net/asio.hpp"

namespace peerup::net {

class signal {
 public:
  explicit signal(asio::any_io_executor ex) : timer_(ex, steady_clock::time_point::max()) {}

  // Contract: resumes after notify() or cancellation; never fails.
  awaitable<void> wait() { co_await timer_.async_wait(use_nothrow); }

  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace peerup::net
