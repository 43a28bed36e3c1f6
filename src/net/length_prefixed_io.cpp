#include "net/length_prefixed_io.hpp"

#include "multiformats/varint.hpp"
#include "wire/length_prefixed.hpp"

namespace peerup::net {

awaitable<result<bytes>> read_length_prefixed(byte_stream& s, std::size_t max_size) {
  std::uint8_t header[varint::max_length];
  std::size_t have = 0;
  for (;;) {
    if (auto r = co_await read_exact(s, {header + have, 1}); !r) co_return r.error();
    ++have;
    auto len = varint::decode({header, have});
    if (len) {
      if (len->value > max_size) co_return make_error_code(errc::too_large);
      bytes msg(static_cast<std::size_t>(len->value));
      if (auto r = co_await read_exact(s, msg); !r) co_return r.error();
      co_return msg;
    }
    if (len.error() != errc::truncated) co_return len.error();
  }
}

awaitable<result<void>> write_length_prefixed(byte_stream& s, byte_span msg) {
  const bytes framed = wire::frame_length_prefixed(msg);
  co_return co_await s.write(framed);
}

}  // namespace peerup::net

namespace peerup::net {

awaitable<result<bytes>> exchange_length_prefixed(byte_stream& s, bytes request,
                                                  std::size_t max_answer) {
  if (auto w = co_await write_length_prefixed(s, request); !w) co_return w.error();
  (void)co_await s.close_write();
  co_return co_await read_length_prefixed(s, max_answer);
}

}  // namespace peerup::net
