// libp2p perf (/perf/1.0.0, libp2p/specs perf/perf.md): the client sends the
// number of bytes it wants back as a u64 big-endian, uploads its bytes, closes
// its write side, then reads the requested bytes until the server closes.
#pragma once

#include "net/host.hpp"

namespace peerup::protocols {

inline const protocol_id perf_protocol{"/perf/1.0.0"};

struct perf_result {
  std::uint64_t uploaded = 0;
  std::uint64_t downloaded = 0;
  std::chrono::duration<double> upload_time{};    // first byte sent to write side closed
  std::chrono::duration<double> download_time{};  // write side closed to last byte read
  std::chrono::duration<double> total_time{};
};

void install_perf(net::host& h);

// Runs one perf exchange over a negotiated /perf/1.0.0 stream.
// Contract: the caller owns `s` and bounds the duration.
net::awaitable<result<perf_result>> run_perf(net::byte_stream& s, std::uint64_t upload_bytes,
                                             std::uint64_t download_bytes);

}  // namespace peerup::protocols
