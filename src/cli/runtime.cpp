#include "cli/runtime.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <iostream>
#include <stdexcept>

namespace peerup::cli {

namespace {

void run_spinning(net::asio::io_context& io, std::chrono::microseconds spin) {
  using clock = std::chrono::steady_clock;
  auto last = clock::now();
  while (!io.stopped()) {
    if (io.poll() > 0) {
      last = clock::now();
      continue;
    }
    if (clock::now() - last < spin) continue;
    // Idle for `spin`: sleep until the next handler (I/O or a timer).
    if (io.run_one() == 0) break;
    last = clock::now();
  }
}

}  // namespace

int run_main(const std::function<net::awaitable<int>()>& main, net::asio::io_context& io,
             std::chrono::microseconds spin) {
  int rc = 1;
  net::asio::co_spawn(io, main(), [&](const std::exception_ptr& e, int r) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::cerr << "peerup: " << ex.what() << "\n";
      }
      rc = 1;
    } else {
      rc = r;
    }
    io.stop();
  });
  if (spin.count() > 0)
    run_spinning(io, spin);
  else
    io.run();
  return rc;
}

net::awaitable<void> wait_for_signal() {
  net::asio::signal_set signals(co_await net::asio::this_coro::executor, SIGINT, SIGTERM);
  co_await signals.async_wait(net::use_nothrow);
}

std::uint64_t parse_size(const std::string& text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data())
    throw std::invalid_argument("expected a size like 1048576, 64KiB or 10MiB, got \"" + text +
                                "\"");
  const std::string unit(end, text.data() + text.size());
  std::uint64_t mult = 1;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k")
    mult = 1ull << 10;
  else if (unit == "M" || unit == "MiB")
    mult = 1ull << 20;
  else if (unit == "G" || unit == "GiB")
    mult = 1ull << 30;
  else
    throw std::invalid_argument("unknown size unit \"" + unit + "\" in \"" + text + "\"");
  if (value > UINT64_MAX / mult) throw std::invalid_argument("size too large: " + text);
  return value * mult;
}

// "90s", "10m", "2h", "1d" or plain seconds. Bounded to 30 s .. 7 days.
std::int64_t parse_invite_duration(const std::string& text) {
  if (text.empty() || text.size() > 12) throw std::runtime_error("--expires: empty or too long");
  std::int64_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.pop_back(); break;
    case 'm': unit = 60; digits.pop_back(); break;
    case 'h': unit = 3600; digits.pop_back(); break;
    case 'd': unit = 86400; digits.pop_back(); break;
    default: break;
  }
  std::int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') throw std::runtime_error("--expires: expected e.g. 10m, got \"" + text + "\"");
    n = n * 10 + (c - '0');
  }
  const std::int64_t secs = n * unit;
  if (digits.empty() || secs < 30 || secs > 7 * 86400)
    throw std::runtime_error("--expires: between 30s and 7d, got \"" + text + "\"");
  return secs;
}

}  // namespace peerup::cli
