// Copies bytes between two byte streams: the relay's circuit bridge, the
// service proxy (`peerup daemon`, `peerup proxy`) and `peerup connect` all use
// it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "common/rate_limiter.hpp"
#include "net/byte_stream.hpp"
#include "net/signal.hpp"

namespace peerup::net {

// A copy starts with a small buffer and grows it (x4) each time a read fills
// it, up to the limit: an idle or interactive stream (ssh) costs 16 KiB, a
// bulk transfer gets large reads and writes (fewer syscalls, bigger frames).
inline constexpr std::size_t initial_copy_buffer = 16 * 1024;
inline constexpr std::size_t default_max_copy_buffer = 256 * 1024;

struct splice_limits {
  std::uint64_t max_bytes_per_direction = 0;          // 0: unlimited
  steady_clock::duration max_duration{};              // zero: unlimited
  std::size_t buffer_size = default_max_copy_buffer;  // largest buffer per direction
  // Called after each write with the bytes just copied and their direction
  // (true: a to b), so traffic shows while a long transfer runs (status,
  // /metrics). Runs on the streams' executor; empty: not called.
  std::function<void(bool a_to_b, std::size_t n)> on_copied;
  // Bandwidth limits of each direction (bytes/s): before each read the copy
  // waits until every bucket of its direction has paid its debt, reads at
  // most the smallest chunk(), and charges what it wrote to each. Buckets are
  // shared by every splice they bound (one per service, peer or relay
  // reservation), so together those hold the rate. Empty: unlimited.
  std::vector<std::shared_ptr<rate_limiter>> rate_a_to_b, rate_b_to_a;
};

struct splice_result {
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
  error_code error;  // first failure; empty when both sides ended cleanly
};

// Ends a limited copy's sleep early. splice() hands one to both directions:
// when one fails it resets both streams, which wakes the other direction's
// pending read or write at once, but not a sleep on a rate limit (up to the
// bucket's debt, longer when many streams share a slow bucket). stop() wakes
// that sleep too, and the copy returns errc::stream_reset.
// Contract: used on the streams' executor only.
struct copy_stop {
  explicit copy_stop(asio::any_io_executor ex) : wake(std::move(ex)) {}
  void stop() {
    stopped = true;
    wake.notify();
  }
  signal wake;
  bool stopped = false;
};

// Copies `from` into `to` until `from` ends, then half-closes `to`
// (close_write), so EOF travels end to end. Stops with errc::resource_limit
// after `max_bytes` (0: unlimited). `copied` counts bytes written so far, also
// when it fails. One buffer, so a writer that cannot keep up stalls the reader
// (backpressure): nothing buffers without bound.
// Contract: runs on the streams' executor; the caller keeps both streams alive
// until it returns and runs no other read on `from` or write on `to`
// meanwhile. On error it leaves both streams as they are.
// `on_copied`, if not null, is called after each write with its size.
// `rates` (see splice_limits): waited on before each read, charged after
// each write; the time slept is added to each bucket's throttled(). No byte is
// copied twice for it: the read is only made smaller.
// `stop` (optional): its stop() ends such a sleep at once (errc::stream_reset);
// it must outlive the copy.
awaitable<result<void>> copy_stream(byte_stream& from, byte_stream& to, std::uint64_t& copied,
                                    std::uint64_t max_bytes = 0,
                                    std::size_t max_buffer = default_max_copy_buffer,
                                    const std::function<void(std::size_t)>* on_copied = nullptr,
                                    std::span<const std::shared_ptr<rate_limiter>> rates = {},
                                    copy_stop* stop = nullptr);

// 1. copy a->b and b->a concurrently (two copy_stream joined with &&)
// 2. EOF on one side becomes close_write on the other (half-close)
// 3. an error, a data limit or the duration limit resets both streams, which
//    also ends the other direction's pending read, and stops its sleep on a
//    rate limit (copy_stop)
// Contract: runs on the streams' executor; both streams must outlive it.
awaitable<splice_result> splice(byte_stream& a, byte_stream& b, splice_limits limits = {});

}  // namespace peerup::net
