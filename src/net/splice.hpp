// Copies bytes both ways between two byte streams until both directions end:
// the relay's circuit bridge and the service proxy both use it.
#pragma once

#include <cstdint>

#include "net/byte_stream.hpp"

namespace peerup::net {

struct splice_limits {
  std::uint64_t max_bytes_per_direction = 0;  // 0: unlimited
  steady_clock::duration max_duration{};      // zero: unlimited
  std::size_t buffer_size = 32 * 1024;        // per direction
};

struct splice_result {
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
  error_code error;  // first failure; empty when both sides ended cleanly
};

// 1. copy a->b and b->a concurrently (two coroutines joined with &&), each
//    with one fixed buffer: a writer that cannot keep up stalls its reader,
//    so nothing buffers without bound (backpressure)
// 2. EOF on one side becomes close_write on the other (half-close)
// 3. an error, a data limit or the duration limit resets both streams
// Contract: runs on the streams' executor; both streams must outlive it.
awaitable<splice_result> splice(byte_stream& a, byte_stream& b, splice_limits limits = {});

}  // namespace peerup::net
