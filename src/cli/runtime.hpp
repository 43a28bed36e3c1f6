// Helpers shared by the subcommands: running a coroutine to completion on a
// single-threaded io_context, and stopping on SIGINT/SIGTERM.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "net/asio.hpp"

namespace peerup::cli {

// Runs `main` on a fresh io_context until it returns; its value is the exit
// code. Exceptions escaping the coroutine print "peerup: <what>" and give 1.
// `spin` > 0: after each handler the thread keeps polling for that long
// before it sleeps in epoll (busy polling), so an answer that comes back
// within `spin` (a packet's reply through the tunnel) is handled without a
// wake-up of the sleeping thread. Costs at most `spin` of CPU per burst of
// work; 0 sleeps at once.
int run_main(const std::function<net::awaitable<int>()>& main, net::asio::io_context& io,
             std::chrono::microseconds spin = {});

// Completes when SIGINT or SIGTERM arrives.
net::awaitable<void> wait_for_signal();

// Parses sizes such as "64MiB", "10M", "4096" into bytes. Throws on bad input.
std::uint64_t parse_size(const std::string& text);

// An invite's lifetime: "90s", "10m", "2h", "1d" or plain seconds, 30 s to
// 7 days. Throws std::runtime_error naming --expires on bad input.
std::int64_t parse_invite_duration(const std::string& text);

}  // namespace peerup::cli
