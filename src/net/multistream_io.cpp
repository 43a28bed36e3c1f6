#include "net/multistream_io.hpp"

#include "multiformats/varint.hpp"
#include "wire/multistream.hpp"

namespace peerup::net {

namespace {

// Reads one length-prefixed multistream message, byte-exact, so nothing that
// follows it is consumed. Returns the raw bytes including the varint prefix.
awaitable<result<bytes>> read_message(byte_stream& s) {
  bytes raw;
  for (;;) {
    std::uint8_t b;
    if (auto r = co_await read_exact(s, {&b, 1}); !r) co_return r.error();
    raw.push_back(b);
    auto len = varint::decode(raw);
    if (len) {
      // SECURITY: bound the message before allocating for it.
      if (len->value > multistream::max_message)
        co_return make_error_code(errc::multistream_message);
      raw.resize(raw.size() + len->value);
      if (auto r = co_await read_exact(s, {raw.data() + len->length, len->value}); !r)
        co_return r.error();
      co_return raw;
    }
    if (len.error() != errc::truncated) co_return make_error_code(errc::multistream_message);
  }
}

template <class Machine>
awaitable<result<std::string>> drive(byte_stream& s, Machine& m,
                                     const std::function<awaitable<bool>(std::string)>* decide =
                                         nullptr) {
  // Bounded: the state machines fail after a fixed number of proposals.
  for (;;) {
    if (auto out = m.take_output(); !out.empty()) {
      if (auto r = co_await s.write(out); !r) co_return r.error();
    }
    if (m.done()) co_return m.selected();
    auto msg = co_await read_message(s);
    if (!msg) co_return msg.error();
    auto consumed = m.on_bytes(*msg);
    if (!consumed) co_return consumed.error();
    if constexpr (requires { m.pending(); }) {
      if (m.pending()) {
        if (!decide || !*decide) co_return make_error_code(errc::protocol_not_supported);
        auto deciding = (*decide)(*m.pending());
        const bool accept = co_await std::move(deciding);
        if (auto r = m.decide(accept); !r) co_return r.error();
      }
    }
  }
}

}  // namespace

awaitable<result<std::string>> negotiate_outbound(byte_stream& s,
                                                  const std::vector<std::string>& protocols) {
  multistream::dialer d(protocols);
  co_return co_await drive(s, d);
}

awaitable<result<std::string>> finish_optimistic_outbound(byte_stream& s, multistream::dialer& d) {
  // Output still pending means the proposal was never sent with the caller's data.
  if (!d.take_output().empty()) co_return make_error_code(errc::protocol_not_supported);
  auto selected = co_await drive(s, d);
  if (!selected) co_return selected.error();
  co_return selected;
}

awaitable<result<std::string>> negotiate_inbound(
    byte_stream& s, std::function<bool(std::string_view)> is_supported) {
  multistream::listener l(std::move(is_supported));
  co_return co_await drive(s, l);
}

awaitable<result<std::string>> negotiate_inbound(
    byte_stream& s, std::function<bool(std::string_view)> is_supported,
    std::function<bool(std::string_view)> is_deferred,
    std::function<awaitable<bool>(std::string)> decide) {
  multistream::listener l(std::move(is_supported), std::move(is_deferred));
  co_return co_await drive(s, l, &decide);
}

}  // namespace peerup::net
