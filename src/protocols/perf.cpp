#include "protocols/perf.hpp"

#include <algorithm>
#include <vector>

namespace peerup::protocols {

namespace {
constexpr std::size_t block_size = 256 * 1024;

net::awaitable<result<void>> send_zeros(net::byte_stream& s, std::uint64_t n) {
  static const std::vector<std::uint8_t> block(block_size, 0);
  while (n > 0) {
    const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n, block.size()));
    if (auto w = co_await s.write({block.data(), chunk}); !w) co_return w;
    n -= chunk;
  }
  co_return result<void>{};
}

net::awaitable<result<std::uint64_t>> drain(net::byte_stream& s) {
  std::vector<std::uint8_t> buf(block_size);
  std::uint64_t total = 0;
  for (;;) {
    auto n = co_await s.read_some(buf);
    if (!n) co_return n.error();
    if (*n == 0) co_return total;
    total += *n;
  }
}

net::awaitable<void> serve_perf(net::stream_ptr s, net::stream_context) {
  std::uint8_t header[8];
  if (!co_await net::read_exact(*s, header)) co_return s->reset();
  std::uint64_t to_send = 0;
  for (auto b : header) to_send = (to_send << 8) | b;
  // The requested size is the client's own cost: it has to read it all, and
  // our writes wait on its flow-control window, so no bound beyond u64.
  if (!co_await drain(*s)) co_return s->reset();
  if (!co_await send_zeros(*s, to_send)) co_return s->reset();
  (void)co_await s->close_write();
}
}  // namespace

void install_perf(net::host& h) { h.set_handler(perf_protocol, serve_perf); }

net::awaitable<result<perf_result>> run_perf(net::byte_stream& s, std::uint64_t upload_bytes,
                                             std::uint64_t download_bytes) {
  perf_result res;
  const auto start = net::steady_clock::now();
  std::uint8_t header[8];
  for (int i = 0; i < 8; ++i) header[i] = static_cast<std::uint8_t>(download_bytes >> (56 - 8 * i));
  if (auto w = co_await s.write(header); !w) co_return w.error();
  if (auto w = co_await send_zeros(s, upload_bytes); !w) co_return w.error();
  if (auto w = co_await s.close_write(); !w) co_return w.error();
  const auto uploaded = net::steady_clock::now();
  auto got = co_await drain(s);
  if (!got) co_return got.error();
  if (*got != download_bytes) co_return make_error_code(errc::perf_protocol);
  const auto end = net::steady_clock::now();
  res.uploaded = upload_bytes;
  res.downloaded = *got;
  res.upload_time = uploaded - start;
  res.download_time = end - uploaded;
  res.total_time = end - start;
  co_return res;
}

}  // namespace peerup::protocols
