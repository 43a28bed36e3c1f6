// Joining two byte streams into one bidirectional pipe: the data path of
// `peerup daemon` (stream <-> local TCP service), `peerup proxy` (local TCP
// <-> stream) and `peerup connect` (stdio <-> stream).
#pragma once

#include "net/byte_stream.hpp"

namespace peerup::app {

struct pipe_stats {
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
};

inline constexpr std::size_t pipe_buffer_size = 64 * 1024;

// Copies `from` into `to` with one 64 KiB buffer until `from` ends, then
// half-closes `to` (close_write), so EOF travels end to end. Returns the
// bytes copied.
// Contract: runs on the streams' executor; the caller owns both streams and
// keeps them alive until it returns; no other read on `from` or write on `to`
// may run meanwhile. On an error it returns it and leaves both streams as they
// are (pipe() resets them).
net::awaitable<result<std::uint64_t>> copy_stream(net::byte_stream& from, net::byte_stream& to);

// Copies both ways at once (two copy_stream joined with &&) until both
// directions have ended. An error in either direction resets both streams, so
// the other direction ends too instead of waiting forever.
net::awaitable<result<pipe_stats>> pipe(net::byte_stream& a, net::byte_stream& b);

}  // namespace peerup::app
