#include "net/byte_stream.hpp"

namespace peerup::net {

awaitable<result<void>> byte_stream::write_parts(std::span<const byte_span> parts) {
  for (byte_span part : parts) {
    if (part.empty()) continue;
    if (auto r = co_await write(part); !r) co_return r;
  }
  co_return result<void>{};
}

awaitable<result<void>> read_exact(byte_stream& s, mutable_byte_span buf) {
  while (!buf.empty()) {
    auto n = co_await s.read_some(buf);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(errc::connection_closed);
    buf = buf.subspan(*n);
  }
  co_return result<void>{};
}

awaitable<result<bytes>> read_to_end(byte_stream& s, std::size_t limit) {
  bytes out;
  std::uint8_t chunk[16384];
  for (;;) {
    auto n = co_await s.read_some(chunk);
    if (!n) co_return n.error();
    if (*n == 0) co_return out;
    // SECURITY: the caller's limit bounds what a peer can make us buffer.
    if (out.size() + *n > limit) co_return make_error_code(errc::too_large);
    out.insert(out.end(), chunk, chunk + *n);
  }
}

}  // namespace peerup::net
